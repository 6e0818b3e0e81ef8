"""Data-parallel training (issue 12) on the CPU with gloo and 2 workers, through the CLI.

Equivalence: pix2pix (smoke widths, tiny data) trained 4 steps by 2 workers x batch 2 ends with the
losses and weights of 1 worker x batch 4, and its run stores the same metrics. Not bit-exact: DDP
all-reduces the gradients (sum of 2 per-rank means, then / 2) and the synchronized batch norm sums
per-rank statistics, so floating-point additions happen in another order than one process's
reductions over the whole batch (relative differences ~1e-7 per step). Adam then amplifies them
for parameters whose gradient is near zero (its step is lr * m / sqrt(v), about +-lr whatever the
gradient's size), so the weight tolerance is a quarter of one Adam step, lr/4 = 5e-5, and the
relative L2 distance of all weights must stay under 1e-5. Dropout is off in this comparison: its
masks are drawn per rank for the rank's shard, a different random stream from one process's.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from benchmark.checkpoint import load_checkpoint
from benchmark.results import ResultsStore
from tests.conftest import TINY_DATA, one_error_line, run_cli

RUN = ["run", "--models", "pix2pix", "--profile", "smoke", *TINY_DATA, "--steps", "4", "--batch-size", "4",
       "--metrics", "psnr,ssim", "--set", "pix2pix.use_dropout=false", "--set", "samples=0", "--device", "cpu",
       "--set", "checkpoint_every=1", "--set", "keep_checkpoints=4",
       "-q"]
LR = 2e-4  # pix2pix's Adam learning rate


def losses(run: Path) -> list[dict[str, float]]:
    with open(run / "losses.csv", newline="") as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def one_run(out: Path) -> Path:
    runs = list((out / "runs").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One worker x batch 4 and two workers x batch 2, same data and settings."""
    root = tmp_path_factory.mktemp("ddp")
    data = ["--data-root", str(root / "data")]
    single = run_cli(*RUN, *data, "--output-root", root / "one")
    assert single.returncode == 0, single.stderr
    double = run_cli(*RUN, *data, "--output-root", root / "two", "--nproc-per-node", "2", timeout=300)
    assert double.returncode == 0, double.stderr
    return root


def test_two_workers_match_one(runs):
    tmp_path = runs
    a, b = one_run(tmp_path / "one"), one_run(tmp_path / "two")

    la, lb = losses(a), losses(b)
    assert [r["step"] for r in la] == [r["step"] for r in lb] == [1, 2, 3, 4]
    for ra, rb in zip(la, lb):
        assert ra.keys() == rb.keys()
        for k in ra:
            assert rb[k] == pytest.approx(ra[k], rel=1e-5, abs=1e-7), (k, ra["step"])

    wa = load_checkpoint(a / "checkpoints" / "step_00000004.pt")["model"]
    wb = load_checkpoint(b / "checkpoints" / "step_00000004.pt")["model"]
    assert wa.keys() == wb.keys()
    floats = [k for k in wa if wa[k].is_floating_point()]
    worst = max(float((wa[k] - wb[k]).abs().max()) for k in floats)
    assert worst < LR / 4, worst
    flat_a = torch.cat([wa[k].flatten() for k in floats])
    flat_b = torch.cat([wb[k].flatten() for k in floats])
    assert float((flat_a - flat_b).norm() / flat_a.norm()) < 1e-5
    # three steps moved the weights by far more than the tolerance (the comparison can fail)
    step1 = load_checkpoint(a / "checkpoints" / "step_00000001.pt")["model"]
    assert max(float((wa[k] - step1[k]).abs().max()) for k in floats) > 10 * LR

    plan = json.loads((b / "plan.json").read_text())
    assert (plan["world_size"], plan["per_rank_batch"]) == (2, 2)
    assert "world_size" not in json.loads((a / "plan.json").read_text())

    rows_a = ResultsStore(tmp_path / "one" / "bench.sqlite").runs()
    rows_b = ResultsStore(tmp_path / "two" / "bench.sqlite").runs()
    assert len(rows_a) == len(rows_b) == 1 and rows_b[0].status == "ok"
    ma, mb = rows_a[0].metrics, rows_b[0].metrics
    assert set(ma) == set(mb) == {"PSNR", "SSIM"}
    assert mb["PSNR"].value == pytest.approx(ma["PSNR"].value, abs=1e-3)
    assert mb["SSIM"].value == pytest.approx(ma["SSIM"].value, abs=1e-4)


def test_batch_that_does_not_divide(tmp_path):
    result = run_cli(*RUN, "--batch-size", "3", "--nproc-per-node", "2", "--data-root", tmp_path / "d",
                     "--output-root", tmp_path / "o")
    line = one_error_line(result)
    assert "'batch_size': 3 (pix2pix) does not divide over 2 workers" in line
    assert not (tmp_path / "o" / "runs").exists()


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def local_rank(pid: int) -> str | None:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    return next((e.split(b"=", 1)[1].decode() for e in env if e.startswith(b"LOCAL_RANK=")), None)


def kill_worker_1(out: Path, data: Path, *extra: str) -> tuple[subprocess.Popen, int, str, float]:
    """Start 2 workers, SIGKILL worker 1 once the first checkpoint exists; the launcher's exit, its
    pid, its stderr and the seconds from the kill to the launcher's exit."""
    cmd = [sys.executable, "-m", "benchmark.cli", *RUN, *extra, "--nproc-per-node", "2",
           "--data-root", str(data), "--output-root", str(out)]
    proc = subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not list(out.glob("runs/*/checkpoints/step_*.pt")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
            time.sleep(0.02)
        worker = next(p for p in children(proc.pid) if local_rank(p) == "1")
        os.kill(worker, signal.SIGKILL)
        killed = time.monotonic()
        _, err = proc.communicate(timeout=120)
        return proc, worker, err, time.monotonic() - killed
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the workers through /proc")
def test_dead_worker_stops_the_run(tmp_path):
    proc, worker, err, seconds = kill_worker_1(tmp_path / "out", tmp_path / "data", "--steps", "2000")
    assert seconds < 60
    line = one_error_line(proc.returncode, err)
    assert line.startswith(f"error: worker rank 1 (pid {worker}) was killed by SIGKILL; the run stopped")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the workers through /proc")
def test_max_restarts_resumes(runs, tmp_path):
    """With --max-restarts 1 the launcher restarts both workers after the kill; they continue from
    the last checkpoint and end with the uninterrupted 2-worker run's losses, in one run folder."""
    proc, _, err, _ = kill_worker_1(tmp_path / "out", runs / "data", "--max-restarts", "1")
    assert proc.returncode == 0, err
    run = one_run(tmp_path / "out")
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "ok" and status["resumed_from_step"] in (1, 2, 3, 4), status
    assert losses(run) == losses(one_run(runs / "two"))
    assert len(ResultsStore(tmp_path / "out" / "bench.sqlite").runs()) == 1
