"""Shared test set-up: one CPU thread (the machine has two; competing threads are slow), no
network, the repository's paths and the ``roots`` fixture. The helpers (running `bench` in this
process or a fresh one, the one-error-line check, the tiny data) are imported from
:mod:`benchmark.testing`, as a plugin's own tests import them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["BENCH_OFFLINE"] = "1"
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def roots(tmp_path):
    """--data-root and --output-root inside the test's own folder."""
    return ["--data-root", str(tmp_path / "data"), "--output-root", str(tmp_path / "out")]
