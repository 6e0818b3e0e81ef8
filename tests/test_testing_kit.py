"""benchmark.testing, the author kit: its assertions catch what they should, and importing it
pulls in neither a test runner nor a plugin."""

from __future__ import annotations

import subprocess
import sys

import pytest

from benchmark.results.records import MetricValue
from benchmark.testing import TINY_DATA, TINY_TABLES, assert_learned, one_error_line, run_cli


def done(code: int, stderr: str) -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess(["bench"], code, stdout="", stderr=stderr)


def test_one_error_line_returns_the_line():
    assert one_error_line(done(2, "\nerror: --foo: no such option; use --bar\n")) == \
        "error: --foo: no such option; use --bar"
    assert one_error_line(2, "error: x", exit_code=2) == "error: x"
    assert one_error_line(2, "data: 10/20\ndata: 20/20\nerror: x", progress_prefix="data: ") == "error: x"


@pytest.mark.parametrize(("code", "stderr", "kwargs"), [
    (0, "error: x", {}),                                     # it succeeded
    (1, "error: x", {"exit_code": 2}),                       # the wrong exit code
    (1, "", {}),                                             # failed without a word
    (1, "Traceback (most recent call last):\nerror: x", {}),
    (1, "warning: y\nerror: x", {}),                         # two lines
    (1, "warning: y\nerror: x", {"progress_prefix": "data: "}),
    (1, "Error: x", {}),                                     # not the error prefix
])
def test_one_error_line_refuses_anything_else(code, stderr, kwargs):
    with pytest.raises(AssertionError):
        one_error_line(done(code, stderr), **kwargs)


def test_assert_learned_follows_each_columns_direction():
    before = {"PSNR": MetricValue(10.0, "up", {}), "FID": MetricValue(200.0, "down", {})}
    after = {"PSNR": MetricValue(13.0, "up", {}), "FID": MetricValue(150.0, "down", {})}
    assert_learned(before, after, {"PSNR": 2.0, "FID": 40.0})
    for margins in ({"PSNR": 3.5}, {"FID": 60.0}, {"SSIM": 0.1}):
        with pytest.raises(AssertionError):
            assert_learned(before, after, margins)
    with pytest.raises(AssertionError):
        assert_learned(after, before, {"PSNR": 0.0})


def test_tiny_data_flags_and_tables_agree(tmp_path):
    assert TINY_DATA[::2] == ["--set"] * (len(TINY_DATA) // 2)
    assert {f"synthetic-facades.{k}={v}" for k, v in TINY_TABLES["synthetic-facades"].items()} == set(TINY_DATA[1::2])
    proc = run_cli("datasets", "verify", "synthetic-facades", *TINY_DATA, "--data-root", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "24 train, 8 test images" in proc.stdout, proc.stdout


def test_importing_the_kit_pulls_in_no_test_runner_and_no_plugin():
    code = ("import sys, benchmark.testing; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'pytest', 'bench_plugins', 'plugins'}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout
