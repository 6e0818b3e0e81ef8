"""Sweeps: the (row, seed) jobs of a `bench run` as separate processes, then one store.

``bench run ... --executor local --max-parallel K`` (or ``--executor slurm``) does not train in
its own process. For each (row, seed) it makes the job's run folder up front (``plan.json``,
``job.json`` with the job's settings and ``status.json`` saying ``pending``) and hands the job to
an executor (:mod:`benchmark.sweep.executors`); each job is ``bench job RUN_DIR``: a plain `bench run`
of that one row and seed, working only in its own folder and never touching the results store.

How many writers never lose a result, even on a shared filesystem where SQLite's locks cannot
be trusted (NFS): a job's only writes are files in its own run folder, each replaced atomically,
and ``record.json`` is written before ``status.json`` says ok. Only the process that ran the
sweep (after its jobs end), ``bench status`` and ``bench ingest`` copy finished folders into the
store, one folder at a time, with :meth:`ResultsStore.put_run`, which replaces any row of the
same folder: ingesting twice, or from two processes, leaves one row per run folder.

Resubmitting: running the same sweep again reuses finished (row, seed) runs, leaves running ones
alone and queued ones too (a Slurm job ``squeue`` still lists, a local process still alive), and
submits stopped or failed ones again into their own folder, where the job continues
from the newest checkpoint (the ``--resume`` machinery).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.results.records import RunRecord, record_from_dict, utc_now
from benchmark.results.store import ResultsStore
from benchmark.planning.config import Layers, Row
from benchmark.planning.seeds import finished_run, job_name, reuse_line, seed_jobs
from benchmark.rundir.layout import RunDir
from benchmark.rundir.lock import RunLock
from benchmark.util.atomic import write_json
from benchmark.util.errors import BenchError
from benchmark.util.progress import Reporter

STATES = ("pending", "running", "done", "failed")


@dataclass(frozen=True)
class Job:
    row: Row
    run: RunDir

    @property
    def name(self) -> str:
        return job_name(self.row)


# ---------------------------------------------------------------- the parent: prepare

def job_layers(layers: Layers, row: Row) -> dict[str, Any]:
    """The settings of one job as JSON: the user's layers for one row and one seed, with absolute
    data and output folders (a cluster job may start in another folder)."""
    run = {k: v for k, v in layers.run.items() if k != "seeds"}
    run.update(models=[row.label], seed=row.run.seed, data_root=str(Path(row.run.data_root).resolve()),
               output_root=str(Path(row.run.output_root).resolve()))
    return {"profile": layers.profile_name, "run": run, "plugins": layers.plugins}


def prepare(plan, layers: Layers, reporter: Reporter) -> tuple[list[Job], list[RunDir]]:
    """The jobs to submit and the finished run folders to reuse. A (row, seed) that finished with
    the same config is reused; one that stopped or failed is submitted again into its folder
    (it resumes from its checkpoint); one that is running elsewhere is left alone."""
    jobs, reused = [], []
    out, dataset = plan.config.output_root, plan.dataset.name
    for row in seed_jobs(plan):
        found = finished_run(out, dataset, row)
        if found is not None:
            reporter.log(reuse_line(row, found[0]))
            reused.append(found[0])
            continue
        run = unfinished_job(out, dataset, row)
        if run is not None and is_locked(run):
            reporter.log(f"{job_name(row)}: running in {run.root}; not submitted again")
            continue
        if run is not None and (queued := still_queued(run)):
            reporter.log(f"{job_name(row)}: {queued}; not submitted again")
            continue
        if run is None:
            run = RunDir.create(out, dataset, row.label)
            run.write_plan(plan.row_plan(row))
            write_json(run.job_file, {"name": job_name(row), "label": row.label, "seed": row.run.seed,
                                      "layers": job_layers(layers, row), "submissions": []})
        else:
            reporter.log(f"{job_name(row)}: submitting again into {run.root} (continues from its checkpoint)")
        run.write_status("pending")
        jobs.append(Job(row, run))
    return jobs, reused


def unfinished_job(output_root: Path, dataset: str, row: Row) -> RunDir | None:
    """The newest job folder of this row, config and seed that has not finished ok."""
    for run in RunDir.of_row(output_root, dataset, row.label):
        if not run.job_file.is_file():
            continue
        try:
            if run.read_plan().get("config_hash") != row.config_hash():
                continue
        except BenchError:
            continue
        if run.read_status().get("status") != "ok":
            return run
    return None


#: Slurm job states in which a submitted job will still start (or has started) by itself
SLURM_WAITING = {"PENDING", "CONFIGURING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING",
                 "SUSPENDED", "COMPLETING"}


def still_queued(run: RunDir) -> str | None:
    """Why a ``pending`` job folder must not be submitted again: its last submission is still
    queued (a Slurm job that ``squeue`` lists as waiting or starting) or alive (a local process).
    None when it is not, or when nothing can tell (then it is submitted again, as before)."""
    if run.read_status().get("status") != "pending":
        return None
    try:
        submissions = read_job(run).get("submissions") or []
    except BenchError:
        return None
    if not submissions:
        return None
    last = submissions[-1]
    executor, job_id = last.get("executor"), str(last.get("job_id", ""))
    if executor == "slurm" and job_id and shutil.which("squeue"):
        try:
            found = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True,
                                   timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        states = set(found.stdout.split()) if found.returncode == 0 else set()
        if states & SLURM_WAITING:
            return f"Slurm job {job_id} is {'/'.join(sorted(states))} (cancel it with `scancel {job_id}` first)"
    if executor == "local" and job_id.startswith("pid ") and job_id[4:].isdigit():
        try:
            os.kill(int(job_id[4:]), 0)
        except OSError:
            return None
        return f"its local process {job_id} is still alive"
    return None


def add_submission(run: RunDir, **details: Any) -> None:
    """Note one submission of the job (executor, job id, log paths) in its ``job.json``."""
    spec = read_job(run)
    spec.setdefault("submissions", []).append({"submitted": utc_now(), **details})
    write_json(run.job_file, spec)


def read_job(run: RunDir) -> dict[str, Any]:
    return run.read_json(run.job_file)


# ---------------------------------------------------------------- the job

def execute_job(run_dir: Path, reporter: Reporter) -> RunRecord:
    """``bench job RUN_DIR``: train and evaluate the folder's one row and seed in it (continuing from
    its newest checkpoint, or completing a finished one); writes nothing outside the folder but
    the shared caches."""
    from benchmark.pipeline.execute import Execution
    from benchmark.planning.plan import build_plan

    run = RunDir.open(run_dir)
    if not run.job_file.is_file():
        raise BenchError(f"{run.root}: not a sweep job's folder (no {run.job_file.name}); "
                         f"run it with `bench run --resume {run.root}`")
    spec = read_job(run)["layers"]
    layers = Layers(spec["profile"], spec["run"], spec.get("plugins", {}))
    (record,) = Execution(build_plan(layers), reporter, job=True).run(resume=run.root)
    return record


# ---------------------------------------------------------------- ingest and status

def ingest(store: ResultsStore, run: RunDir) -> RunRecord | None:
    """Copy a finished run folder's ``record.json`` into the store, once: a folder already stored
    with the same status is left as it is (it may have been re-measured since)."""
    finished = run.read_record()
    if finished is None:
        return None
    record = record_from_dict(finished["record"])
    stored = store.find_by_run_dir(str(run.root))
    if stored is not None and stored.status == record.status:
        return stored
    record.id = store.put_run(record)
    return record


def is_locked(run: RunDir) -> bool:
    """Whether a process is working in the folder now (it holds the folder's lock)."""
    try:
        lock = RunLock(run).acquire()
    except BenchError:
        return True
    lock.release()
    return False


def job_state(run: RunDir) -> tuple[str, str]:
    """(pending | running | done | failed, detail) of a job folder."""
    status = run.read_status()
    state = status.get("status", "pending")
    if state == "ok":
        return "done", ""
    if is_locked(run):
        return "running", ""
    if state == "pending":
        return "pending", ""
    if state == "running":
        return "failed", "stopped before it finished (killed or preempted); submit the sweep again to resume"
    return "failed", status.get("reason") or state


def job_folders(output_root: Path) -> list[RunDir]:
    root = RunDir.runs_root(output_root)
    return [RunDir(p.parent) for p in sorted(root.glob("*/job.json"))] if root.is_dir() else []


def status_rows(output_root: Path) -> list[dict[str, Any]]:
    """Every sweep job under ``output_root``: name, state, detail, job id, log, run folder."""
    rows = []
    for run in job_folders(output_root):
        try:
            spec = read_job(run)
        except BenchError as exc:
            rows.append({"name": run.root.name, "state": "failed", "detail": str(exc), "job_id": "",
                         "log": "", "run_dir": str(run.root)})
            continue
        state, detail = job_state(run)
        last = (spec.get("submissions") or [{}])[-1]
        rows.append({"name": spec.get("name", run.root.name), "state": state, "detail": detail,
                     "job_id": last.get("job_id", ""), "log": last.get("stderr", ""), "run_dir": str(run.root)})
    return rows


def status_text(rows: list[dict[str, Any]]) -> str:
    from tabulate import tabulate

    counts = {state: sum(r["state"] == state for r in rows) for state in STATES}
    table = tabulate([[r["name"], r["state"], r["job_id"], r["run_dir"], r["detail"] or r["log"]] for r in rows],
                     headers=["job", "state", "job id", "run folder", "detail / log"], tablefmt="simple",
                     disable_numparse=True)
    return f"{table}\n" + ", ".join(f"{n} {state}" for state, n in counts.items()) + "\n"


def status_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, indent=2) + "\n"
