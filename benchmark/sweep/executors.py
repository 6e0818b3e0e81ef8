"""Where the jobs of a sweep run: local processes, or Slurm (or submitit's local stand-in).

- ``local``: each job is ``bench job RUN_DIR`` in a child process, at most ``--max-parallel``
  at a time; its output goes to ``job.out`` / ``job.err`` in its run folder.
- ``slurm``: one Slurm job per (row, seed), submitted as one job array through submitit (an
  optional dependency: ``pip install 'sis-bench[slurm]'``), at most ``--max-parallel`` running at
  once (the array's parallelism), each with ``--gpus-per-job`` GPUs on ``--slurm-partition``.
  A job that Slurm preempts or times out is requeued by submitit and continues from its
  newest checkpoint.
- ``submitit-local``: the same submitit path with submitit's local executor (no Slurm), at most
  ``--max-parallel`` jobs at a time: how the Slurm path is tested without a cluster.

Every executor records each submission (executor, job id, log paths) in the job's ``job.json``
and waits for its jobs; then :func:`run_sweep` ingests the finished folders into the store.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from benchmark.api import Options
from benchmark.results.records import RunRecord
from benchmark.results.store import ResultsStore
from benchmark.planning.config import Layers, explain
from benchmark.sweep.jobs import Job, add_submission, ingest, prepare
from benchmark.util.errors import BenchError, ConfigError
from benchmark.util.progress import Reporter

EXECUTORS = ("inline", "local", "slurm", "submitit-local")
POLL_S = 0.2


class SweepOptions(Options):
    """How the (row, seed) jobs of `bench run` are run."""

    executor: Literal["inline", "local", "slurm", "submitit-local"] = Field(
        "inline", description="inline: in this process, one after the other (default); local: child processes; "
                              "slurm: Slurm jobs through submitit; submitit-local: submitit's local executor")
    max_parallel: int = Field(2, ge=1, description="jobs running at once (Slurm: the job array's parallelism)")
    slurm_partition: str | None = Field(None, description="Slurm partition (default: the cluster's)")
    gpus_per_job: int = Field(0, ge=0, description="GPUs of each Slurm job")
    cpus_per_job: int = Field(2, ge=1, description="CPU cores of each Slurm job")
    timeout_min: int = Field(240, ge=1, description="time limit of each Slurm job, minutes")


def sweep_options(raw: dict) -> SweepOptions:
    try:
        return SweepOptions(**{k: v for k, v in raw.items() if v is not None})
    except ValidationError as exc:
        raise explain(exc, "", SweepOptions) from None


def run_sweep(plan, layers: Layers, options: SweepOptions, reporter: Reporter) -> list[RunRecord]:
    """Submit the plan's (row, seed) jobs, wait for them, ingest every finished folder (idempotent)
    and measure the "real images" reference row; returns the stored records (failed ones too)."""
    jobs, reused = prepare(plan, layers, reporter)
    if jobs:  # the dataset is made (or checked) once here, not by every job at the same time
        plan.dataset.prepare(plan.config.data_root, plan.dataset_options)
        reporter.log(f"{len(jobs)} job(s) with the {options.executor} executor, at most {options.max_parallel} at a time")
        executor_for(options, reporter, plan.config.output_root).run(jobs)
    store = ResultsStore(plan.config.output_root / "bench.sqlite")
    records = []
    for job in jobs:
        record = ingest(store, job.run)
        if record is None:
            reporter.log(f"[red]{job.name} failed:[/] no result in {job.run.root} (see `bench status`)")
            records.append(_lost(job))
        else:
            records.append(record)
    records += [r for r in (ingest(store, run) for run in reused) if r is not None]
    if plan.config.eval.reference_row and plan.needs_real_train() and any(r.status == "ok" for r in records):
        _reference_rows(plan, reporter, records)
    return records


def _lost(job: Job) -> RunRecord:
    """A stand-in record for a job that left no result (it crashed or was killed)."""
    return RunRecord(label=job.row.label, model=job.row.plugin.name, preset=job.row.preset, dataset="",
                     profile=job.row.run.profile, seed=job.row.run.seed, options={}, config={}, protocol={},
                     versions={}, device="", wall_time_s=0.0, status="failed", reason="no result",
                     run_dir=str(job.run.root))


def _reference_rows(plan, reporter: Reporter, records: list[RunRecord]) -> None:
    from benchmark.pipeline.execute import Execution

    bench = Execution(plan, reporter)
    data = bench.load_dataset()
    sizes = sorted({r.protocol.get("resolution") for r in records if r.status == "ok"} - {None})
    for size in sizes:
        bench.measure.reference_row(data.train, bench.test_samples(data), size)


def executor_for(options: SweepOptions, reporter: Reporter, output_root: Path):
    if options.executor == "local":
        return LocalProcesses(options.max_parallel, reporter)
    if options.executor in ("slurm", "submitit-local"):
        return Submitit(options, reporter, Path(output_root))
    raise ConfigError(f"--executor {options.executor}: runs in this process; nothing to submit")


def job_command(job: Job) -> list[str]:
    return [sys.executable, "-m", "benchmark.cli", "job", str(job.run.root)]


class LocalProcesses:
    """Each job a child process, at most ``max_parallel`` at a time."""

    def __init__(self, max_parallel: int, reporter: Reporter):
        self.max_parallel = max_parallel
        self.reporter = reporter

    def run(self, jobs: list[Job]) -> None:
        waiting, running = list(jobs), {}
        try:
            while waiting or running:
                while waiting and len(running) < self.max_parallel:
                    job = waiting.pop(0)
                    running[self._start(job)] = job
                time.sleep(POLL_S)
                for proc, job in list(running.items()):
                    if proc.poll() is not None:
                        del running[proc]
                        state = "finished" if proc.returncode == 0 else f"failed (exit code {proc.returncode})"
                        self.reporter.log(f"{job.name}: {state}; log {job.run.job_log('err')}")
        finally:
            for proc in running:  # stopped by Ctrl-C or an error: stop the children too
                proc.terminate()

    def _start(self, job: Job) -> subprocess.Popen:
        out, err = job.run.job_log("out"), job.run.job_log("err")
        with open(out, "w") as fh_out, open(err, "w") as fh_err:
            proc = subprocess.Popen(job_command(job), stdout=fh_out, stderr=fh_err, stdin=subprocess.DEVNULL,
                                    env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
        add_submission(job.run, executor="local", job_id=f"pid {proc.pid}", stdout=str(out), stderr=str(err))
        self.reporter.log(f"{job.name}: started (pid {proc.pid}) in {job.run.root}")
        return proc


class JobEntry:
    """What a submitit job calls: ``bench job RUN_DIR``; requeued as is when preempted or timed
    out (submitit calls :meth:`checkpoint`), and then it continues from its newest checkpoint."""

    def __call__(self, run_dir: str) -> str:
        from benchmark.sweep.jobs import execute_job

        try:
            record = execute_job(Path(run_dir), Reporter())
        except BenchError as exc:
            raise RuntimeError(f"bench job {run_dir}: {exc}") from None
        if record.status != "ok":
            raise RuntimeError(f"bench job {run_dir} ended {record.status}; see its log")
        return run_dir

    def checkpoint(self, run_dir: str):
        import submitit

        return submitit.helpers.DelayedSubmission(JobEntry(), run_dir)


class Submitit:
    """Jobs through submitit: a Slurm job array, or submitit's local executor (bounded here)."""

    def __init__(self, options: SweepOptions, reporter: Reporter, output_root: Path):
        try:
            import submitit
        except ImportError:
            raise ConfigError(f"--executor {options.executor} needs submitit: pip install 'sis-bench[slurm]'") from None
        self.submitit = submitit
        self.options = options
        self.reporter = reporter
        self.log_root = output_root / "submitit"

    def run(self, jobs: list[Job]) -> None:
        submitted = self._slurm(jobs) if self.options.executor == "slurm" else self._local(jobs)
        for job, handle in submitted:
            try:
                handle.result()
                self.reporter.log(f"{job.name}: finished (job {handle.job_id})")
            except Exception as exc:  # the job's failure is in its folder and log; go on with the others
                self.reporter.log(f"{job.name}: failed (job {handle.job_id}): {str(exc).strip().splitlines()[-1]}")

    def _executor(self, cluster: str, folder: Path):
        o = self.options
        ex = self.submitit.AutoExecutor(folder=folder, cluster=cluster)
        params = {"timeout_min": o.timeout_min, "name": "bench"}
        if cluster == "slurm":
            params.update(slurm_array_parallelism=o.max_parallel, gpus_per_node=o.gpus_per_job or None,
                          cpus_per_task=o.cpus_per_job, slurm_partition=o.slurm_partition)
        ex.update_parameters(**{k: v for k, v in params.items() if v is not None})
        return ex

    def _note(self, job: Job, handle) -> None:
        add_submission(job.run, executor=self.options.executor, job_id=str(handle.job_id),
                       stdout=str(handle.paths.stdout), stderr=str(handle.paths.stderr))
        self.reporter.log(f"{job.name}: submitted (job {handle.job_id}) for {job.run.root}")

    def _slurm(self, jobs: list[Job]) -> list[tuple[Job, object]]:
        ex = self._executor("slurm", self.log_root / "%j")
        try:
            with ex.batch():
                handles = [ex.submit(JobEntry(), str(job.run.root)) for job in jobs]
        except Exception as exc:  # sbatch refused (no Slurm, a bad partition, ...): one line, no traceback
            text = " ".join(str(exc).split())[:300]
            raise BenchError(f"--executor slurm: submitting {len(jobs)} job(s) failed ({text}); "
                             f"check `sinfo` and --slurm-partition") from None
        for job, handle in zip(jobs, handles):
            self._note(job, handle)
        return list(zip(jobs, handles))

    def _local(self, jobs: list[Job]) -> list[tuple[Job, object]]:
        """submitit's local executor starts every job at once: submit the next one only when
        fewer than ``max_parallel`` are running."""
        done, running, waiting = [], [], list(jobs)
        while waiting or running:
            while waiting and len(running) < self.options.max_parallel:
                job = waiting.pop(0)
                handle = self._executor("local", job.run.submitit_dir).submit(JobEntry(), str(job.run.root))
                self._note(job, handle)
                running.append((job, handle))
            time.sleep(POLL_S)
            finished = [pair for pair in running if pair[1].done()]
            running = [pair for pair in running if pair not in finished]
            done += finished
        return done
