"""Sweeps: (row, seed) jobs as local processes or through submitit, at most K at a time, each
writing only its own run folder; finished folders ingested once; a killed job resumes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from benchmark.testing import TINY_DATA, run_cli

SMOKE = ["--dataset", "synthetic-facades", "--profile", "smoke", "--metrics", "psnr,ssim", *TINY_DATA]


def sweep_args(tmp_path: Path, *more) -> list[str]:
    return ["run", *SMOKE, "--data-root", str(tmp_path / "data"), "--output-root", str(tmp_path / "out"), *more]


def jobs_of(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) | {"dir": p.parent} for p in sorted((out / "runs").glob("*/job.json"))]


def test_local_executor_runs_at_most_k_processes_and_stores_every_run(tmp_path, monkeypatch, capsys):
    import benchmark.sweep.executors as executors
    from benchmark.cli.app import main

    started: list[subprocess.Popen] = []
    alive_at_start: list[int] = []
    real_popen = subprocess.Popen

    def counting_popen(*args, **kwargs):
        alive_at_start.append(sum(p.poll() is None for p in started))
        started.append(real_popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(executors.subprocess, "Popen", counting_popen)
    code = main(sweep_args(tmp_path, "--models", "pix2pix", "--steps", "2", "--seeds", "3",
                           "--executor", "local", "--max-parallel", "2"))
    out = capsys.readouterr().out
    assert code == 0
    assert len(started) == 3 and max(alive_at_start) == 1  # never a third while two ran
    jobs = jobs_of(tmp_path / "out")
    assert sorted((j["label"], j["seed"]) for j in jobs) == [("pix2pix", 0), ("pix2pix", 1), ("pix2pix", 2)]
    for job in jobs:
        (sub,) = job["submissions"]
        assert sub["executor"] == "local" and sub["job_id"].startswith("pid ") and Path(sub["stderr"]).is_file()
    assert "(n=3)" in out
    from benchmark.results.store import ResultsStore

    stored = ResultsStore(tmp_path / "out" / "bench.sqlite").runs(status="ok")
    assert sorted(Path(r.run_dir).resolve() for r in stored) == sorted(j["dir"].resolve() for j in jobs)
    assert main(["status", "--json", "--output-root", str(tmp_path / "out")]) == 0
    assert [row["state"] for row in json.loads(capsys.readouterr().out)] == ["done"] * 3


def status_of(out: Path, capsys) -> list[dict]:
    from benchmark.cli.app import main

    capsys.readouterr()
    assert main(["status", "--json", "--output-root", str(out)]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_killed_job_is_failed_in_status_and_resumes_when_submitted_again(tmp_path, capsys):
    args = sweep_args(tmp_path, "--models", "pix2pix", "--steps", "60", "--set", "checkpoint_every=5",
                      "--seeds", "1", "--executor", "local", "--max-parallel", "1")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    parent = subprocess.Popen([sys.executable, "-m", "benchmark.cli", *args], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        folders = list((tmp_path / "out" / "runs").glob("*/checkpoints/step_*.pt"))
        if folders:
            break
        time.sleep(0.05)
    (run,) = {p.parent.parent for p in folders}
    job_pid = int(json.loads((run / "job.json").read_text())["submissions"][0]["job_id"].split()[1])
    os.kill(job_pid, signal.SIGKILL)  # the job, midway through training
    _, err = parent.communicate(timeout=120)
    assert parent.returncode == 1 and "pix2pix seed 0 failed" in err, err
    assert not (run / "record.json").exists()
    (row,) = status_of(tmp_path / "out", capsys)
    assert row["state"] == "failed" and "submit the sweep again to resume" in row["detail"]

    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert "submitting again into" in again.stderr
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "ok" and status["steps"] == 60 and status["resumed_from_step"] >= 5
    assert len(json.loads((run / "job.json").read_text())["submissions"]) == 2
    assert len(list((tmp_path / "out" / "runs").glob("*-pix2pix"))) == 1  # the same folder, not a new run
    (row,) = status_of(tmp_path / "out", capsys)
    assert row["state"] == "done"


@pytest.mark.slow
def test_submitit_local_executor_runs_eight_jobs_two_at_a_time(tmp_path):
    pytest.importorskip("submitit")
    result = run_cli(*sweep_args(tmp_path, "--models", "pix2pix,pix2pix+kl", "--steps", "1", "--seeds", "4",
                                 "--executor", "submitit-local", "--max-parallel", "2"))
    assert result.returncode == 0, result.stderr
    jobs = jobs_of(tmp_path / "out")
    assert len(jobs) == 8
    spans = []
    for job in jobs:
        (sub,) = job["submissions"]
        assert sub["executor"] == "submitit-local" and Path(sub["stdout"]).parent.is_relative_to(job["dir"])
        end = (job["dir"] / "record.json").stat().st_mtime
        spans.append((datetime.fromisoformat(sub["submitted"]).timestamp(), end))
    # when each job was submitted, at most one other was still running
    assert max(sum(s < start < e for s, e in spans) for start, _ in spans) <= 1
    data = json.loads((tmp_path / "out" / "synthetic-facades" / "leaderboard.json").read_text())
    assert sorted((r["label"], r["n"]) for r in data["tables"][0]["rows"]) == [("pix2pix", 4), ("pix2pix+kl", 4)]


def _writer(out: str, index: int, count: int, ready, go) -> None:
    """One job-like writer: its own run folders with record.json, ingested as the sweep does; then it
    ingests the next writer's folders again (two processes storing the same folders at once)."""
    from benchmark.results.records import record_to_dict
    from benchmark.results.store import ResultsStore
    from benchmark.rundir.layout import RunDir
    from benchmark.sweep.jobs import ingest
    from tests.test_report import record

    store = ResultsStore(Path(out) / "bench.sqlite")
    runs = []
    for j in range(count):
        run = RunDir(Path(out) / "runs" / f"w{index:02d}-{j:02d}")
        run.root.mkdir(parents=True)
        rec = record(f"row{index}", 20.0 + j, 40.0, run_id=0)
        rec.id, rec.seed, rec.run_dir = None, j, str(run.root)
        run.write_record(record_to_dict(rec), {"status": "ok"})
        runs.append(run)
    ready.wait()
    go.wait()
    for run in runs:
        ingest(store, run)
    nxt = (index + 1) % 16
    for j in range(count):
        ingest(store, RunDir(Path(out) / "runs" / f"w{nxt:02d}-{j:02d}"))


