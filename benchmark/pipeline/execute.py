"""`bench run`: carry out a :class:`benchmark.planning.plan.RunPlan`.

Checkpoint problems (`--checkpoint`, `--resume RUN_DIR`) are found before the dataset
loads and before any run folder exists. Then each model row is trained (or loaded),
its test split generated and measured, and its record stored. A model whose loss
diverges (or that crashes) is recorded as failed with the reason, and the run goes
on with the next one.

Nothing is lost to a fault: a process holds its run folder's lock while it works there;
a finished row writes ``record.json`` into its folder, then its store row (replacing any
row of the same folder), and only then says ``ok`` in ``status.json``; so ``--resume``
after a kill at any moment either continues training from the newest readable
checkpoint or completes the bookkeeping of a row that had finished, never a second row.
Ctrl-C leaves ``interrupted`` in ``status.json``.

Where a row starts is decided in :mod:`benchmark.pipeline.starts`; what the workers of a
data-parallel run other than rank 0 do, in :mod:`benchmark.pipeline.follow`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from benchmark.api import LogRun, SetupContext, Trainable
from benchmark.data.dataset import BadFiles, Sample, require_nonempty
from benchmark.data.transforms import PairDataset
from benchmark.parallel import sharded as distributed_eval
from benchmark.parallel import workers as distributed
from benchmark.pipeline.evaluate import compute_metrics, generate_images
from benchmark.pipeline.samples import for_row as sample_plan
from benchmark.pipeline.during import DuringTraining
from benchmark.pipeline.loggers import Loggers
from benchmark.pipeline.measure import Measure
from benchmark.pipeline.train import Trainer, fused, seed_everything
from benchmark.results.records import (
    RunRecord,
    record_from_dict,
    record_to_dict,
    utc_now,
)
from benchmark.results.store import ResultsStore
from benchmark.planning.config import Layers, Row
from benchmark.planning.device import configure_backends
from benchmark.planning.foreign import full_fp32, quantization_of
from benchmark.planning.plan import RunPlan, build_plan
from benchmark.planning.seeds import seed_jobs
from benchmark.rundir.layout import ImageSet, RunDir
from benchmark.rundir.lock import RunLock, mark_abandoned
from benchmark.pipeline.starts import RowStarts, Start
from benchmark.util.errors import BenchError, ConfigError, Terminated, TrainingDiverged
from benchmark.util.progress import Reporter


@dataclass(frozen=True)
class DatasetSplits:
    """The run's splits, as the dataset indexes them (a LazySplit reads each sample when asked)."""

    train: Sequence[Sample]
    test: Sequence[Sample]
    #: bad files the index skipped (--skip-bad) before anything trained
    skipped: int = 0


