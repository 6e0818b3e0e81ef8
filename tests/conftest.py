"""Shared test set-up: one CPU thread (the machine has two; competing threads are slow),
no network, and the helpers of :mod:`benchmark.testing` to run the real `bench` command."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from benchmark.testing import TINY_DATA, TINY_TABLES, one_error_line, run_cli  # noqa: F401 (re-exported)

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["BENCH_OFFLINE"] = "1"
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

#: the CLI runner, the one-error-line assertion and the tiny data are the author kit's
bench = run_cli


@pytest.fixture
def roots(tmp_path):
    """--data-root and --output-root inside the test's own folder."""
    return ["--data-root", str(tmp_path / "data"), "--output-root", str(tmp_path / "out")]