def test_sixteen_concurrent_writers_lose_and_duplicate_nothing(tmp_path):
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    ready, go = ctx.Barrier(17), ctx.Barrier(17)
    from benchmark.results.store import ResultsStore

    ResultsStore(tmp_path / "bench.sqlite")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), i, 25, ready, go)) for i in range(16)]
    for p in procs:
        p.start()
    ready.wait()
    go.wait()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * 16
    with sqlite3.connect(tmp_path / "bench.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        dirs = [row[0] for row in conn.execute("SELECT run_dir FROM runs")]
        metric_rows = conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    expected = {f"runs/w{i:02d}-{j:02d}" for i in range(16) for j in range(25)}
    # run folders are stored relative to the store (tmp_path), or absolute by older writers
    assert len(dirs) == 400 and {str(Path(d).relative_to(tmp_path)) if Path(d).is_absolute() else d for d in dirs} == expected  # 400/400 present, none twice
    assert metric_rows == 800  # PSNR and FID of each, no orphans


def _slurm_ready() -> str | None:
    """None when a single-node Slurm runs here (started by scripts/slurm-single-node.sh), else why not."""
    script = Path(__file__).parent.parent / "scripts" / "slurm-single-node.sh"
    if os.name != "posix" or os.geteuid() != 0:
        return "needs root on Linux to start Slurm"
    try:
        started = subprocess.run(["bash", str(script), "start"], capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        return "Slurm did not start within 90 s"
    return None if started.returncode == 0 else (started.stderr.strip() or started.stdout.strip())


@pytest.mark.slow
def test_a_real_single_node_slurm_runs_the_sweep(tmp_path):
    pytest.importorskip("submitit")
    reason = _slurm_ready()
    if reason:
        print(f"skipped: {reason}")
        pytest.skip(reason)
    result = run_cli(*sweep_args(tmp_path, "--models", "pix2pix,pix2pix+kl", "--steps", "1", "--seeds", "2",
                                 "--executor", "slurm", "--max-parallel", "2", "--cpus-per-job", "1",
                                 "--timeout-min", "10"), timeout=600)
    assert result.returncode == 0, result.stderr
    jobs = jobs_of(tmp_path / "out")
    assert len(jobs) == 4
    for job in jobs:
        (sub,) = job["submissions"]
        assert sub["executor"] == "slurm" and "_" in sub["job_id"]  # an array task: JOBID_INDEX
        assert Path(sub["stdout"]).is_file()
    data = json.loads((tmp_path / "out" / "synthetic-facades" / "leaderboard.json").read_text())
    assert sorted((r["label"], r["n"]) for r in data["tables"][0]["rows"]) == [("pix2pix", 2), ("pix2pix+kl", 2)]


def pending_job(tmp_path: Path, executor: str, job_id: str):
    from benchmark.util.atomic import write_json
    from benchmark.rundir.layout import RunDir

    run = RunDir.create(tmp_path / "out", "synthetic-facades", "pix2pix")
    write_json(run.job_file, {"name": "pix2pix", "submissions": [{"executor": executor, "job_id": job_id}]})
    run.write_status("pending")
    return run


def fake_squeue(tmp_path: Path, monkeypatch, prints: str) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "squeue"
    script.write_text(f"#!/bin/sh\n[ \"$3\" = 4242 ] && echo {prints}\nexit 0\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def test_a_queued_slurm_job_is_not_submitted_twice(tmp_path, monkeypatch):
    """A sweep run again while its Slurm job still waits in the queue must not submit a second copy."""
    from benchmark.sweep.jobs import still_queued

    run = pending_job(tmp_path, "slurm", "4242")
    fake_squeue(tmp_path, monkeypatch, "PENDING")
    reason = still_queued(run)
    assert reason is not None and "4242" in reason and "scancel" in reason
    fake_squeue(tmp_path, monkeypatch, "")  # squeue no longer lists it: gone, submit again
    assert still_queued(run) is None
    run.write_status("running")  # not pending: the lock decides, not the queue
    fake_squeue(tmp_path, monkeypatch, "PENDING")
    assert still_queued(run) is None


def test_a_live_local_job_is_not_submitted_twice(tmp_path):
    from benchmark.sweep.jobs import still_queued

    assert "still alive" in still_queued(pending_job(tmp_path / "a", "local", f"pid {os.getpid()}"))
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert still_queued(pending_job(tmp_path / "b", "local", f"pid {done.stdout.strip()}")) is None
