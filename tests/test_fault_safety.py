"""Files that must not be trusted and faults of the machine (issue 14): checkpoints that are not
checkpoints, a full disk during training and import, and two images that share a stem."""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from benchmark.results.store import ResultsStore
from benchmark.testing import TINY_DATA, call_cli, one_error_line, run_cli
from tests.test_datasets import cli, error_line

RUN = ["run", "--models", "pix2pix", "--profile", "smoke", "--metrics", "psnr", "--set", "samples=0",
       *TINY_DATA, "-q"]


class Payload:
    """Unpickling this would run a command; a safe loader must refuse it without running it."""

    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def bad_checkpoints(folder: Path) -> dict[str, Path]:
    files = {"random": os.urandom(4096), "text": b"this is not a checkpoint\n", "empty": b""}
    paths = {}
    for kind, data in files.items():
        paths[kind] = folder / f"{kind}.pt"
        paths[kind].write_bytes(data)
    paths["pickle"] = folder / "pickle.pt"
    torch.save({"model": Payload()}, paths["pickle"])
    paths["plain-pickle"] = folder / "plain.pt"
    paths["plain-pickle"].write_bytes(pickle.dumps(Payload()))
    return paths


def check_checkpoint_line(line: str, path: Path, kind: str) -> None:
    assert str(path) in line, line
    assert "weights_only" not in line and "(101)" not in line and "()" not in line, line
    assert "pass a checkpoint that bench wrote" in line, line
    if "sha256 differs from the one written with it" in line:
        return  # a replaced file of a run folder: the checksum written with it refuses it before any load
    if kind == "pickle":
        assert "refused" in line and "code" in line and "system" in line, line
    else:
        assert "not a PyTorch checkpoint" in line, line


# ---------------------------------------------------------------- checkpoints


def test_bad_checkpoints_are_one_line_for_bench_run(tmp_path, roots, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for kind, path in bad_checkpoints(tmp_path).items():
        line = error_line(*cli(*RUN, "--steps", "2", *roots, "--checkpoint", path)[::2])
        check_checkpoint_line(line, path, kind)
    assert not (tmp_path / "PWNED").exists()


def test_bad_checkpoint_is_one_line_for_bench_evaluate(tmp_path, roots, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(*RUN, "--steps", "2", "--set", "checkpoint_every=2", *roots)
    assert code == 0, err
    (run_dir,) = list((tmp_path / "out" / "runs").iterdir())
    (last,) = sorted(run_dir.glob("checkpoints/step_*.pt"))[-1:]
    before = ResultsStore(tmp_path / "out" / "bench.sqlite").runs("synthetic-facades")
    for kind, path in bad_checkpoints(tmp_path).items():
        last.write_bytes(path.read_bytes())
        line = error_line(*cli("evaluate", run_dir, "-q")[::2])
        check_checkpoint_line(line, last, kind)
    assert not (tmp_path / "PWNED").exists()
    after = ResultsStore(tmp_path / "out" / "bench.sqlite").runs("synthetic-facades")
    assert [r.metrics for r in after] == [r.metrics for r in before]   # the stored results are untouched


def test_bad_checkpoint_is_one_line_subprocess(tmp_path, roots):
    path = bad_checkpoints(tmp_path)["pickle"]
    line = one_error_line(run_cli(*RUN, "--steps", "2", *roots, "--checkpoint", str(path)))
    check_checkpoint_line(line, path, "pickle")
    path = bad_checkpoints(tmp_path)["plain-pickle"]   # torch warns about its protocol: no extra line
    line = one_error_line(run_cli(*RUN, "--steps", "2", *roots, "--checkpoint", str(path)))
    check_checkpoint_line(line, path, "plain-pickle")


# ---------------------------------------------------------------- two images, one stem


def test_two_images_with_one_stem_are_called_ambiguous(tmp_path):
    folder = tmp_path / "mine"
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    (folder / "dataset.toml").write_text('classes = ["a", "b"]\n')
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(folder / "images" / f"x{i}.png")
        Image.fromarray(rng.integers(0, 2, (8, 8), dtype=np.uint8)).save(folder / "labels" / f"x{i}.png")
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(folder / "images" / "x1.jpg")
    line = error_line(*cli("datasets", "verify", "folder", "--set", f"folder.path={folder}",
                               "--data-root", tmp_path / "d")[::2])
    assert "ambiguous" in line and "x1.png" in line and "x1.jpg" in line
    assert "add " not in line   # not the misleading "add labels/x1.png"


# ---------------------------------------------------------------- a full disk


@contextlib.contextmanager
def small_disk(path: Path, size: str):
    """A tmpfs of ``size`` at ``path``; skips the test unless it runs as root and mount works."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; run the tests as root to check a full disk")
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith((".tmp", ".part")) or ".staging-" in p.name]


def test_disk_full_during_training_is_one_line_and_resume_works(tmp_path):
    data = ["--data-root", str(tmp_path / "data")]
    args = [*RUN, "--steps", "4", "--set", "checkpoint_every=2", *data]
    with small_disk(tmp_path / "out", "6m") as out:   # the first 3.8 MB checkpoint fits, the second not
        proc = call_cli(*args, "--output-root", str(out))
        line = one_error_line(proc)
        assert "no space left" in line and str(out) in line and "--resume" in line, line
        assert temp_files(out) == [], temp_files(out)
        assert len(list(out.glob("runs/*/checkpoints/step_*.pt"))) == 1
        subprocess.run(["mount", "-o", "remount,size=64m", str(out)], check=True)
        resumed = call_cli(*args, "--output-root", str(out), "--resume")
        assert resumed.returncode == 0, resumed.stderr
        runs = ResultsStore(out / "bench.sqlite").runs("synthetic-facades")
        assert [r.status for r in runs] == ["ok"]


def test_disk_full_during_import_is_one_line(tmp_path):
    archive = tmp_path / "big.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.addfile(tarfile.TarInfo("dataset.toml"), io.BytesIO(b""))
        noise = os.urandom(2 << 20)   # incompressible: 2 MB on a 1 MB disk
        info = tarfile.TarInfo("images/noise.png")
        info.size = len(noise)
        tar.addfile(info, io.BytesIO(noise))
    with small_disk(tmp_path / "data", "1m") as data:
        line = one_error_line(call_cli("datasets", "import", "folder", str(archive), "--data-root", str(data)))
        assert "no space left" in line and str(data) in line, line
        assert list(data.iterdir()) == []
