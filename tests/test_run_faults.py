"""Run folders under faults (issue 14, section 1): a damaged newest checkpoint, Ctrl-C, two
processes in one run folder, and a run killed after it finished but before its status said so."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.util.errors import BenchError
from benchmark.results.store import ResultsStore
from benchmark.rundir.layout import RunDir
from benchmark.rundir.lock import RunLock
from benchmark.testing import TINY_DATA, call_cli, one_error_line, run_cli

RUN = ["run", "--models", "pix2pix", "--profile", "smoke", "--metrics", "psnr,ssim", "--set", "samples=0",
       "--set", "checkpoint_every=2", *TINY_DATA, "-q"]


def finished_run(tmp_path: Path, roots: list[str], steps: int = 4) -> tuple[RunDir, list]:
    done = call_cli(*RUN, "--steps", str(steps), *roots)
    assert done.returncode == 0, done.stderr
    (folder,) = list((tmp_path / "out" / "runs").iterdir())
    return RunDir(folder), stored(tmp_path)


def stored(tmp_path: Path) -> list:
    return ResultsStore(tmp_path / "out" / "bench.sqlite").runs("synthetic-facades")


def metric_values(records) -> list[dict]:
    return [{name: m.value for name, m in r.metrics.items()} for r in records]


def test_resume_falls_back_from_a_damaged_newest_checkpoint(tmp_path, roots):
    run, before = finished_run(tmp_path, roots)
    newest = run.checkpoints()[-1]
    assert [p.name for p in run.checkpoints()] == ["step_00000002.pt", "step_00000004.pt"]
    run.record_file.unlink()  # as if killed while writing the newest checkpoint's successor
    run.write_status("running")
    newest.write_bytes(newest.read_bytes()[:1000])  # truncated
    resumed = call_cli(*RUN, "--steps", "4", *roots, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    said = " ".join((resumed.stdout + resumed.stderr).split())
    assert "step_00000004.pt" in said and "previous kept checkpoint step_00000002.pt" in said, said
    assert (newest.parent / "step_00000004.pt.damaged").is_file()
    assert run.read_status()["status"] == "ok" and run.read_status()["resumed_from_step"] == 2
    after = stored(tmp_path)
    assert [r.status for r in after] == ["ok"]  # the re-finished run replaced its own row
    assert metric_values(after) == metric_values(before)  # steps 3-4 retrained to the same model


def test_a_bit_flipped_newest_checkpoint_fails_its_checksum_and_resume_falls_back(tmp_path, roots):
    """A flipped bit in a tensor loads as well-formed tensors (the resumed run then turns NaN):
    the sha256 written with the file catches it before it is loaded."""
    from benchmark.planning.checkpoint import checksum_file, load_checkpoint

    run, before = finished_run(tmp_path, roots)
    newest = run.checkpoints()[-1]
    assert checksum_file(newest).is_file()
    data = bytearray(newest.read_bytes())
    data[len(data) * 3 // 5] ^= 0x40
    newest.write_bytes(bytes(data))
    run.record_file.unlink()
    run.write_status("running")
    aside = tmp_path / "unchecked.pt"
    aside.write_bytes(bytes(data))
    load_checkpoint(aside)  # the fault: without its checksum the damaged file loads
    with pytest.raises(BenchError, match="sha256 differs from the one written with it"):
        load_checkpoint(newest)
    resumed = call_cli(*RUN, "--steps", "4", *roots, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    said = " ".join((resumed.stdout + resumed.stderr).split())
    assert "sha256 differs" in said and "previous kept checkpoint step_00000002.pt" in said, said
    assert (newest.parent / "step_00000004.pt.damaged").is_file()
    assert (newest.parent / "step_00000004.pt.damaged.sha256").is_file()
    assert run.read_status()["resumed_from_step"] == 2
    assert metric_values(stored(tmp_path)) == metric_values(before)


def test_resume_with_no_readable_checkpoint_is_one_line(tmp_path, roots):
    run, before = finished_run(tmp_path, roots)
    run.record_file.unlink()
    run.write_status("running")
    for path in run.checkpoints():
        path.write_bytes(b"not a checkpoint")
    line = one_error_line(call_cli(*RUN, "--steps", "4", *roots, "--resume", run.root))
    assert str(run.root) in line and "none of its 2 checkpoints can be read" in line, line
    assert metric_values(stored(tmp_path)) == metric_values(before)


def test_a_run_killed_after_finishing_is_stored_once_by_resume(tmp_path, roots):
    run, before = finished_run(tmp_path, roots)
    run.write_status("running")  # killed after record.json (and perhaps the store row), before status ok
    resumed = call_cli(*RUN, "--steps", "4", *roots, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert run.read_status()["status"] == "ok"
    assert len(list((tmp_path / "out" / "runs").iterdir())) == 1
    after = stored(tmp_path)
    assert [r.status for r in after] == ["ok"] and metric_values(after) == metric_values(before)


def test_resume_keeps_metrics_measured_again_after_the_run(tmp_path, roots):
    run, before = finished_run(tmp_path, roots, steps=2)
    again = call_cli("evaluate", run.root, "--set", 'eval.metrics=["psnr"]', "--set", "eval.max_images=4", "-q")
    assert again.returncode == 0, again.stderr
    measured = metric_values(stored(tmp_path))
    assert measured != metric_values(before)  # PSNR now over 4 images
    assert json.loads(run.record_file.read_text())["record"]["metrics"]["PSNR"]["value"] == measured[0]["PSNR"]
    resumed = call_cli(*RUN, "--steps", "2", *roots, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert metric_values(stored(tmp_path)) == measured


def test_a_second_process_in_a_locked_run_folder_gets_one_line(tmp_path, roots):
    run, before = finished_run(tmp_path, roots)
    run.record_file.unlink()
    run.write_status("running")
    with RunLock(run):  # another process is training this folder
        line = one_error_line(run_cli(*RUN, "--steps", "4", *roots, "--resume"))
        assert str(run.root) in line and "another bench process (pid " in line, line
        line = one_error_line(run_cli("evaluate", run.root, "-q"))
        assert "another bench process" in line, line
    assert run.read_status()["status"] == "running"  # the waiting process changed nothing
    assert metric_values(stored(tmp_path)) == metric_values(before)
    assert call_cli(*RUN, "--steps", "4", *roots, "--resume").returncode == 0  # free again


def test_run_lock_is_exclusive_and_released(tmp_path):
    run = RunDir(tmp_path)
    with RunLock(run):
        with pytest.raises(BenchError, match=f"pid {os.getpid()}"):
            RunLock(run).acquire()
    with RunLock(run):  # released on exit
        pass


def interrupt_at_first_checkpoint(tmp_path, roots, sig) -> tuple[int, str]:
    """Start a 40-step run, send ``sig`` once its first checkpoint exists; (exit code, stderr)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "benchmark.cli", *RUN, "--steps", "40", *roots]
    # a shell's background job ignores SIGINT and its children inherit that: give the child the default
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while proc.poll() is None and not list((tmp_path / "out").glob("runs/*/checkpoints/step_*.pt")):
        assert time.monotonic() < deadline, "no checkpoint within 300 s"
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def test_sigterm_says_interrupted(tmp_path, roots):
    """A scheduler's SIGTERM (time limit, preemption) leaves the run folder "interrupted", not "running"."""
    code, err = interrupt_at_first_checkpoint(tmp_path, roots, signal.SIGTERM)
    assert code == 143, err
    assert "Traceback" not in err and "continue with `bench run ... --resume`" in err, err
    (folder,) = list((tmp_path / "out" / "runs").iterdir())
    status = RunDir(folder).read_status()
    assert status["status"] == "interrupted" and "SIGTERM" in status["reason"], status
    assert stored(tmp_path) == []


def test_ctrl_c_says_interrupted_and_resume_finishes(tmp_path, roots):
    code, err = interrupt_at_first_checkpoint(tmp_path, roots, signal.SIGINT)
    assert code == 130, err
    assert "Traceback" not in err and "continue with `bench run ... --resume`" in err, err
    (folder,) = list((tmp_path / "out" / "runs").iterdir())
    status = RunDir(folder).read_status()
    assert status["status"] == "interrupted" and "--resume" in status["reason"], status
    assert stored(tmp_path) == []
    resumed = call_cli(*RUN, "--steps", "40", *roots, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert [r.status for r in stored(tmp_path)] == ["ok"] and RunDir(folder).read_status()["status"] == "ok"
