"""`bench run`: resolve the config, prepare the dataset, then train, generate and evaluate
each model row, store the results and publish the leaderboard.

Every option of every model is validated before the first step of training, so a
typo never costs a finished model. A model whose loss diverges (or that crashes)
is recorded as failed with the reason, and the run goes on with the next one.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

import benchmark
from benchmark import registry
from benchmark.api import EvalContext, Metric, SetupContext
from benchmark.config import (
    Layers,
    ModelRun,
    RunConfig,
    check_plugin_tables,
    resolve_model,
    row_label,
    validate_options,
)
from benchmark.data import BadFiles, Dataset, Sample, require_nonempty
from benchmark.errors import BenchError, ConfigError, TrainingDiverged
from benchmark.evaluate import compute_metrics, generate_images, write_real_split
from benchmark.names import unknown
from benchmark.progress import Reporter
from benchmark.records import REFERENCE_LABEL, REFERENCE_MODEL, RunRecord
from benchmark.results import ResultsStore
from benchmark.train import (
    Trainer,
    checkpoints,
    configure_backends,
    load_checkpoint,
    resolve_device,
    resolve_precision,
    seed_everything,
)
from benchmark.transforms import PairDataset

TEST_RESIZE = "photos bicubic, labels nearest, to a square of image_size"


def versions() -> dict[str, str]:
    out = {"bench": benchmark.__version__, "torch": torch.__version__, "python": platform.python_version()}
    if torch.cuda.is_available():
        out["cuda"] = torch.version.cuda or ""
    return out


@dataclass
class DatasetSplits:
    spec: Dataset
    options: Any
    train: list[Sample]
    test: list[Sample]


def load_dataset(spec: Dataset, options, cfg: RunConfig, reporter: Reporter) -> DatasetSplits:
    folder = spec.prepare(cfg.data_root, options)
    bad = BadFiles(cfg.skip_bad)
    splits = {}
    for split in ("train", "test"):
        splits[split] = require_nonempty(spec.load(cfg.data_root, split, options, bad), spec.name, split, folder)
    warning = bad.warning()
    if warning:
        reporter.log(f"[yellow]warning:[/] {warning}")
    reporter.log(f"dataset {spec.name}: {len(splits['train'])} train, {len(splits['test'])} test images")
    return DatasetSplits(spec, options, splits["train"], splits["test"])


def resolve_metrics(names: list[str] | None, layers: Layers, registry) -> list[tuple[Metric, Any]]:
    chosen = names if names is not None else registry.names()
    out = []
    for name in chosen:
        metric = registry.get(name)
        out.append((metric, validate_options(metric.Options, layers.plugins.get(name, {}), name)))
    return out


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", text)


def new_run_dir(cfg: RunConfig, dataset: str, label: str) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
    path = cfg.output_root / "runs" / f"{stamp}-{slug(dataset)}-{slug(label)}"
    path.mkdir(parents=True)
    return path


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise BenchError(f"{path}: not found; is this a run folder (results/runs/...)?") from None
    except json.JSONDecodeError as exc:
        raise BenchError(f"{path}: not valid JSON ({exc}); the run folder is damaged") from None


def find_resumable(cfg: RunConfig, mr: ModelRun, dataset: str) -> Path | None:
    """The newest unfinished run of the same model row, config and dataset that has a checkpoint."""
    runs = sorted((cfg.output_root / "runs").glob(f"*-{slug(dataset)}-{slug(mr.label)}"), reverse=True)
    for run_dir in runs:
        try:
            conf = json.loads((run_dir / "config.json").read_text())
            status = json.loads((run_dir / "status.json").read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if conf.get("config_hash") == mr.config_hash() and status.get("status") != "ok" and checkpoints(run_dir):
            return run_dir
    return None


class Benchmark:
    """One `bench run`: the resolved config, the dataset, the models and metrics to use."""

    def __init__(self, layers: Layers, reporter: Reporter, plugins=None):
        self.layers = layers
        self.reporter = reporter
        self.plugins = plugins or registry.default()
        self.cfg = layers.run_config()
        self.spec: Dataset = self.plugins.datasets.get(self.cfg.dataset)
        known = set(self.plugins.models.names()) | set(self.plugins.metrics.names()) | set(self.plugins.datasets.names())
        known |= {row_label(e.obj, p) for e in self.plugins.models for p in e.obj.presets}
        known |= set(self.plugins.segmenters.names())
        check_plugin_tables(layers, known)
        self.dataset_options = validate_options(self.spec.Options, layers.plugins.get(self.spec.name, {}),
                                                self.spec.name)
        self.model_runs = [resolve_model(token, layers, self.plugins.models) for token in self.cfg.models]
        labels = [mr.label for mr in self.model_runs]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"invalid value for 'models': {self.cfg.models}: a row is listed twice; list each once")
        for mr in self.model_runs:
            mr.dataset_options = self.dataset_options
            mr.plugin.check(mr.options, mr.run.image_size or self.spec.native_size[0], self.spec.num_classes)
        self.metrics = resolve_metrics(self.cfg.eval.metrics, layers, self.plugins.metrics)
        self.segmenter, self.segmenter_options = self.resolve_segmenter()
        self.device = resolve_device(self.cfg.device)
        self.dtype = resolve_precision(self.cfg.precision, self.device)
        self.store = ResultsStore(self.cfg.output_root / "bench.sqlite")

    def resolve_segmenter(self) -> tuple[str | None, dict]:
        """``eval.segmenter`` (else the dataset's default) and its validated options table, checked
        before any training whenever it is set explicitly or a segmentation metric will use it."""
        name = self.cfg.eval.segmenter or self.spec.default_segmenter
        used = self.cfg.eval.segmenter is not None or any(m.kind == "segmentation" for m, _ in self.metrics)
        if name is None or not used:
            return name, {}
        if name not in self.plugins.segmenters:
            where = "eval.segmenter" if self.cfg.eval.segmenter else f"the default segmenter of {self.spec.name}"
            raise ConfigError(unknown(f"segmenter ({where})", name, self.plugins.segmenters.names(),
                                      "see `bench list segmenters`; choose one with --set eval.segmenter=NAME"))
        segmenter = self.plugins.segmenters.get(name)
        options = validate_options(segmenter.Options, self.layers.plugins.get(name, {}), name)
        return name, options.model_dump(mode="json")

    # ------------------------------------------------------------ the whole run

    def run(self, *, resume: bool | Path = False, checkpoint: Path | None = None,
            train_only: bool = False) -> list[RunRecord]:
        if checkpoint is not None and len(self.model_runs) != 1:
            raise ConfigError("--checkpoint evaluates one model: pass exactly one row with --models")
        if isinstance(resume, Path) and len(self.model_runs) != 1:
            raise ConfigError("--resume RUN_DIR continues one run: pass exactly one row with --models")
        configure_backends(self.device, self.cfg.threads)
        data = load_dataset(self.spec, self.dataset_options, self.cfg, self.reporter)
        records = []
        for mr in self.model_runs:
            records.append(self.run_model(mr, data, resume=resume, checkpoint=checkpoint, train_only=train_only))
        if not train_only and self.cfg.eval.reference_row and self.needs_real_train():
            sizes = sorted({self.eval_size(mr) for mr, r in zip(self.model_runs, records) if r.status == "ok"})
            for size in sizes:
                self.evaluate_reference(data, size)
        return records

    def run_model(self, mr: ModelRun, data: DatasetSplits, *, resume, checkpoint, train_only) -> RunRecord:
        run_dir = None
        if isinstance(resume, Path):
            run_dir = resume
        elif resume:
            run_dir = find_resumable(self.cfg, mr, self.spec.name)
            if run_dir is None:
                self.reporter.log(f"{mr.label}: no unfinished run with this config to resume; starting a new one")
        resume_from = checkpoints(run_dir)[-1] if run_dir is not None and checkpoints(run_dir) else None
        if run_dir is not None and resume_from is None:
            raise BenchError(f"{run_dir}: no checkpoint to resume from; start the run again without --resume")
        if run_dir is None:
            run_dir = new_run_dir(self.cfg, self.spec.name, mr.label)
        conf = {"config_hash": mr.config_hash(), "dataset": self.spec.name, **mr.to_dict(),
                "device": str(self.device), "precision": str(self.dtype or "fp32"), "versions": versions()}
        write_json(run_dir / "config.json", conf)
        write_json(run_dir / "status.json", {"status": "running"})
        self.reporter.log(f"[bold]{mr.label}[/] on {self.spec.name} ({mr.run.profile}) -> {run_dir}")
        t0 = time.perf_counter()
        status, reason, extra = "ok", None, {}
        try:
            model, extra = self.train(mr, data, run_dir, resume_from, checkpoint)
            metrics = {} if train_only else self.evaluate_model(model, mr, data, run_dir)
        except TrainingDiverged as exc:
            status, reason, metrics = "failed", str(exc), {}
        except BenchError:
            write_json(run_dir / "status.json", {"status": "failed", "reason": "stopped by an error"})
            raise
        except Exception as exc:  # record the crash, keep the other models going
            (run_dir / "error.log").write_text(traceback.format_exc())
            status, reason, metrics = "failed", f"{type(exc).__name__}: {exc} (see {run_dir / 'error.log'})", {}
        wall = time.perf_counter() - t0
        write_json(run_dir / "status.json", {"status": status, "reason": reason, **extra})
        if status == "failed":
            self.reporter.log(f"[red]{mr.label} failed:[/] {reason}")
        record = self.record(mr, run_dir, conf, metrics, status, reason, wall, len(data.test))
        if not train_only:
            record.id = self.store.add_run(record)
        return record

    # ------------------------------------------------------------ stages

    def build(self, mr: ModelRun):
        size = mr.run.image_size or self.spec.native_size[0]
        seed_everything(mr.run.seed)
        model = mr.plugin.build(mr.options, self.spec.num_classes, size)
        model.to(self.device)
        model.optimizers = model.configure_optimizers()
        return model, size

    def train(self, mr: ModelRun, data: DatasetSplits, run_dir: Path, resume_from: Path | None,
              checkpoint: Path | None):
        model, size = self.build(mr)
        if checkpoint is not None:
            state = load_checkpoint(checkpoint)
            model.load_state_dict(state["model"])
            return model, {"checkpoint": str(checkpoint), "steps": state.get("step")}
        transform = mr.plugin.train_transform(mr.options, size)
        fill = self.spec.ignore_index if self.spec.ignore_index is not None else 0
        train_set = PairDataset(data.train, size, transform, seed=mr.run.seed, fill_label=fill)
        sample_set = PairDataset(data.test[:4], size)
        cache = self.cfg.output_root / "cache"
        model.before_training(train_set, SetupContext(device=self.device, dtype=self.dtype, cache_dir=cache,
                                                      seed=mr.run.seed, log=self.reporter.log))
        trainer = Trainer(model, train_set, mr.run, run_dir, device=self.device, dtype=self.dtype,
                          num_classes=self.spec.num_classes, ignore_index=self.spec.ignore_index,
                          palette=self.spec.palette, sample_set=sample_set, reporter=self.reporter, label=mr.label)
        result = trainer.fit(resume_from)
        return model, {"steps": result.steps, "final_losses": result.final_losses,
                       "train_seconds": round(result.seconds, 2),
                       "images_per_second": round(result.images_per_second, 2),
                       "resumed_from_step": result.resumed_from}

    def eval_size(self, mr: ModelRun) -> int:
        return mr.run.image_size or self.spec.native_size[0]

    def test_samples(self, data: DatasetSplits) -> list[Sample]:
        return data.test[: self.cfg.eval.max_images] if self.cfg.eval.max_images else data.test

    def evaluate_model(self, model, mr: ModelRun, data: DatasetSplits, run_dir: Path):
        size = self.eval_size(mr)
        test_set = PairDataset(self.test_samples(data), size)
        images = run_dir / "images"
        generate_images(model, test_set, images, device=self.device, dtype=self.dtype,
                        num_classes=self.spec.num_classes, ignore_index=self.spec.ignore_index,
                        palette=self.spec.palette, batch_size=self.cfg.eval.batch_size,
                        reporter=self.reporter, label=mr.label)
        ctx = self.eval_context(images, run_dir, data, size, mr.run.seed)
        own = model.generation_metrics()
        for column, value in own.items():
            self.reporter.log(f"  {mr.label} measured {column}={value.value}")
        return {**compute_metrics(self.metrics, ctx, self.reporter), **own}

    def real_split_dir(self, samples: list[Sample], split: str, size: int) -> Path:
        """A real split at the evaluation resolution, written once per dataset config, size and count."""
        key = json.dumps({"dataset": self.spec.name, "options": self.dataset_options.model_dump(mode="json"),
                          "size": size, "count": len(samples)}, sort_keys=True)
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        folder = self.cfg.output_root / "cache" / "real" / f"{slug(self.spec.name)}-{size}px-{digest}" / split
        return write_real_split(PairDataset(samples, size), folder, reporter=self.reporter,
                                label=f"write real {self.spec.name} {split} split")

    def needs_real_train(self) -> bool:
        """Only metrics that are not paired (distribution, segmentation, classifier) read the
        real training split, and only they have anything to say about the real-images row."""
        return any(metric.kind != "paired" for metric, _ in self.metrics)

    def real_train_dir(self, data: DatasetSplits, size: int) -> Path | None:
        return self.real_split_dir(data.train, "train", size) if self.needs_real_train() else None

    def evaluate_reference(self, data: DatasetSplits, size: int) -> RunRecord:
        """The "real images" row: the real test photos measured as if they were generated."""
        test = self.real_split_dir(self.test_samples(data), "test", size)
        run_dir = new_run_dir(self.cfg, self.spec.name, REFERENCE_MODEL)
        conf = {"dataset": self.spec.name, "label": REFERENCE_LABEL, "model": REFERENCE_MODEL,
                "run": self.cfg.model_dump(mode="json"), "image_size": size, "real_test_dir": str(test),
                "dataset_options": self.dataset_options.model_dump(mode="json"), "versions": versions()}
        write_json(run_dir / "config.json", conf)
        self.reporter.log(f"[bold]{REFERENCE_LABEL}[/] on {self.spec.name} at {size} px (reference row)")
        t0 = time.perf_counter()
        ctx = self.eval_context(test, run_dir, data, size, self.cfg.seed, reference=True)
        metrics = compute_metrics(self.metrics, ctx, self.reporter)
        write_json(run_dir / "status.json", {"status": "ok"})
        images = len(self.test_samples(data))
        record = RunRecord(
            label=REFERENCE_LABEL, model=REFERENCE_MODEL, preset="reference", dataset=self.spec.name,
            profile=self.cfg.profile, seed=self.cfg.seed, options={}, config=conf,
            protocol=self.protocol(size, images), versions=versions(), device=str(self.device),
            wall_time_s=round(time.perf_counter() - t0, 2), status="ok", reason=None, run_dir=str(run_dir),
            input_kind="-", note="reference", metrics=metrics)
        record.id = self.store.add_run(record)
        return record

    def eval_context(self, images: Path, run_dir: Path, data: DatasetSplits, size: int, seed: int,
                     reference: bool = False) -> EvalContext:
        cache = self.cfg.output_root / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        fake = images / ("real" if reference else "fake")  # the reference row measures the real photos
        return EvalContext(fake_dir=fake, real_dir=images / "real", label_dir=images / "label_ids",
                           class_names=list(self.spec.class_names), ignore_index=self.spec.ignore_index,
                           device=self.device, cache_dir=cache, batch_size=self.cfg.eval.batch_size,
                           options={"dataset": self.spec.name, "run_dir": str(run_dir),
                                    "real_split": self.cfg.eval.real_split, "profile": self.cfg.profile,
                                    "segmenter_options": self.segmenter_options},
                           train_dir=self.real_train_dir(data, size), reference=reference, image_size=size,
                           seed=seed, segmenter=self.segmenter, plugins=self.plugins, reporter=self.reporter)

    def protocol(self, size: int, images: int) -> dict[str, Any]:
        return {"dataset": self.spec.name, "dataset_options": self.dataset_options.model_dump(mode="json"),
                "images": images, "resolution": size, "resize": TEST_RESIZE, "real_split": self.cfg.eval.real_split}

    def record(self, mr: ModelRun, run_dir: Path, conf: dict, metrics, status, reason, wall, n_test) -> RunRecord:
        images = min(n_test, self.cfg.eval.max_images or n_test)
        return RunRecord(
            label=mr.label, model=mr.plugin.name, preset=mr.preset, dataset=self.spec.name,
            profile=mr.run.profile, seed=mr.run.seed, options=mr.options.model_dump(mode="json"),
            config=conf, protocol=self.protocol(self.eval_size(mr), images), versions=versions(),
            device=str(self.device),
            wall_time_s=round(wall, 2), status=status, reason=reason, run_dir=str(run_dir),
            input_kind=mr.plugin.input_of(mr.options), note=mr.plugin.describe(mr.options), metrics=metrics)




def evaluate_run(run_dir: Path, layers: Layers, reporter: Reporter, plugins=None) -> RunRecord:
    """`bench evaluate RUN_DIR`: regenerate the test split from the run's last checkpoint and re-measure."""
    conf = read_json(run_dir / "config.json")
    ckpts = checkpoints(run_dir)
    if not ckpts:
        raise BenchError(f"{run_dir}: the run has no checkpoint to evaluate; train it first (bench run)")
    run = {k: v for k, v in conf["run"].items() if k not in ("models",)}
    run.update(layers.run, dataset=conf["dataset"], models=[conf["label"]])
    tables = {**layers.plugins, conf["model"]: conf["options"], conf["dataset"]: conf.get("dataset_options", {})}
    bench = Benchmark(Layers(run.get("profile", "quick"), run, tables), reporter, plugins)
    mr = bench.model_runs[0]
    data = load_dataset(bench.spec, bench.dataset_options, bench.cfg, reporter)
    model, _ = bench.build(mr)
    model.load_state_dict(load_checkpoint(ckpts[-1])["model"])
    metrics = bench.evaluate_model(model, mr, data, run_dir)
    existing = bench.store.find_by_run_dir(str(run_dir))
    if existing is not None and existing.id is not None:
        bench.store.set_metrics(existing.id, metrics)
        existing.metrics = metrics
        return existing
    status = read_json(run_dir / "status.json") if (run_dir / "status.json").exists() else {}
    record = bench.record(mr, run_dir, conf, metrics, "ok", None, float(status.get("train_seconds", 0.0)),
                          len(data.test))
    record.id = bench.store.add_run(record)
    return record
