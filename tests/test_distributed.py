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


def test_two_workers_match_one(tmp_path):
    data = ["--data-root", str(tmp_path / "data")]
    single = run_cli(*RUN, *data, "--output-root", tmp_path / "one")
    assert single.returncode == 0, single.stderr
    double = run_cli(*RUN, *data, "--output-root", tmp_path / "two", "--nproc-per-node", "2", timeout=300)
    assert double.returncode == 0, double.stderr
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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the workers through /proc")
def test_dead_worker_stops_the_run(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "benchmark.cli", *RUN, "--steps", "2000", "--set", "checkpoint_every=1",
           "--nproc-per-node", "2", "--data-root", str(tmp_path / "data"), "--output-root", str(out)]
    proc = subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not list(out.glob("runs/*/checkpoints/step_*.pt")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
            time.sleep(0.05)
        worker = next(p for p in children(proc.pid) if local_rank(p) == "1")
        os.kill(worker, signal.SIGKILL)
        killed = time.monotonic()
        _, err = proc.communicate(timeout=60)
        assert time.monotonic() - killed < 60
    finally:
        if proc.poll() is None:
            proc.kill()
    line = one_error_line(proc.returncode, err)
    assert line.startswith(f"error: worker rank 1 (pid {worker}) was killed by SIGKILL; the run stopped")
