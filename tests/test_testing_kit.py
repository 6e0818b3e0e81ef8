"""benchmark.testing, the author kit: its assertions catch what they should, and importing it
pulls in neither a test runner nor a plugin."""

from __future__ import annotations

import subprocess
import sys

import pytest

from benchmark.results.records import MetricValue
from benchmark.testing import TINY_DATA, TINY_TABLES, assert_learned, call_cli, one_error_line, run_cli


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
    proc = call_cli("datasets", "verify", "synthetic-facades", *TINY_DATA, "--data-root", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "24 train, 8 test images" in proc.stdout, proc.stdout


@pytest.mark.parametrize("args", [("datasets", "verify", "synthetic-facades", *TINY_DATA),
                                  ("run", "--no-such-flag")],              # argparse: usage, exit 2
                         ids=["ok", "usage"])
def test_in_process_cli_answers_like_a_fresh_process(tmp_path, args):
    fresh = run_cli(*args, "--data-root", tmp_path / "a")
    here = call_cli(*args, "--data-root", tmp_path / "b")
    assert here.returncode == fresh.returncode
    assert here.stdout.replace("/b", "/a") == fresh.stdout and here.stderr == fresh.stderr, (here, fresh)


def test_in_process_cli_puts_the_process_back(tmp_path, monkeypatch):
    import os
    import random
    import signal

    import torch

    from benchmark.cli import app

    def crash(args):
        os.environ["BENCH_KIT_PROBE"] = "changed"
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        torch.set_num_threads(3)
        random.random(), torch.rand(1)
        raise RuntimeError("a bug")

    monkeypatch.setattr(app, "cmd_list", crash)
    monkeypatch.setenv("BENCH_KIT_PROBE", "before")
    handler, threads, state = signal.getsignal(signal.SIGTERM), torch.get_num_threads(), random.getstate()
    torch_state = torch.get_rng_state()
    here = os.getcwd()
    result = call_cli("list", env={"BENCH_KIT_PROBE": "during"}, cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" in result.stderr and "RuntimeError: a bug" in result.stderr
    assert os.environ["BENCH_KIT_PROBE"] == "before" and os.getcwd() == here
    assert signal.getsignal(signal.SIGTERM) == handler and torch.get_num_threads() == threads
    assert random.getstate() == state and torch.equal(torch.get_rng_state(), torch_state)


def test_importing_the_kit_pulls_in_no_test_runner_and_no_plugin():
    code = ("import sys, benchmark.testing; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'pytest', 'bench_plugins', 'plugins'}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout
