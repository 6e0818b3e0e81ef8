"""Fault injection (issue 14, acceptance 2): `bench run` killed with SIGKILL at 10 random moments, from its
first checkpoint to its end (so during training, checkpoint writing and evaluation), then resumed with
`--resume`: every resumed run ends with the losses and metrics of an uninterrupted run and one `ok` row.

Driven through the CLI only. The kill times are drawn from a seeded RNG over the reference run's own
timeline, so the test costs one reference run and ten kill+resume pairs.
"""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.results.store import ResultsStore
from benchmark.testing import TINY_DATA, call_cli

KILLS = 10
RUN = ["run", "--models", "pix2pix", "--profile", "smoke", "--steps", "12", "--set", "checkpoint_every=2",
       "--set", "samples=0", "--metrics", "psnr,ssim", *TINY_DATA, "-q"]


def start(out: Path, data: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "benchmark.cli", *RUN, "--data-root", str(data), "--output-root", str(out), *extra]
    return subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def first_checkpoint_time(out: Path, proc: subprocess.Popen, t0: float) -> float:
    while proc.poll() is None and not list(out.glob("runs/*/checkpoints/step_*.pt")):
        time.sleep(0.02)
    return time.monotonic() - t0


def outcome(out: Path) -> tuple[list[dict], dict, list[str]]:
    (losses,) = list(out.glob("runs/*/losses.csv"))
    with open(losses, newline="") as fh:
        rows = list(csv.DictReader(fh))
    runs = ResultsStore(out / "bench.sqlite").runs("synthetic-facades")
    metrics = {k: m.value for r in runs for k, m in r.metrics.items()}
    return rows, metrics, [r.status for r in runs]


@pytest.mark.slow
def test_sigkill_at_ten_random_moments_then_resume_matches_an_uninterrupted_run(tmp_path):
    data = tmp_path / "data"
    reference = tmp_path / "reference"
    t0 = time.monotonic()
    proc = start(reference, data)
    first = first_checkpoint_time(reference, proc, t0)
    _, err = proc.communicate(timeout=600)
    end = time.monotonic() - t0
    assert proc.returncode == 0, err
    expected = outcome(reference)
    assert expected[2] == ["ok"] and expected[1] and len(expected[0]) == 12

    rng = random.Random(14)
    moments = sorted(rng.uniform(first, end) for _ in range(KILLS))
    for i, moment in enumerate(moments):
        out = tmp_path / f"kill{i}"
        t0 = time.monotonic()
        proc = start(out, data)
        first_checkpoint_time(out, proc, t0)   # the kill lands after the first checkpoint exists
        while proc.poll() is None and time.monotonic() - t0 < moment:
            time.sleep(0.01)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            resumed = call_cli(*RUN, "--data-root", str(data), "--output-root", str(out), "--resume")
            assert resumed.returncode == 0, f"kill {i} at {moment:.1f}s: {resumed.stderr}"
        else:   # this run was faster than the reference and ended before the kill
            proc.communicate()
        assert len(list(out.glob("runs/*"))) == 1, f"kill {i}: the resume started a new run folder"
        assert outcome(out) == expected, f"kill {i} at {moment:.1f}s (run {first:.1f}..{end:.1f}s)"
