"""A third-party plugin package, installed from outside the tree, is found and used end to end.

The example package in ``examples/bench-example-plugin`` is installed into a
temporary folder (``tests/install.py``) and put on ``PYTHONPATH`` of ``bench``
subprocesses, so the global environment is never touched.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.testing import run_cli
from tests.install import install_example

DATASET = "synthetic-facades"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The example plugin installed into its own folder."""
    target = install_example("bench-example-plugin", tmp_path_factory.mktemp("external"))
    assert (target / "bench_example_plugin" / "__init__.py").exists()
    return target


def bench(args: list[str], site: Path, cwd: Path) -> subprocess.CompletedProcess:
    """`bench ARGS` in a fresh process that sees the installed example (its entry points)."""
    return run_cli(*args, env={"PYTHONPATH": str(site), "COLUMNS": "200"}, cwd=cwd)


def test_list_shows_the_external_metric_and_its_package(site, tmp_path):
    proc = bench(["list", "metrics"], site, tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    mae = [line for line in lines if re.search(r"\bmae\b", line)]
    assert mae, proc.stdout
    assert "bench-example-plugin" in mae[0]
    # the built-ins are still there, provided by bench
    psnr = [line for line in lines if re.search(r"\bpsnr\b", line)]
    assert psnr and "bench-example-plugin" not in psnr[0] and "bench" in psnr[0]


def mean_absolute_error(run_dir: Path) -> float:
    """MAE recomputed from the PNGs: per image over pixels and RGB channels in [0, 1], then the mean."""
    fakes = sorted((run_dir / "images" / "fake").glob("*.png"))
    assert fakes, f"no generated images in {run_dir}"
    per_image = []
    for fake in fakes:
        real = run_dir / "images" / "real" / fake.name
        with Image.open(fake) as f, Image.open(real) as r:
            a = np.asarray(f.convert("RGB"), dtype=np.float64) / 255.0
            b = np.asarray(r.convert("RGB"), dtype=np.float64) / 255.0
        assert a.shape == b.shape
        per_image.append(np.abs(a - b).mean())
    return float(np.mean(per_image))


def test_run_with_the_external_metric(site, tmp_path):
    data, out = tmp_path / "data", tmp_path / "out"
    proc = bench(["run", "--models", "pix2pix", "--profile", "smoke", "--steps", "3", "--metrics", "mae,psnr",
                  "--set", f"{DATASET}.train_size=8", "--set", f"{DATASET}.test_size=4",
                  "--set", f"{DATASET}.size=64", "--data-root", str(data), "--output-root", str(out), "-q"],
                 site, tmp_path)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"

    # the Markdown leaderboard has an MAE column holding a number
    md = (out / DATASET / "leaderboard.md").read_text()
    rows = [line for line in md.splitlines() if line.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    mae_col = next((i for i, c in enumerate(header) if c.split()[0] == "MAE"), None)
    assert mae_col is not None, md
    assert "PSNR" in " ".join(header)
    body = [[c.strip() for c in r.strip("|").split("|")] for r in rows[2:]]
    assert len(body) == 1, md
    shown = body[0][mae_col].strip("*")
    assert re.fullmatch(r"\d+\.\d+", shown), md

    runs = list((out / "runs").glob("*"))
    assert len(runs) == 1, runs
    expected = mean_absolute_error(runs[0])
    assert 0 < expected < 1
    assert float(shown) == pytest.approx(expected, abs=0.6 * 10 ** -len(shown.split(".")[1]))

    # the stored value, at full precision
    board = json.loads((out / DATASET / "leaderboard.json").read_text())
    table = board["tables"][0]
    assert next(m["direction"] for m in table["metrics"] if m["name"] == "MAE") == "down"
    assert table["rows"][0]["values"]["MAE"] == pytest.approx(expected, abs=1e-6)
    assert table["protocol"]["metrics"]["MAE"]["metric"] == "mae"
