"""Where a row of `bench run` starts, decided before the dataset loads.

A new run folder; a run folder to continue (``--resume``: the newest readable checkpoint, a
damaged newer one set aside); a finished one whose record only needs storing (a kill between
``record.json`` and the store row, or a seed that already ran); or a checkpoint to evaluate
(``--checkpoint``: bench's own, or another code base's, loaded and checked here so that a file
that does not fit stops the run with one line before any run folder exists).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmark.api import Trainable
from benchmark.pipeline.train import seed_everything
from benchmark.planning.checkpoint import load_checkpoint, mismatch, set_aside
from benchmark.planning.config import Row
from benchmark.planning.seeds import finished_run, reuse_line
from benchmark.rundir.layout import RunDir
from benchmark.rundir.lock import RunLock
from benchmark.util.errors import BenchError


@dataclass(frozen=True)
class Start:
    """Where a row starts, decided before the dataset loads: a new run folder, a run folder to
    continue (locked for this process), a finished one whose record only needs storing, or a
    checkpoint to evaluate (already loaded)."""

    run: RunDir | None = None
    lock: RunLock | None = None
    resume_from: Path | None = None
    finished: dict | None = None
    checkpoint: Path | None = None
    state: dict | None = None
    #: a checkpoint of another code base, already loaded into the row's trainable (on the CPU)
    model: Trainable | None = None


class RowStarts:
    """The start decisions of :class:`benchmark.pipeline.execute.Execution` (its ``plan``,
    ``reporter``, ``job`` and ``build`` are used)."""

    def start(self, row: Row, resume: bool | Path, checkpoint: Path | None) -> Start:
        if row.foreign is not None:
            return Start(checkpoint=row.foreign.path, model=self.load_foreign(row))
        if checkpoint is not None:
            state = load_checkpoint(checkpoint)
            problem = mismatch(self.build(row), state, row.options, row.plugin.name)
            if problem:
                raise BenchError(f"{checkpoint}: does not fit {row.label}: {problem}")
            return Start(checkpoint=Path(checkpoint), state=state)
        if isinstance(resume, Path):
            run = RunDir.open(resume)
        elif resume:
            run = self.find_resumable(row)
            if run is None:
                self.reporter.log(f"{row.label}: no unfinished run with this config to resume; starting a new one")
                return Start()
        elif self.plan.config.seeds is not None and (found := finished_run(
                self.plan.config.output_root, self.plan.dataset.name, row)) is not None:
            self.reporter.log(reuse_line(row, found[0]))
            return Start(run=found[0], lock=RunLock(found[0]).acquire(), finished=found[1])
        else:
            return Start()
        lock = RunLock(run).acquire()
        try:
            finished = run.read_record()
            if finished is not None and finished["record"].get("status") == "ok":
                self.reporter.log(f"{row.label}: {run.root} had finished; storing its result")
                return Start(run=run, lock=lock, finished=finished)
            if self.job and not run.checkpoints():  # a job's first start in the folder made for it
                return Start(run=run, lock=lock)
            return Start(run=run, lock=lock, resume_from=self.last_readable_checkpoint(run))
        except BaseException:
            lock.release()
            raise

    def last_readable_checkpoint(self, run: RunDir) -> Path:
        """The newest kept checkpoint that loads; a damaged newer one is set aside (renamed
        ``*.damaged``) with a warning, and an older one is used instead."""
        found = run.checkpoints()
        if not found:
            raise BenchError(f"{run.root}: no checkpoint to resume from; start the run again without --resume")
        problems = []
        for path in reversed(found):
            try:
                load_checkpoint(path)  # a damaged file stops here, before the dataset loads
            except BenchError as exc:
                problems.append(str(exc))
                continue
            for problem, bad in zip(problems, reversed(found)):
                set_aside(bad)
                self.reporter.warn(f"{problem.split('; pass ')[0]}; set aside as "
                                  f"{bad.name}.damaged, resuming from the previous kept checkpoint {path.name}")
            return path
        raise BenchError(f"{run.root}: none of its {len(found)} checkpoints can be read (newest: {problems[0]})")

    def find_resumable(self, row: Row) -> RunDir | None:
        """The newest run folder of the same model row, config and dataset that is unfinished and
        has a checkpoint, or that finished (``record.json`` says ok: its bookkeeping is completed)."""
        for run in RunDir.of_row(self.plan.config.output_root, self.plan.dataset.name, row.label):
            try:
                plan = run.read_plan()
            except BenchError:
                continue
            if plan.get("config_hash") != row.config_hash():
                continue
            record = run.read_record()
            finished = record is not None and record["record"].get("status") == "ok"
            if finished or (run.read_status().get("status") != "ok" and run.checkpoints()):
                return run
        return None

    def load_foreign(self, row: Row) -> Trainable:
        """The row's trainable with a checkpoint of another code base loaded (on the CPU, before the
        dataset loads: a file that does not fit stops the run with one line)."""
        weights = row.foreign
        seed_everything(row.run.seed)
        model = row.plugin.build(row.options, self.plan.dataset.num_classes, self.plan.model_size(row))
        try:
            model.load_foreign(weights.state, weights.found)
        except BenchError as exc:
            raise BenchError(f"{weights.path}: does not fit {row.label}: {exc}") from None
        return model
