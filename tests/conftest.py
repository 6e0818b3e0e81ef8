"""Shared test set-up: one CPU thread (the machine has two; competing threads are slow),
no network, and helpers to run the real `bench` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["BENCH_OFFLINE"] = "1"
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

#: a small synthetic-facades variant that generates in a fraction of a second
TINY_DATA = ["--set", "synthetic-facades.train_size=24", "--set", "synthetic-facades.test_size=8",
             "--set", "synthetic-facades.size=64"]


def bench(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run `bench ARGS` as a user would, in a fresh process."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "benchmark.cli", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    """Assert the failure was one clear line and no traceback; return the line."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


@pytest.fixture
def roots(tmp_path):
    """--data-root and --output-root inside the test's own folder."""
    return ["--data-root", str(tmp_path / "data"), "--output-root", str(tmp_path / "out")]
