"""Evaluation: generate the whole test split to PNG, then run the metric plugins over the folders.

The images go to the run folder's :class:`benchmark.rundir.ImageSet` (generated,
real, coloured label maps and class ids, one PNG per test image with the same
stem in each).
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import torch

from benchmark.api import EvalContext, Metric, StepContext, Trainable
from benchmark.atomic import write_text
from benchmark.errors import BenchError
from benchmark.imageio import colorize, to_uint8, write_classes, write_png
from benchmark.progress import Reporter
from benchmark.rundir import ImageSet
from benchmark.records import MetricValue
from benchmark.transforms import PairDataset, model_batch

REAL_VS_ITSELF = "not applicable: the real images against themselves"


@torch.no_grad()
def generate_images(model: Trainable, test_set: PairDataset, out: ImageSet, *, device: torch.device,
                    dtype: torch.dtype | None, num_classes: int, ignore_index: int | None, palette,
                    batch_size: int, reporter: Reporter, label: str = "") -> int:
    """Generate every test image; returns how many were written. Images of an earlier
    evaluation that this one does not cover (a smaller ``eval.max_images``) are removed, so
    that the metrics read exactly this split."""
    keep = {f"{stem}.png" for stem in test_set.stems}
    for folder in out.folders():
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            if old.name not in keep:
                old.unlink()
    model.eval()
    model.before_generation(test_set)
    n = len(test_set)
    write_classes(out.root, {stem: list(ids) for stem, ids in zip(test_set.stems, test_set.classes)})
    reporter.start(f"generate {label}".strip(), n)
    try:
        for start in range(0, n, batch_size):
            items = [test_set[i] for i in range(start, min(n, start + batch_size))]
            batch = model_batch(items, device, num_classes, ignore_index)
            with StepContext(device=device, dtype=dtype).autocast():
                fake = model.generate(batch)
            for j, (f, r) in enumerate(zip(to_uint8(fake), to_uint8(batch["image"]))):
                stem = test_set.stems[start + j]
                ids = batch["label"][j].to(torch.uint8).cpu().numpy()
                write_png(out.fake / f"{stem}.png", f)
                write_png(out.real / f"{stem}.png", r)
                write_png(out.label_ids / f"{stem}.png", ids)
                write_png(out.label / f"{stem}.png", colorize(ids, palette, ignore_index))
            reporter.update(start + len(items))
    finally:
        reporter.stop()
    return n


def write_real_split(test_set: PairDataset, out: ImageSet, *, reporter: Reporter, label: str) -> ImageSet:
    """The real photos, class ids and image-level classes of a split at the evaluation resolution.

    Written once into ``out`` (its real photos, class ids and classes file) and reused while
    the marker file says it is complete.
    """
    done = out.complete_marker
    if done.is_file():
        return out
    n = len(test_set)
    reporter.start(label, n)
    try:
        for i in range(n):
            item = test_set[i]
            stem = test_set.stems[i]
            write_png(out.real / f"{stem}.png", to_uint8(item["image"]))
            write_png(out.label_ids / f"{stem}.png", item["label"].to(torch.uint8).numpy())
            reporter.update(i + 1)
    finally:
        reporter.stop()
    write_classes(out.root, {stem: list(ids) for stem, ids in zip(test_set.stems, test_set.classes)})
    write_text(done, f"{n}\n")
    return out


def write_native_labels(samples: list, folder: Path) -> Path:
    """The samples' label maps as they are (the dataset's resolution), written once into ``folder``."""
    done = folder / "COMPLETE"
    if not done.is_file():
        for sample in samples:
            write_png(folder / f"{sample.stem}.png", sample.label)
        write_text(done, f"{len(samples)}\n")
    return folder


def compute_metrics(metrics: list[tuple[Metric, Any]], ctx: EvalContext,
                    reporter: Reporter) -> dict[str, MetricValue]:
    """Run each metric; a metric that cannot run leaves its cells empty with the reason."""
    values: dict[str, MetricValue] = {}
    for metric, options in metrics:
        if ctx.reference and metric.kind == "paired":
            for column, direction in metric.columns.items():
                values[column] = MetricValue(None, direction, {"metric": metric.name}, REAL_VS_ITSELF)
            continue
        try:
            result = metric.compute(ctx, options)
        except BenchError as exc:
            result = None
            reason = str(exc)
        except Exception as exc:  # a broken metric must not lose the run's other numbers
            result = None
            reason = f"{metric.name} failed: {type(exc).__name__}: {exc}"
            (ctx.cache_dir / f"{metric.name}-error.log").write_text(traceback.format_exc())
        for column, direction in metric.columns.items():
            if result is None:
                values[column] = MetricValue(None, direction, {"metric": metric.name}, reason)
                continue
            values[column] = MetricValue(result.values.get(column), direction,
                                         {"metric": metric.name, **result.protocol},
                                         result.notes.get(column, ""), _interval(result, column))
        if result is not None:
            shown = ", ".join(f"{k}={v:.4g}" for k, v in result.values.items() if v is not None)
            missing = "; ".join(dict.fromkeys(result.notes.values()))
            reporter.log(f"  {metric.name}: {shown or 'not computed'}{f' ({missing})' if missing else ''}")
        else:
            reporter.log(f"  {metric.name}: not computed ({reason})")
    return values


def _interval(result, column: str) -> list[float] | None:
    """The 95% bootstrap interval of a per-image mean, when the metric gave its per-image values."""
    from benchmark.bootstrap import bootstrap_ci

    values = result.per_image.get(column)
    found = bootstrap_ci(values) if values else None
    return None if found is None else list(found)
