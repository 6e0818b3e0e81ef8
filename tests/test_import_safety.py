"""`bench datasets import` under faults and hostile archives (issue 14): a failed import leaves the good
copy in place, stale staging from a killed import is removed (a live import's is not), archive bombs
are refused before they fill the disk, odd zips and non-archives get one line, Ctrl-C says what it did."""

from __future__ import annotations

import io
import json
import signal
import stat
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.data import staging
from benchmark.data.archive import safe_extract
from benchmark.util.errors import DataError
from benchmark.data.unpack_limit import Budget
from benchmark.testing import one_error_line, run_cli
from tests.test_datasets import cli, error_line


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def jpeg(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG")
    return buf.getvalue()


def folder_members(n: int = 5, seed: int = 0) -> dict[str, bytes]:
    """A valid `folder` dataset as archive members: card, images/imgN.jpg, labels/imgN.png."""
    rng = np.random.default_rng(seed)
    members = {"dataset.toml": b'classes = ["sky", "wall", "window"]\n'}
    for i in range(n):
        members[f"images/img{i}.jpg"] = jpeg(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
        members[f"labels/img{i}.png"] = png(rng.integers(0, 3, (16, 16), dtype=np.uint8))
    return members


def with_truncated_jpeg(members: dict[str, bytes]) -> dict[str, bytes]:
    bad = dict(members)
    bad["images/img2.jpg"] = members["images/img2.jpg"][:200]
    return bad


def make_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def make_dir(path: Path, members: dict[str, bytes]) -> Path:
    for name, data in members.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- 1. a failed import keeps the good copy


@pytest.mark.parametrize("kind", ["archive", "folder"])
def test_failed_import_leaves_the_good_copy_in_place(tmp_path, kind):
    data = tmp_path / "data"
    if kind == "archive":
        good = make_tar(tmp_path / "good.tar.gz", folder_members())
        bad = make_tar(tmp_path / "bad.tar.gz", with_truncated_jpeg(folder_members()))
    else:
        good = make_dir(tmp_path / "good", folder_members())
        bad = make_dir(tmp_path / "bad", with_truncated_jpeg(folder_members()))
    code, out, err = cli("datasets", "import", "folder", good, "--data-root", data)
    assert code == 0, err
    before = snapshot(data / "folder")
    assert json.loads(before["MANIFEST.json"])["source"] == str(good.resolve())

    line = error_line(*cli("datasets", "import", "folder", bad, "--data-root", data)[::2])
    assert "img2.jpg" in line and str(bad) in line and "--skip-bad" in line
    assert "left as it was" in line and ".staging-" not in line
    assert snapshot(data / "folder") == before          # every byte of the good copy, MANIFEST included
    assert sorted(p.name for p in data.iterdir()) == ["folder"]   # no staging left behind


def test_skip_bad_import_leaves_the_bad_files_out_and_counts_them(tmp_path):
    data = tmp_path / "data"
    bad = make_tar(tmp_path / "bad.tar.gz", with_truncated_jpeg(folder_members()))
    code, out, err = cli("datasets", "import", "folder", bad, "--data-root", data, "--skip-bad")
    assert code == 0, err
    # the truncated photo, then its label, which has no image left
    assert "skipped 2 bad file(s)" in err and "images/img2.jpg" in err and "labels/img2.png" in err
    assert "3 train, 1 test" in out   # 5 images less the truncated one
    imported = data / "folder"
    assert not (imported / "images" / "img2.jpg").exists() and not (imported / "labels" / "img2.png").exists()
    manifest = json.loads((imported / "MANIFEST.json").read_text())
    assert [s["file"] for s in manifest["skipped"]] == ["images/img2.jpg", "labels/img2.png"]
    # the kept copy is clean: a plain verify (no --skip-bad) passes
    code, out, err = cli("datasets", "verify", "folder", "--data-root", data)
    assert code == 0 and "OK folder: 3 train, 1 test" in out, err


# ---------------------------------------------------------------- 2. staging of a killed import


def test_stale_staging_is_removed_and_a_live_one_kept(tmp_path):
    data = tmp_path / "data"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = data / f".staging-folder-{dead.pid}-1"
    (stale / "folder").mkdir(parents=True)
    (stale / "folder" / "junk.bin").write_bytes(b"x" * 100)
    live = staging.staging_folder(data, "other")   # this very process: a concurrent import
    live.mkdir()
    good = make_tar(tmp_path / "good.tar.gz", folder_members())
    code, _, err = cli("datasets", "import", "folder", good, "--data-root", data)
    assert code == 0, err
    assert not stale.exists()
    assert live.is_dir()


def test_a_copy_killed_while_being_replaced_is_put_back(tmp_path):
    """Killed between moving the old copy aside and moving the new one in: the old one comes back."""
    data = tmp_path / "data"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = data / f".staging-folder-{dead.pid}-1"
    (stale / staging.PREVIOUS).mkdir(parents=True)
    (stale / staging.PREVIOUS / "dataset.toml").write_text("kept")
    assert staging.remove_stale(data) == [stale]
    assert (data / "folder" / "dataset.toml").read_text() == "kept"


def test_sigkill_during_import_then_the_next_import_cleans_up(tmp_path):
    data = tmp_path / "data"
    members = folder_members(n=40)
    archive = make_tar(tmp_path / "big.tar.gz", members)
    proc = subprocess.Popen([sys.executable, "-m", "benchmark.cli", "datasets", "import", "folder", str(archive),
                             "--data-root", str(data)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(data.glob(".staging-*")):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(data.glob(".staging-*")), "the import finished before it could be killed"
    good = make_tar(tmp_path / "good.tar.gz", folder_members())
    code, _, err = cli("datasets", "import", "folder", good, "--data-root", data)
    assert code == 0, err
    assert sorted(p.name for p in data.iterdir()) == ["folder"]


def test_sigint_during_import_says_nothing_changed(tmp_path):
    data = tmp_path / "data"
    archive = make_tar(tmp_path / "big.tar.gz", folder_members(n=40))
    proc = subprocess.Popen([sys.executable, "-m", "benchmark.cli", "datasets", "import", "folder", str(archive),
                             "--data-root", str(data)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # not inherited SIG_IGN
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(data.glob(".staging-*")):
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the import finished before the interrupt arrived")
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "--resume" not in err and "nothing" in err and "import again" in err
    assert not (data / "folder").exists() and not list(data.glob(".staging-*"))


# ---------------------------------------------------------------- 3. archive bombs

BOMB = 4 << 20   # 4 MB of zeros, a few KB compressed


def bomb_tar(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("mine/zeros.bin")
        info.size = BOMB
        tar.addfile(info, io.BytesIO(bytes(BOMB)))
    return path


def bomb_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mine/zeros.bin", bytes(BOMB))
    return path


@pytest.mark.parametrize("make", [bomb_tar, bomb_zip], ids=["tar.gz", "zip"])
def test_archive_bomb_is_refused_before_writing(tmp_path, make, monkeypatch):
    archive = make(tmp_path / f"bomb.{'zip' if make is bomb_zip else 'tar.gz'}")
    assert archive.stat().st_size < BOMB // 100
    data = tmp_path / "data"
    written = []
    real_open = open

    def spy(file, mode="r", *args, **kwargs):   # nothing may be opened for writing below the data root
        if any(c in mode for c in "wxa") and str(file).startswith(str(data)):
            written.append(file)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    line = error_line(*cli("datasets", "import", "folder", archive, "--data-root", data,
                               "--max-unpacked-gb", "0.001")[::2])
    assert str(archive) in line and "0.00419 GB" in line and "--max-unpacked-gb" in line
    assert written == [] and sorted(p.name for p in data.iterdir()) == []
    # raising the limit lets the same archive through (to the card check, which it then fails)
    line = error_line(*cli("datasets", "import", "folder", archive, "--data-root", data,
                               "--max-unpacked-gb", "0.01")[::2])
    assert "dataset.toml" in line


def test_default_limit_is_a_ratio_of_the_archive_size(tmp_path, monkeypatch):
    monkeypatch.setattr("benchmark.data.unpack_limit.UNPACK_FLOOR", 1 << 20)
    with pytest.raises(DataError, match="more than the"):
        safe_extract(bomb_zip(tmp_path / "b.zip"), tmp_path / "out")
    assert not (tmp_path / "out").exists() and [p.name for p in tmp_path.iterdir()] == ["b.zip"]


def test_bytes_are_counted_while_writing():
    """An archive that lies about its sizes is caught by the count kept as bytes are copied."""
    budget = Budget(Path("liar.zip"), limit=10)
    budget.spend(6)
    with pytest.raises(DataError, match=r"liar.zip: unpacking wrote 1.2e-08 GB \(more than its headers declare\)"):
        budget.spend(6)


# ---------------------------------------------------------------- 4. odd zips and non-archives


def test_zip_with_a_symlink_entry_is_one_line(tmp_path):
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as zf:
        link = zipfile.ZipInfo("mine/images")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc")
        zf.writestr("mine/images/img0.png", b"x")
    line = error_line(*cli("datasets", "import", "folder", path, "--data-root", tmp_path / "data")[::2])
    assert "mine/images" in line and "symlink" in line


def test_zip_whose_paths_collide_is_one_line(tmp_path):
    path = tmp_path / "clash.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mine/images", b"a file")
        zf.writestr("mine/images/img0.png", b"x")
    line = error_line(*cli("datasets", "import", "folder", path, "--data-root", tmp_path / "data")[::2])
    assert "mine/images/img0.png" in line and "collides" in line


def test_not_an_archive_is_one_line_subprocess(tmp_path):
    path = tmp_path / "notes.tar.gz"
    path.write_text("just some text\n")
    line = one_error_line(run_cli("datasets", "import", "folder", str(path), "--data-root", str(tmp_path / "d")))
    assert str(path) in line and "not a readable" in line and "download it again" in line