class Execution(RowStarts):
    """One `bench run` of a plan: the dataset, then each row's train / evaluate / store."""

    def __init__(self, plan: RunPlan, reporter: Reporter, *, job: bool = False):
        world = distributed.setup(plan.device)  # a worker of a data-parallel run: see benchmark.parallel.workers
        self.plan = plan = dataclasses.replace(plan, device=world.device) if world else plan
        self.reporter = reporter = Reporter(quiet=True) if distributed.is_follower() else reporter
        #: one job of a sweep (benchmark.sweep.jobs): it writes only its own run folder, the parent
        #: ingests ``record.json`` into the store; the folder exists already (``--resume RUN_DIR``)
        self.job = job
        self._rows: list[Row] | None = None
        # only the process that writes opens the store (a sweep's parent, a data-parallel run's rank 0)
        self.store = None if job or distributed.is_follower() else ResultsStore(plan.config.output_root / "bench.sqlite")
        self.measure = Measure(plan, reporter, self.store)
        #: the number of test images each row generated (fewer than the split's under --skip-bad)
        self.generated: dict[str, int] = {}

    @classmethod
    def from_layers(cls, layers: Layers, reporter: Reporter, plugins=None) -> "Execution":
        return cls(build_plan(layers, plugins), reporter)

    # ------------------------------------------------------------ the whole run

    def run(self, *, resume: bool | Path = False, checkpoint: Path | None = None,
            train_only: bool = False) -> list[RunRecord]:
        rows = self.rows()
        if checkpoint is not None and len(rows) != 1:
            raise ConfigError("--checkpoint evaluates one model: pass exactly one row with --models")
        if isinstance(resume, Path) and len(rows) != 1:
            raise ConfigError("--resume RUN_DIR continues one run: pass exactly one row with --models")
        configure_backends(self.plan.device, self.plan.config.threads, self.measure.reading.num_workers)
        if distributed.is_follower():
            from benchmark.pipeline.follow import follow
            return follow(self)
        starts = [self.start(row, resume, checkpoint) for row in rows]
        data = self.load_dataset()
        distributed.barrier()  # the other workers read the dataset once rank 0 has prepared it
        records = [self.execute_row(row, start, data, train_only) for row, start in zip(rows, starts)]
        if not train_only and not self.job and self.plan.config.eval.reference_row and self.plan.needs_real_train():
            sizes = sorted({self.plan.size(row) for row, r in zip(rows, records) if r.status == "ok"})
            for size in sizes:
                if distributed.current():
                    distributed.announce(("reference", -1, "", size))  # the other workers measure along
                self.measure.reference_row(data.train, self.test_samples(data), size)
        distributed.announce(None)  # the other workers stop
        return records

    def rows(self) -> list[Row]:
        """The rows this run trains: one per (row, seed) when ``seeds`` is set (the same list, in
        the same order, on every worker of a data-parallel run)."""
        if self._rows is None:
            self._rows = seed_jobs(self.plan)
        return self._rows

    def load_dataset(self) -> DatasetSplits:
        spec, options, cfg = self.plan.dataset, self.plan.dataset_options, self.plan.config
        folder = spec.prepare(cfg.data_root, options)
        bad = BadFiles(cfg.skip_bad)
        splits = {split: require_nonempty(spec.index(cfg.data_root, split, options, bad), spec.name, split, folder)
                  for split in ("train", "test")}
        warning = bad.warning()
        if warning:
            self.reporter.warn(warning)
        self.reporter.log(f"dataset {spec.name}: {len(splits['train'])} train, {len(splits['test'])} test images")
        return DatasetSplits(splits["train"], splits["test"], len(bad.items))

    def execute_row(self, row: Row, start: Start, data: DatasetSplits, train_only: bool) -> RunRecord:
        if start.run is None:
            for stale in mark_abandoned(RunDir.of_row(self.plan.config.output_root, self.plan.dataset.name, row.label)):
                self.reporter.log(f"{row.label}: {stale.root} was left 'running' by a killed process; marked interrupted")
        run = start.run or RunDir.create(self.plan.config.output_root, self.plan.dataset.name, row.label)
        lock = start.lock or RunLock(run).acquire()
        try:
            if start.finished is not None:
                return self.store_finished(run, start.finished, train_only)
            return self.train_and_measure(row, start, run, data, train_only)
        except KeyboardInterrupt as exc:
            how = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"
            run.write_status("interrupted", reason=f"stopped by {how}; continue with --resume")
            raise
        finally:
            lock.release()

    def train_and_measure(self, row: Row, start: Start, run: RunDir, data: DatasetSplits,
                          train_only: bool) -> RunRecord:
        row_plan = {**self.plan.row_plan(row), **distributed.protocol(row.run.batch_size)}
        if self.plan.device.type == "cpu":  # a CPU run repeats bit for bit only with the same
            row_plan["torch_threads"] = torch.get_num_threads()  # threads (the order of float sums)
        loggers = Loggers(() if distributed.is_follower() else self.plan.loggers, say=self.reporter.plain)
        loggers.start(LogRun(run.root, row.label, row_plan))
        try:
            return self.train_and_measure_logged(row, start, run, data, train_only, row_plan, loggers)
        finally:
            loggers.close()

    def train_and_measure_logged(self, row: Row, start: Start, run: RunDir, data: DatasetSplits,
                                 train_only: bool, row_plan: dict, loggers: Loggers) -> RunRecord:
        plan = self.plan
        run.write_plan(row_plan)
        run.write_status("running")
        self.reporter.log(f"[bold]{row.label}[/] on {plan.dataset.name} ({row.run.profile}) -> {run.root}")
        t0 = time.perf_counter()
        status, reason, extra = "ok", None, {}
        try:
            if start.model is not None:
                model = self.place(start.model)
                extra = {"checkpoint": str(start.checkpoint), "weights": row.foreign.to_dict()}
            elif start.state is not None:
                model = self.build(row)
                model.load_state_dict(start.state["model"])
                extra = {"checkpoint": str(start.checkpoint), "steps": start.state.get("step")}
            else:
                model, extra = self.train(row, data, run, start.resume_from, loggers)
            loaded = start.state is not None or start.model is not None  # rank 0 read the weights
            metrics = {} if train_only else self.evaluate_model(model, row, data, run, loaded=loaded)
            loggers.metrics(int(extra.get("steps") or 0), {c: getattr(v, "value", v) for c, v in metrics.items()})
        except TrainingDiverged as exc:
            status, reason, metrics = "failed", str(exc), {}
        except BenchError:
            run.write_status("failed", reason="stopped by an error")
            raise
        except Exception as exc:  # record the crash, keep the other models going
            if distributed.current():  # ...unless other workers share this row: stop them all
                run.write_status("failed", reason=f"{type(exc).__name__}: {exc}")
                raise
            run.error_log.write_text(traceback.format_exc())
            status, reason, metrics = "failed", f"{type(exc).__name__}: {exc} (see {run.error_log})", {}
        wall = time.perf_counter() - t0
        if status == "failed":
            self.reporter.log(f"[red]{row.label} failed:[/] {reason}")
        images = min(len(data.test), plan.config.eval.max_images or len(data.test))
        images = self.generated.pop(row.label, images)  # under --skip-bad, the test images actually generated
        record = self.measure.record(row, run, row_plan, metrics, status, reason, wall, images)
        skipped = data.skipped + extra.get("skipped_files", 0) + self.measure.skipped
        if skipped:
            record.note = "; ".join(filter(None, [record.note, f"--skip-bad: skipped {skipped} bad file(s)"]))
        if "during_training" in extra:  # the curve's settings and the best step (the row's numbers: the last
            record.config = {**record.config, "during_training": extra["during_training"]}  # step's; tables unsplit)
        final = {"status": status, "reason": reason, **extra}
        if train_only:
            run.write_status(**final)
            return record
        record.created = utc_now()
        run.write_record(record_to_dict(record), final)  # first in the folder, then the store,
        if not self.job:                                # then the status: a kill in between is
            record.id = self.store.put_run(record)      # completed by --resume
        run.write_status(**final)
        return record

    def store_finished(self, run: RunDir, finished: dict, train_only: bool) -> RunRecord:
        """Complete a row that had finished when its process was stopped: one store row, final status."""
        record = record_from_dict(finished["record"])
        stored = None if self.job else self.store.find_by_run_dir(str(run.root))
        if stored is not None and stored.status == record.status:
            record = stored  # already stored (and perhaps re-measured since): keep that row
        elif not train_only and not self.job:
            record.id = self.store.put_run(record)
        run.write_status(**finished["status"])
        return record

    # ------------------------------------------------------------ stages

    def build(self, row: Row) -> Trainable:
        """The row's model, seeded, on its device, with its optimisers: the one place they are set."""
        seed_everything(row.run.seed)
        model = row.plugin.build(row.options, self.plan.dataset.num_classes, self.plan.model_size(row))
        return self.place(model)

    def place(self, model: Trainable) -> Trainable:
        """A built model on the run's device and memory format, with its optimisers."""
        model.to(self.plan.device)
        if self.plan.config.channels_last:
            model.to(memory_format=torch.channels_last)
        if self.plan.config.compile:
            for network in model.children():  # in place: parameter names and checkpoints unchanged
                network.compile()
        model.optimizers = fused(model.configure_optimizers(), self.plan.config.fused_optimizer, self.plan.device)
        return model

    def train(self, row: Row, data: DatasetSplits, run: RunDir, resume_from: Path | None,
              loggers: Loggers | None = None):
        plan, spec = self.plan, self.plan.dataset
        index = next(i for i, r in enumerate(self.rows()) if r is row)
        if not distributed.is_follower():
            distributed.announce(("train", index, str(run.root), resume_from))  # the other workers train along
        model = self.build(row)
        size = plan.size(row)
        transform = row.plugin.train_transform(row.options, plan.model_size(row))
        fill = spec.ignore_index if spec.ignore_index is not None else 0
        train_set = PairDataset(data.train, size, transform, seed=row.run.seed, fill_label=fill)
        sample_set = PairDataset(data.test[:4], size)
        with distributed_eval.main_first():  # rank 0 fills the model's caches, the other workers read them
            model.before_training(train_set, SetupContext(device=plan.device, dtype=plan.dtype,
                                                          cache_dir=self.measure.cache_dir, seed=row.run.seed,
                                                          log=self.reporter.log))
        trainer = Trainer(model, train_set, row.run, run, device=plan.device, dtype=plan.dtype,
                          num_classes=spec.num_classes, ignore_index=spec.ignore_index, palette=spec.palette,
                          sample_set=sample_set, reporter=self.reporter, label=row.label, loggers=loggers,
                          during=self.during_training(row, model, data, run), skip_bad=plan.config.skip_bad)
        result = trainer.fit(resume_from)
        during = {"during_training": trainer.during.protocol(len(self.during_subset(data)), plan.during)} \
            if trainer.during is not None else {}
        extra = {"steps": result.steps, "final_losses": result.final_losses,
                 "train_seconds": round(result.seconds, 2),
                 "images_per_second": round(result.images_per_second, 2),
                 "resumed_from_step": result.resumed_from, **during}
        if result.skipped:
            extra["skipped_files"] = len(result.skipped)
        return model, extra

    def during_subset(self, data: DatasetSplits) -> Sequence[Sample]:
        """``eval_every``'s fixed subset: the first ``eval_images`` images of the test split."""
        return data.test[:self.plan.config.eval_images]

    def during_training(self, row: Row, model: Trainable, data: DatasetSplits, run: RunDir) -> DuringTraining | None:
        """``eval_every``: generate the subset into ``<run>/during_training/`` and measure it with the
        plan's ``during`` metrics (``run=None``: no metric side file of the final evaluation is touched)."""
        plan, spec = self.plan, self.plan.dataset
        if plan.config.eval_every is None or not plan.during or distributed.is_follower():
            return None
        size, samples = plan.size(row), self.during_subset(data)
        subset, images = PairDataset(samples, size), ImageSet(run.root / "during_training")

        def measure(step: int) -> dict[str, float | None]:
            generate_images(model, subset, images, device=plan.device, dtype=plan.dtype, num_classes=spec.num_classes,
                            ignore_index=spec.ignore_index, palette=spec.palette,
                            batch_size=plan.config.eval.batch_size, reporter=self.reporter,
                            label=f"{row.label} at step {step}", quantization=quantization_of(row),
                            reading=self.measure.reading)
            train = self.measure.real_split(data.train, "train", size) if plan.needs_real_train(plan.during) else None
            ctx = self.measure.context(images, None, train, size, row.run.seed,
                                       native_labels=self.measure.native_labels(samples))
            return {c: v.value for c, v in compute_metrics(plan.during, ctx, self.reporter).items()}

        return DuringTraining(plan.config.eval_every, measure, run, plan.best)

    def test_samples(self, data: DatasetSplits) -> Sequence[Sample]:
        limit = self.plan.config.eval.max_images
        return data.test[:limit] if limit else data.test

    def evaluate_model(self, model: Trainable, row: Row, data: DatasetSplits, run: RunDir,
                       loaded: bool = False):
        """Generate the test split and measure it; under data parallelism every worker takes part
        (each generates and measures its share, see benchmark.parallel.sharded) and rank 0 records.
        ``loaded``: the weights came from a checkpoint only rank 0 read, so it sends them along."""
        spec, size = self.plan.dataset, self.plan.size(row)
        parallel = distributed.current() is not None
        if parallel and not distributed.is_follower():
            index = next(i for i, r in enumerate(self.rows()) if r is row)
            state = {k: v.detach().cpu() for k, v in model.state_dict().items()} if loaded else None
            distributed.announce(("evaluate", index, str(run.root), state))
        test_set = PairDataset(self.test_samples(data), size)
        samples = sample_plan(row, self.plan.metrics, self.plan.config.profile)
        exact = row.foreign is not None  # another code base's weights: its fp32 arithmetic, to compare outputs
        with full_fp32() if exact else contextlib.nullcontext():
            count = generate_images(model, test_set, run.images, device=self.plan.device,
                            dtype=None if exact else self.plan.dtype, num_classes=spec.num_classes,
                            ignore_index=spec.ignore_index, palette=spec.palette,
                            batch_size=self.plan.config.eval.batch_size, reporter=self.reporter, label=row.label,
                            parallel=parallel, quantization=quantization_of(row), reading=self.measure.reading,
                            samples=samples.count)
        self.generated[row.label] = count
        train = None
        with distributed_eval.main_first():  # rank 0 writes the cached splits, the others read them
            if self.plan.needs_real_train():
                train = self.measure.real_split(data.train, "train", size)
            native = self.measure.native_labels(self.test_samples(data))
        follower = distributed.is_follower()
        ctx = self.measure.context(run.images, None if follower else run, train, size, row.run.seed,
                                   parallel=parallel, native_labels=native, samples=samples)
        metrics = compute_metrics(self.plan.metrics, ctx, self.reporter)
        if follower:
            return metrics
        own = model.generation_metrics()
        for column, value in own.items():
            self.reporter.log(f"  {row.label} measured {column}={value.value}")
        return {**metrics, **own}
