"""What evaluation needs around the metrics: the real splits at the evaluation resolution
(cached), the typed :class:`EvalContext`, the "real images" reference row and the records."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, Sequence

from benchmark.api.context import EvalContext
from benchmark.api import Size
from benchmark.data.dataset import Sample
from benchmark.data.loading import Reading, resolve_num_workers
from benchmark.data.split import stems_of
from benchmark.data.transforms import PairDataset
from benchmark.parallel import sharded as distributed_eval
from benchmark.parallel import workers as distributed
from benchmark.pipeline.samples import REFERENCE as REFERENCE_SAMPLES, Samples
from benchmark.pipeline.evaluate import (
    compute_metrics,
    write_native_labels,
    write_real_split,
)
from benchmark.results.records import REFERENCE_LABEL, REFERENCE_MODEL, RunRecord
from benchmark.results.store import ResultsStore
from benchmark.planning.config import Row
from benchmark.planning.foreign import TRUNCATED, quantization_of, row_note
from benchmark.planning.plan import RunPlan, versions
from benchmark.rundir.layout import ImageSet, RunDir, slug
from benchmark.util.imageio import ROUND
from benchmark.util.progress import Reporter

TEST_RESIZE = "photos bicubic, labels nearest, to a square of image_size"
#: the same for a run at another aspect ratio than 1 (the protocol's resolution says WxH)
TEST_RESIZE_ASPECT = "photos bicubic, labels nearest, to image_size high and image_size * aspect_ratio wide"


def reference_count(setting: int | str, train: int, test: int) -> int:
    """How many training photos (the first ones) the reference row's distribution metrics use:
    ``eval.reference_images`` of ``all``, ``test`` (the test split's count) or N, at most ``train``."""
    wanted = train if setting == "all" else test if setting == "test" else int(setting)
    return min(wanted, train)


def quantization_protocol(row: Row) -> dict[str, str]:
    """The run protocol's record of how the row's images became 8-bit: nothing for bench's rounding (so
    rounded rows keep the protocol they always had), ``quantization`` for a zoo row's truncation."""
    return {} if quantization_of(row) == ROUND else {"quantization": TRUNCATED}


class Measure:
    def __init__(self, plan: RunPlan, reporter: Reporter, store: ResultsStore):
        self.plan = plan
        self.reporter = reporter
        self.store = store
        #: how the evaluation reads the splits (loader workers, --skip-bad) and the files it skipped
        self.reading = Reading(resolve_num_workers(plan.config.num_workers, plan.device.type), plan.config.skip_bad)

    @property
    def skipped(self) -> int:
        """Bad files left out of evaluation so far (--skip-bad)."""
        return len(self.reading.skipped)

    @property
    def cache_dir(self) -> Path:
        return self.plan.config.output_root / "cache"

    def real_split(self, samples: Sequence[Sample], split: str, size: Size | int) -> ImageSet:
        """A real split at the evaluation resolution, written once per dataset config, size and count."""
        size = Size.of(size)
        spec = self.plan.dataset
        key = json.dumps({"dataset": spec.name, "options": self.plan.dataset_options.model_dump(mode="json"),
                          "size": size.height if size.square else list(size), "count": len(samples)},
                         sort_keys=True)
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        shown = f"{size.height}px" if size.square else size.text()
        images = ImageSet(self.cache_dir / "real" / f"{slug(spec.name)}-{shown}-{digest}" / split)
        write_real_split(PairDataset(samples, size), images, reporter=self.reporter,
                         label=f"write real {spec.name} {split} split", reading=self.reading,
                         batch_size=self.plan.config.eval.batch_size)
        return images

    def native_labels(self, samples: Sequence[Sample]) -> Path:
        """The test label maps at the dataset's own resolution, written once per dataset config and stems."""
        spec = self.plan.dataset
        key = json.dumps({"dataset": spec.name, "options": self.plan.dataset_options.model_dump(mode="json"),
                          "stems": stems_of(samples)}, sort_keys=True)
        folder = self.cache_dir / "native-labels" / f"{slug(spec.name)}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
        return write_native_labels(samples, folder, self.reading)

    def context(self, images: ImageSet, run: RunDir | None, train: ImageSet | None, size: Size | int, seed: int,
                reference: bool = False, parallel: bool = False, native_labels: Path | None = None,
                samples: Samples | None = None, reference_images: ImageSet | None = None) -> EvalContext:
        """The context of one evaluation; ``samples``: the row's images per label map (none by default);
        ``reference_images``: the training photos the reference row's distribution metrics compare
        against (default: all of ``train``)."""
        size = Size.of(size)
        samples = REFERENCE_SAMPLES if reference else samples or Samples()
        plan, spec = self.plan, self.plan.dataset
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        return EvalContext(
            fake_dir=images.real if reference else images.fake,  # the reference row measures the real photos
            real_dir=images.real, label_dir=images.label_ids, class_names=list(spec.class_names),
            ignore_index=spec.ignore_index, device=plan.device, cache_dir=self.cache_dir,
            batch_size=plan.config.eval.batch_size, train_images=train, reference=reference, image_size=size.height,
            image_width=size.width,
            seed=seed, run=run, dataset=spec.name, palette=spec.palette, real_split=plan.config.eval.real_split,
            profile=plan.config.profile, segmenter=plan.segmenter, progress=self.reporter, parallel=parallel,
            native_label_dir=native_labels, reference_images=reference_images, **samples.context(images))

    def reference_row(self, train: Sequence[Sample], test: Sequence[Sample], size: Size | int | str) -> RunRecord | None:
        """The "real images" row: the real test photos measured as if they were generated (``size``:
        a :class:`Size`, a side, or a protocol's resolution). Under data parallelism every worker
        measures along; the others return None."""
        size = Size.of(size)
        plan, cfg, name = self.plan, self.plan.config, self.plan.dataset.name
        with distributed_eval.main_first():  # rank 0 writes the cached splits, other workers read them
            test_images = self.real_split(test, "test", size)
            train_images = self.real_split(train, "train", size)
            count = reference_count(cfg.eval.reference_images, len(train), len(test))
            against = train_images if count == len(train) else self.real_split(train[:count], "train", size)
            native = self.native_labels(test)
        if distributed.is_follower():  # measure along with rank 0, which records
            ctx = self.context(test_images, None, train_images, size, cfg.seed, reference=True, parallel=True,
                               native_labels=native, reference_images=against)
            compute_metrics(plan.metrics, ctx, self.reporter)
            return None
        run = RunDir.create(cfg.output_root, name, REFERENCE_MODEL)
        conf = {"dataset": name, "label": REFERENCE_LABEL, "model": REFERENCE_MODEL,
                "run": cfg.model_dump(mode="json"), "image_size": size.height,
                "resolution": size.text(), "real_test_dir": str(test_images.root),
                "dataset_options": plan.dataset_options.model_dump(mode="json"), **plan.evaluation(),
                "versions": versions()}
        run.write_plan(conf)
        self.reporter.log(f"[bold]{REFERENCE_LABEL}[/] on {name} at {size.text()} px (reference row)")
        t0 = time.perf_counter()
        ctx = self.context(test_images, run, train_images, size, cfg.seed, reference=True,
                           parallel=distributed.current() is not None, native_labels=native,
                           reference_images=against)
        metrics = compute_metrics(plan.metrics, ctx, self.reporter)
        run.write_status("ok")
        record = RunRecord(
            label=REFERENCE_LABEL, model=REFERENCE_MODEL, preset="reference", dataset=name,
            profile=cfg.profile, seed=cfg.seed, options={}, config=conf,
            protocol=self.protocol(size, len(test)), versions=versions(), device=str(plan.device),
            wall_time_s=round(time.perf_counter() - t0, 2), status="ok", reason=None, run_dir=str(run.root),
            input_kind="-", note="reference", metrics=metrics)
        record.id = self.store.add_run(self.store.keep_unmeasured(record))
        return record

    def protocol(self, size: Size | int, images: int) -> dict[str, Any]:
        """The run's protocol; a square run's resolution is its side (as before non-square runs),
        another's ``WxH``."""
        size = Size.of(size)
        plan = self.plan
        return {"dataset": plan.dataset.name, "dataset_options": plan.dataset_options.model_dump(mode="json"),
                **plan.dataset.protocol(), "images": images, "resolution": size.height if size.square else size.text(),
                "resize": TEST_RESIZE if size.square else TEST_RESIZE_ASPECT,
                "real_split": plan.config.eval.real_split}

    def record(self, row: Row, run: RunDir, conf: dict, metrics, status: str, reason: str | None,
               wall: float, images: int) -> RunRecord:
        plan = self.plan
        return RunRecord(
            label=row.label, model=row.plugin.name, preset=row.preset, dataset=plan.dataset.name,
            profile=row.run.profile, seed=row.run.seed, options=row.options.model_dump(mode="json"),
            config=conf, protocol={**self.protocol(plan.size(row), images), **quantization_protocol(row)},
            versions=versions(), device=str(plan.device), wall_time_s=round(wall, 2), status=status, reason=reason,
            run_dir=str(run.root), input_kind=row.plugin.input_of(row.options),
            note=row_note(row), metrics=metrics)
