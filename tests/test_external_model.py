"""The example model plugin package, installed from outside the tree, trains and ranks end to end.

``examples/bench-example-model`` is installed into a temporary folder (``tests/install.py``)
and put on ``PYTHONPATH`` of fresh processes: a smoke ``bench run`` with its models gives
leaderboard rows with metric values, and the package's own tests (written with
``benchmark.testing``) pass.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.testing import TINY_DATA, run_cli
from tests.install import install_example

DATASET = "synthetic-facades"
ROWS = ["tiny-paint", "paint", "paint+wide"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    target = install_example("bench-example-model", tmp_path_factory.mktemp("external-model"))
    assert (target / "bench_example_model" / "paint.py").is_file()
    return target


def env_for(site: Path) -> dict[str, str]:
    return {"PYTHONPATH": str(site), "COLUMNS": "200", "BENCH_OFFLINE": "1"}


def test_bench_run_with_the_example_models_gives_leaderboard_rows(site, tmp_path):
    out = tmp_path / "out"
    proc = run_cli("run", "--models", ",".join(ROWS), "--dataset", DATASET, "--profile", "smoke",
                   "--metrics", "psnr,ssim", *TINY_DATA, "--data-root", tmp_path / "data",
                   "--output-root", out, "-q", env=env_for(site), cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"

    board = json.loads((out / DATASET / "leaderboard.json").read_text())
    (table,) = board["tables"]
    assert [m["name"] for m in table["metrics"]] == ["PSNR", "SSIM"], table["metrics"]
    rows = {row["label"]: row["values"] for row in table["rows"]}
    assert sorted(rows) == sorted(ROWS), rows.keys()
    for label, row in rows.items():
        psnr, ssim = row["PSNR"], row["SSIM"]
        assert isinstance(psnr, float) and math.isfinite(psnr) and 5 < psnr < 80, (label, psnr)
        assert isinstance(ssim, float) and -1 <= ssim <= 1, (label, ssim)
    # the preset is its own row with its own network: not a copy of the default row
    assert rows["paint"]["PSNR"] != rows["paint+wide"]["PSNR"]
    assert "paint+wide" in (out / DATASET / "leaderboard.md").read_text()


def test_the_example_packages_own_tests_pass(site, tmp_path):
    """Its tests/ run from the installed copy's sources, outside bench's tree and its conftest."""
    tests = site.parent / "src" / "tests"
    assert (tests / "test_paint.py").is_file()
    env = {**os.environ, "OMP_NUM_THREADS": "1", **env_for(site)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests),
                           "--basetemp", str(tmp_path / "pytest")],
                          cwd=tests.parent, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "2 passed" in proc.stdout, proc.stdout
