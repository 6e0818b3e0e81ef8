"""The faults a hostile-input probe found (issue 23), each reproduced: a 16-bit photo imported into
a `folder` dataset, a `--config` that is not UTF-8 or is a folder, files published 0600 whatever
the umask, and a run folder left `running` by a killed process. (A bit-flipped checkpoint:
tests/test_run_faults.py.) Each bad input ends in one line, a non-zero exit, no traceback, and
leaves what was there before intact."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
from PIL import Image

from benchmark.rundir.layout import RunDir
from benchmark.rundir.lock import RunLock
from benchmark.testing import TINY_DATA, TINY_TABLES, call_cli, one_error_line, run_cli
from tests.test_bad_data import good_folder, photo_16bit

RUN = ["run", "--models", "pix2pix", "--profile", "smoke", "--steps", "2", "--metrics", "psnr",
       "--set", "eval.max_images=2", *TINY_DATA]


def test_a_16bit_photo_is_refused_at_import_and_the_earlier_copy_stays(tmp_path):
    data = tmp_path / "data"
    first = call_cli("datasets", "import", "folder", good_folder(tmp_path / "v1"), "--data-root", data)
    assert first.returncode == 0, first.stderr
    before = sorted(p.relative_to(data) for p in data.rglob("*"))
    second_source = good_folder(tmp_path / "v2")
    photo_16bit(second_source)
    line = one_error_line(call_cli("datasets", "import", "folder", second_source, "--data-root", data))
    assert "img1.png" in line and "16-bit single-channel image" in line and "8-bit RGB" in line, line
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == before


def test_a_config_that_is_not_utf8_or_a_folder_is_one_line(tmp_path):
    latin = tmp_path / "latin.toml"
    latin.write_bytes("# réglages\nsteps = 2\n".encode("latin-1"))
    line = one_error_line(call_cli(*RUN, "--config", latin, "--output-root", tmp_path / "out"))
    assert line.startswith(f"error: --config {latin}: not UTF-8 text") and "save it as UTF-8" in line, line
    folder = tmp_path / "settings"
    folder.mkdir()
    line = one_error_line(call_cli(*RUN, "--config", folder, "--output-root", tmp_path / "out"))
    assert f"--config {folder}: a folder, not a TOML file" in line, line
    assert not (tmp_path / "out").exists()  # nothing started


def test_published_files_follow_the_umask(tmp_path):
    import benchmark

    old = os.umask(0o027)
    try:
        (record,) = benchmark.run(models=["pix2pix"], dataset="synthetic-facades", profile="smoke", steps=2,
                                  metrics=["psnr"], tables=TINY_TABLES, output_root=tmp_path / "out",
                                  data_root=tmp_path / "data", eval={"max_images": 2})
    finally:
        os.umask(old)
    run = RunDir(Path(record.run_dir))
    published = [tmp_path / "out" / "synthetic-facades" / "leaderboard.md", run.plan_file,
                 run.record_file, run.status_file, run.losses,
                 next(run.images.fake.glob("*.png"))]
    modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in published}
    assert set(modes.values()) == {"0o640"}, modes


def test_a_stale_running_folder_is_marked_interrupted_by_the_next_run(tmp_path):
    out = tmp_path / "out"
    stale = RunDir.create(out, "synthetic-facades", "pix2pix")  # as a process killed before its checkpoint
    stale.write_plan({"label": "pix2pix"})
    stale.write_status("running")
    alive = RunDir.create(out, "synthetic-facades", "pix2pix")  # another process still works here
    alive.write_plan({"label": "pix2pix"})
    alive.write_status("running")
    with RunLock(alive):  # held by this process: the run must be another one
        done = run_cli(*RUN, "--output-root", out, "--data-root", tmp_path / "data")
    assert done.returncode == 0, done.stderr
    assert stale.read_status()["status"] == "interrupted"
    assert "killed" in stale.read_status()["reason"]
    assert alive.read_status() == {"status": "running"}
    said = " ".join((done.stdout + done.stderr).split())  # rich wraps long lines (and paths) off a terminal
    assert "was left 'running' by a killed process; marked interrupted" in said, said


def test_an_rgb_16bit_png_is_read_scaled_not_refused(tmp_path):
    """PIL scales 16-bit RGB PNGs to 8 bits itself (high byte): those are read, not refused."""
    from benchmark.data.dataset import read_image

    import struct
    import zlib

    deep = np.random.default_rng(0).integers(0, 65536, (4, 4, 3)).astype(">u2")
    raw = b"".join(b"\x00" + deep[i].tobytes() for i in range(4))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    png = tmp_path / "rgb16.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 16, 2, 0, 0, 0))
                    + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    assert Image.open(png).mode == "RGB"
    np.testing.assert_array_equal(read_image(png, "RGB"), (deep >> 8).astype(np.uint8))
