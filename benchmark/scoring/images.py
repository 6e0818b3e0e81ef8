"""`bench score --dataset D --images DIR --label NAME`: a leaderboard row from images made outside bench.

The folder holds one image per test image of the dataset, named by its stem
(``<stem>.png``, ``.jpg``, ...). Everything is checked before a run folder exists: each
evaluated test stem has exactly one readable image, no file names a stem the test split
lacks, and every image is at the evaluation side (``image_size``: the profile's, or
``--image-size``), unless ``resize`` is set: then other sizes are resized with PIL bicubic
to a square of that side, as the real test photos are, and the row's record says so.

The row is then evaluated by the code and under the protocol of a trained row: the
images go through :func:`benchmark.pipeline.evaluate.generate_images` (as the outputs of a
"model" that returns them) into the row's own run folder (``images/{fake,real,label,
label_ids}``), the real splits come from the same cache, and the same metrics with the
same options, segmenter, seed and real split measure them
(:func:`benchmark.pipeline.evaluate.compute_metrics`). The record's protocol equals a trained
row's, so the row ranks with them; its ``input_kind`` ("images") and ``note`` say the
images came from outside bench.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from benchmark.api import Size, Trainable
from benchmark.data.dataset import Dataset, read_image
from benchmark.data.split import stems_of
from benchmark.data.transforms import PairDataset
from benchmark.pipeline.evaluate import compute_metrics, generate_images
from benchmark.pipeline.execute import Execution
from benchmark.registry import plugins as registry
from benchmark.registry.zoo import measured_at, published_note, published_numbers  # noqa: F401  (published_numbers: part of this module's API)
from benchmark.results.records import (
    REFERENCE_LABEL,
    RunRecord,
    record_to_dict,
    utc_now,
)
from benchmark.planning.config import (
    Layers,
    check_plugin_tables,
    merge,
    overlay_run,
    row_label,
    validate_options,
)
from benchmark.planning.device import configure_backends, resolve_device, resolve_precision
from benchmark.planning.plan import (
    RunPlan,
    resolve_metrics,
    resolve_segmenter,
    size_in,
    versions,
)
from benchmark.rundir.layout import RunDir
from benchmark.rundir.lock import RunLock
from benchmark.util.errors import BenchError, ConfigError, DataError
from benchmark.util.imageio import from_uint8
from benchmark.util.progress import Reporter

#: the files a folder of images may hold (as clean-fid reads them)
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"})
#: ``RunRecord.model`` and ``input_kind`` of a row scored from a folder of images
SCORED_MODEL = "images"
SCORED_INPUT = "images"
#: ``plan.json``'s ``kind`` in the run folder of a scored row
SCORED_KIND = "scored images"
RESIZE_NOTE = "PIL bicubic to the evaluation size (image_size high, aspect_ratio times as wide), as the real photos"


def image_files(folder: Path, option: str = "--images") -> dict[str, Path]:
    """{stem: file} of the images directly in ``folder``; one clear line if it is not a folder of
    images or two files share a stem."""
    folder = Path(folder)
    what = "real images" if option == "--real" else "generated images"
    if not folder.exists():
        raise DataError(f"{option} {folder}: no such folder; pass the folder of {what}")
    if not folder.is_dir():
        raise DataError(f"{option} {folder}: a file, not a folder; pass the folder of {what}")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        if path.stem in found:
            raise DataError(f"{option} {folder}: two files for the stem {path.stem!r} ({found[path.stem].name}, "
                            f"{path.name}) are ambiguous; keep one image per test stem")
        found[path.stem] = path
    if not found:
        hint = ("pass the folder that holds one image per test image, named by its stem" if option == "--images"
                else f"pass the folder of {what}")
        raise DataError(f"{option} {folder}: no images ({', '.join(sorted(s[1:] for s in IMAGE_SUFFIXES))}); {hint}")
    return found


def check_readable(files: dict[str, Path], option: str) -> None:
    """Decode every image of a folder before any metric runs: a corrupt or non-8-bit file is one
    line naming the option (``--real``, ``--fake``) and the file."""
    for path in files.values():
        try:
            read_image(path, "RGB")
        except DataError as exc:
            raise DataError(f"{option} {exc}") from None


def _some(items: list[str], n: int = 3) -> str:
    shown = ", ".join(items[:n])
    return shown + (f", ... ({len(items)} in all)" if len(items) > n else "")


def match_stems(files: dict[str, Path], wanted: list[str], known: list[str], folder: Path, dataset: str) -> None:
    """Every wanted stem has a file and no file names a stem the test split lacks; else one line."""
    missing = [s for s in wanted if s not in files]
    if missing:
        raise DataError(f"--images {folder}: {len(missing)} of the {len(wanted)} test images of {dataset} have no "
                        f"image (stems {_some(missing)}); generate one <stem>.png per test image "
                        f"({len(files)} found)")
    known_set = set(known)
    extra = sorted(s for s in files if s not in known_set)
    if extra:
        raise DataError(f"--images {folder}: {len(extra)} file(s) match no test image of {dataset} "
                        f"({_some([files[s].name for s in extra])}); name each image by its test stem, "
                        f"e.g. {known[0]}.png, and remove the others")


def read_images(files: dict[str, Path], stems: list[str], size: Size, resize: bool) -> tuple[dict, dict[str, int]]:
    """{stem: uint8 (height, width, 3)} and {"WxH": count} of the sizes that were resized."""
    out, resized = {}, {}
    for stem in stems:
        path = files[stem]
        array = read_image(path, "RGB")  # a corrupt file is one line naming it
        h, w = array.shape[:2]
        if (h, w) != tuple(size):
            if not resize:
                raise DataError(f"{path}: {w}x{h} pixels, but this protocol evaluates at {size.text()}; "
                                f"pass --image-size {h}{'' if w == h else f' --set aspect_ratio={w / h:g}'} if that is the "
                                f"resolution to compare at (with rows "
                                f"trained at it), or --resize to resize bicubic to {size.text()} as the real "
                                f"photos are (recorded in the row)")
            array = np.array(Image.fromarray(array).resize((size.width, size.height), Image.BICUBIC))
            resized[f"{w}x{h}"] = resized.get(f"{w}x{h}", 0) + 1
        out[stem] = np.ascontiguousarray(array)
    return out, resized


class FolderImages(Trainable):
    """The "model" of a scored row: it returns the given image of each test stem, so that the
    images are written and measured by the same code as a trained model's."""

    def __init__(self, images: dict[str, np.ndarray]):
        super().__init__()
        self.images = images
        self.stems: list[str] = []

    def before_generation(self, split) -> None:
        self.stems = list(split.stems)

    @torch.no_grad()
    def generate(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        picked = [from_uint8(self.images[self.stems[int(i)]]) for i in batch["index"]]
        return torch.stack(picked).to(batch["label"].device)


def score_plan(layers: Layers, plugins: registry.Plugins | None = None) -> RunPlan:
    """A plan without model rows: the dataset, metrics, segmenter, device and precision that a
    `bench run` with the same layers would use, validated the same way."""
    plugins = plugins or registry.default()
    cfg = layers.run_config()
    spec: Dataset = plugins.datasets.get(cfg.dataset)
    known = set(plugins.metrics.names()) | set(plugins.datasets.names()) | set(plugins.segmenters.names())
    known |= set(plugins.models.names()) | {row_label(e.obj, p) for e in plugins.models for p in e.obj.presets}
    check_plugin_tables(layers, known)  # a model's table is allowed (a config file shared with `bench run`)
    dataset_options = validate_options(spec.Options, layers.plugins.get(spec.name, {}), spec.name)
    metrics = resolve_metrics(cfg.eval.metrics, layers, plugins.metrics)
    segmenter = resolve_segmenter(cfg, spec, metrics, layers, plugins)
    device = resolve_device(cfg.device)
    return RunPlan(cfg, spec, dataset_options, (), metrics, segmenter, device, resolve_precision(cfg.precision, device))


def check_label(label: str | None, plugins: registry.Plugins) -> str:
    label = (label or "").strip()
    if not label:
        raise ConfigError("--label: name the row, e.g. --label \"my-method\"")
    rows = {row_label(e.obj, p) for e in plugins.models for p in e.obj.presets}
    if label in rows or label == REFERENCE_LABEL:
        raise ConfigError(f"--label {label!r}: is the name of a {'bench model row' if label in rows else 'reference row'}"
                          f"; choose another name for the scored images, e.g. --label \"{label} (images)\"")
    return label


@dataclass(frozen=True)
class ScoreRequest:
    images: Path
    label: str
    resize: bool = False
    #: the paper's numbers when the label names a published checkpoint (``MODEL@TAG``) of this dataset
    published: dict | None = None


def score_images(plan: RunPlan, request: ScoreRequest, reporter: Reporter) -> RunRecord:
    """Evaluate the folder as a leaderboard row under the plan's protocol; store and return its record."""
    cfg, spec = plan.config, plan.dataset
    folder = Path(request.images)
    files = image_files(folder)  # before the dataset loads: the cheap checks first
    bench = Execution(plan, reporter)
    configure_backends(plan.device, cfg.threads)
    data = bench.load_dataset()
    samples = bench.test_samples(data)
    size = size_in(cfg, spec)
    match_stems(files, stems_of(samples), stems_of(data.test), folder, spec.name)
    images, resized = read_images(files, stems_of(samples), size, request.resize)
    run = RunDir.create(cfg.output_root, spec.name, request.label)
    with RunLock(run):
        record = _measure(plan, bench, run, request, images, resized, samples, data, size)
    if cfg.eval.reference_row and plan.needs_real_train():
        bench.measure.reference_row(data.train, samples, size)
    return record


def _measure(plan: RunPlan, bench: Execution, run: RunDir, request: ScoreRequest, images: dict,
             resized: dict[str, int], samples, data, size: Size) -> RunRecord:
    cfg, spec, reporter = plan.config, plan.dataset, bench.reporter
    published = measured_at(request.published, size)
    conf: dict[str, Any] = {
        "kind": SCORED_KIND, "label": request.label, "dataset": spec.name, "images_dir": str(request.images),
        "run": cfg.model_dump(mode="json"), "image_size": size.height, "resolution": size.text(),
        "dataset_options": plan.dataset_options.model_dump(mode="json"),
        "resized": {"from": resized, "method": RESIZE_NOTE} if resized else None, "published": published,
        "images_sha256": images_digest(images),
        **plan.evaluation(), "device": str(plan.device), "precision": plan.precision, "versions": versions()}
    run.write_plan(conf)
    run.write_status("running")
    reporter.log(f"[bold]{request.label}[/] ({len(images)} images from {request.images}) on {spec.name} -> {run.root}")
    t0 = time.perf_counter()
    try:
        metrics = _evaluate(plan, bench, run, images, samples, data, size, request.label)
    except KeyboardInterrupt:
        run.write_status("interrupted", reason="stopped by Ctrl-C; run the same `bench score` again")
        raise
    except BaseException:
        run.write_status("failed", reason="stopped by an error")
        raise
    note = "images from outside bench"
    if resized:
        note += " resized from " + ", ".join(resized)
    if published is not None:
        note += f"; {published_note(published)}"
    record = RunRecord(
        label=request.label, model=SCORED_MODEL, preset="-", dataset=spec.name, profile=cfg.profile,
        seed=cfg.seed, options={"images_dir": str(request.images), "resize": request.resize}, config=conf,
        protocol=bench.measure.protocol(size, len(samples)), versions=versions(), device=str(plan.device),
        wall_time_s=round(time.perf_counter() - t0, 2), status="ok", reason=None, run_dir=str(run.root),
        input_kind=SCORED_INPUT, note=note, metrics=metrics, created=utc_now())
    final = {"status": "ok", "reason": None, "images_dir": str(request.images)}
    bench.store.keep_unmeasured(record, same=lambda old: old.config.get("images_sha256") == conf["images_sha256"])
    run.write_record(record_to_dict(record), final)  # first in the folder, then the store, then the status
    record.id = bench.store.put_run(record)
    run.write_status(**final)
    return record


def images_digest(images: dict[str, np.ndarray]) -> str:
    """One sha256 over the scored images (stems and pixels, in stem order): a row scored again from
    the same images keeps the metrics it does not measure again."""
    digest = hashlib.sha256()
    for stem in sorted(images):
        digest.update(stem.encode() + b"\0" + str(images[stem].shape).encode() + np.ascontiguousarray(images[stem]).tobytes())
    return digest.hexdigest()


def _evaluate(plan: RunPlan, bench: Execution, run: RunDir, images: dict, samples, data, size: Size, label: str):
    """Write the images as a model's into the run folder and measure them as a trained row's."""
    spec, cfg = plan.dataset, plan.config
    generate_images(FolderImages(images), PairDataset(samples, size), run.images, device=plan.device, dtype=None,
                    num_classes=spec.num_classes, ignore_index=spec.ignore_index, palette=spec.palette,
                    batch_size=cfg.eval.batch_size, reporter=bench.reporter, label=label,
                    reading=bench.measure.reading)
    train = bench.measure.real_split(data.train, "train", size) if plan.needs_real_train() else None
    ctx = bench.measure.context(run.images, run, train, size, cfg.seed,
                                native_labels=bench.measure.native_labels(samples))
    return compute_metrics(plan.metrics, ctx, bench.reporter)


def is_scored(run: RunDir) -> bool:
    try:
        return run.read_plan().get("kind") == SCORED_KIND
    except BenchError:
        return False


def measure_again(run: RunDir, layers: Layers, reporter: Reporter, plugins=None) -> RunRecord:
    """`bench evaluate` of a scored row: its images (kept in the run folder at the evaluation side)
    measured again under the stored settings with the user's ``--set`` on top; the metrics measured
    now replace the same metrics of its stored record."""
    stored = run.read_plan()
    label, dataset = stored["label"], stored["dataset"]
    tables: dict[str, dict] = {dataset: stored.get("dataset_options", {}), **stored.get("metrics", {})}
    if stored.get("segmenter"):
        tables[stored["segmenter"]["name"]] = stored["segmenter"].get("options", {})
    for key, table in layers.plugins.items():
        tables[key] = merge(tables.get(key, {}), table)
    run_keys = overlay_run(stored["run"], layers.run)
    run_keys.update(dataset=dataset, models=[label])
    plan = score_plan(Layers(str(run_keys.get("profile", "quick")), run_keys, tables), plugins)
    bench = Execution(plan, reporter)
    data = bench.load_dataset()
    samples = bench.test_samples(data)
    files = image_files(run.images.fake, "the run folder's images/fake")
    match_stems(files, stems_of(samples), stems_of(data.test), run.images.fake, dataset)
    size = Size.of(stored.get("resolution", stored["image_size"]))
    images, _ = read_images(files, stems_of(samples), size, resize=False)
    metrics = _evaluate(plan, bench, run, images, samples, data, size, label)
    existing = bench.store.find_by_run_dir(str(run.root))
    if existing is None or existing.id is None:
        raise BenchError(f"{run.root}: its row is not in the results store {bench.store.path}; score the images "
                         f"again with `bench score --dataset {dataset} --images DIR --label \"{label}\"`")
    existing.metrics = bench.store.merge_metrics(existing.id, metrics)
    return existing
