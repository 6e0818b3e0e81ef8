"""Every kind of bad data stops `bench run` with one clear line (file + fix), a non-zero exit and no
traceback; with --skip-bad the bad files are skipped, counted in a warning, and the run succeeds.

A file that cannot be decoded (or whose label map is wrong) is met when its sample is read: the
splits stream (docs/data.md), so a run trains one epoch at batch 1, reading every training file.

A tiny `folder` dataset of 32x32 images. Every case runs `bench run` in this process
(the same `cli.main` a user's command calls), a few also as real subprocesses: each subprocess spends
seconds importing torch, and the file must stay fast on a two-core machine.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.cli import app as cli
from benchmark.testing import one_error_line

N_IMAGES = 6
SIZE = 32
WORKERS = 2


# ---------------------------------------------------------------- building datasets

def png_bytes(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


def good_folder(root: Path) -> Path:
    """DIR/dataset.toml + images/imgN.png + labels/imgN.png, 3 classes, all valid."""
    rng = np.random.default_rng(7)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "dataset.toml").write_text('classes = ["sky", "wall", "window"]\n')
    for i in range(N_IMAGES):
        (root / "images" / f"img{i}.png").write_bytes(png_bytes(rng.integers(0, 256, (SIZE, SIZE, 3), np.uint8)))
        (root / "labels" / f"img{i}.png").write_bytes(png_bytes(rng.integers(0, 3, (SIZE, SIZE), np.uint8)))
    return root


def corrupt(d: Path) -> None:
    (d / "images" / "broken.png").write_bytes(np.random.default_rng(1).bytes(300))
    (d / "labels" / "broken.png").write_bytes((d / "labels" / "img0.png").read_bytes())


def truncated_png(d: Path) -> None:
    data = (d / "images" / "img2.png").read_bytes()
    (d / "images" / "img2.png").write_bytes(data[: len(data) // 2])


def truncated_jpeg(d: Path) -> None:
    (d / "images" / "img2.png").unlink()
    data = png_bytes(np.random.default_rng(2).integers(0, 256, (SIZE, SIZE, 3), np.uint8), "JPEG")
    (d / "images" / "img2.jpg").write_bytes(data[: len(data) // 2])


def size_mismatch(d: Path) -> None:
    (d / "labels" / "img1.png").write_bytes(png_bytes(np.zeros((SIZE // 2, SIZE // 2), np.uint8)))


def label_out_of_range(d: Path) -> None:
    label = np.zeros((SIZE, SIZE), np.uint8)
    label[3:5, 3:5] = 7
    (d / "labels" / "img3.png").write_bytes(png_bytes(label))


def image_without_label(d: Path) -> None:
    (d / "labels" / "img4.png").unlink()


def label_without_image(d: Path) -> None:
    (d / "labels" / "ghost.png").write_bytes((d / "labels" / "img0.png").read_bytes())


def empty_test_list(d: Path) -> None:
    (d / "dataset.toml").write_text('classes = ["sky", "wall", "window"]\ntest = []\n')


def no_images(d: Path) -> None:
    for sub in ("images", "labels"):
        for f in (d / sub).iterdir():
            f.unlink()


def non_image(d: Path) -> None:
    (d / "images" / "notes.txt").write_text("where these photos came from\n")


def missing_card(d: Path) -> None:
    (d / "dataset.toml").unlink()


def bad_toml(d: Path) -> None:
    (d / "dataset.toml").write_text('classes = ["sky", "wall"\n')


def photo_16bit(d: Path) -> None:
    """A 16-bit grayscale PNG photo: PIL's convert("RGB") would clip its values to white."""
    deep = np.random.default_rng(3).integers(0, 65536, (SIZE, SIZE), dtype=np.uint16)
    Image.fromarray(deep).save(d / "images" / "img1.png")
    assert Image.open(d / "images" / "img1.png").mode.startswith("I;16")


def card_not_utf8(d: Path) -> None:
    (d / "dataset.toml").write_bytes('classes = ["ciel", "façade"]\n'.encode("latin-1"))


def card_is_a_folder(d: Path) -> None:
    (d / "dataset.toml").unlink()
    (d / "dataset.toml").mkdir()


def rgb_label(d: Path) -> None:
    (d / "labels" / "img5.png").write_bytes(png_bytes(np.zeros((SIZE, SIZE, 3), np.uint8)))


def non_image_and_bad_label(d: Path) -> None:
    non_image(d)
    label_out_of_range(d)


@dataclass
class Case:
    name: str
    build: Callable[[Path], None] | None      # None: not a folder dataset
    expect: list[str]                         # the file named and the fix, in the one error line
    skip_bad: bool = False
    warning: list[str] = field(default_factory=list)  # with skip_bad: what the warnings on stderr say
    skipped: int = 0                          # with skip_bad: the count in the row's note
    in_run: bool = True                       # also through `bench run` in a subprocess
    extra: list[str] = field(default_factory=list)


CASES = [
    Case("corrupt image", corrupt, ["broken.png", "not a readable image", "replace the file or remove it"]),
    Case("truncated png", truncated_png, ["img2.png", "not a readable image", "replace the file or remove it"]),
    Case("truncated jpeg", truncated_jpeg, ["img2.jpg", "not a readable image", "replace the file or remove it"]),
    Case("sizes differ", size_mismatch, ["labels/img1.png", "label size 16x16 differs from image size 32x32",
                                         "resize the label map"]),
    Case("label id outside the classes", label_out_of_range, ["labels/img3.png", "label ids [7] outside the 3 classes",
                                                              "fix the label map"]),
    Case("image without a label", image_without_label, ["images/img4.png", "image without a label",
                                                        "add", "labels/img4.png"]),
    Case("label without an image", label_without_image, ["labels/ghost.png", "label without an image"], in_run=False),
    Case("empty test list", empty_test_list, ["dataset.toml", "test = []", "list the test stems"]),
    Case("no images at all", no_images, ["split 'train'", "is empty", "add images"]),
    Case("non-image file", non_image, ["images/notes.txt", "not an image file", "move it out"]),
    Case("missing dataset.toml", missing_card, ["dataset.toml", "missing", "classes = "]),
    Case("invalid dataset.toml", bad_toml, ["dataset.toml", "not valid TOML", "fix"], in_run=False),
    Case("16-bit photo", photo_16bit, ["images/img1.png", "16-bit single-channel image (mode I;16",
                                       "save it as 8-bit RGB"]),
    Case("dataset.toml not UTF-8", card_not_utf8, ["dataset.toml", "not UTF-8 text (byte 0xe7", "save it as UTF-8"]),
    Case("dataset.toml is a folder", card_is_a_folder, ["dataset.toml", "a folder, not a TOML file",
                                                         "write a dataset.toml"]),
    Case("rgb label map", rgb_label, ["labels/img5.png", "3 channels", "single-channel"], in_run=False),
    Case("facades never imported", None, ["dataset 'facades' not found", "bench datasets import facades"]),
    Case("skip a corrupt image", corrupt, [], skip_bad=True,
         warning=["skipped", "images/broken.png (not a readable image"], skipped=1),
    # the non-image file is found by the index (before training), the label map when it is read
    Case("skip two bad files", non_image_and_bad_label, [], skip_bad=True,
         warning=["skipped 1 bad file(s): notes.txt (not an image file)", "labels/img3.png (label ids [7]"],
         skipped=2),
]
RUN_CASES = [c for c in CASES if c.in_run]
FOLDER_CASES = [c for c in CASES if c.build is not None and not c.skip_bad]


def case_dir(base: Path, case: Case) -> Path:
    folder = good_folder(base / case.name.replace(" ", "-") / "dataset")
    case.build(folder)
    return folder


def run_args(base: Path, case: Case) -> list[str]:
    where = base / case.name.replace(" ", "-")
    args = ["run", "--models", "pix2pix", "--profile", "smoke", "--epochs", "1", "--batch-size", "1",
            "--set", "eval.max_images=2", "-q",
            "--metrics", "psnr", "--data-root", str(where / "data"), "--output-root", str(where / "out")]
    if case.build is None:
        args += ["--dataset", "facades"]
    else:
        args += ["--dataset", "folder", "--set", f"folder.path={case_dir(base, case)}"]
    return args + (["--skip-bad"] if case.skip_bad else []) + case.extra


#: run as real subprocesses (the rest runs the same `bench run` in this process: each subprocess spends
#: seconds importing torch, and the whole file must stay fast)
SUBPROCESS_CASES = ["corrupt image", "truncated jpeg", "facades never imported", "skip two bad files"]


@pytest.fixture(scope="module")
def subprocess_runs(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """The chosen cases through `python -m benchmark.cli`, a few at a time."""
    base = tmp_path_factory.mktemp("bad-data")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "BENCH_OFFLINE": "1"}
    jobs = {case.name: run_args(base, case) for case in RUN_CASES if case.name in SUBPROCESS_CASES}

    def run(args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "benchmark.cli", *args], check=False, capture_output=True,
                              text=True, env=env, timeout=300)

    with ThreadPoolExecutor(WORKERS) as pool:
        return dict(zip(jobs, pool.map(run, jobs.values())))


def run_in_process(argv: list[str], monkeypatch) -> tuple[int, str, str]:
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def flat(text: str) -> str:
    """Rich wraps long lines (and folds long paths) when stderr is not a terminal: compare without whitespace."""
    return "".join(text.split())


def assert_one_clear_line(code: int, stderr: str, expect: list[str]) -> str:
    line = one_error_line(code, stderr)
    for text in expect:
        assert text in line, (text, line)
    return line


def check_stopped(case: Case, code: int, stderr: str) -> None:
    line = assert_one_clear_line(code, stderr, case.expect)
    if case.build is not None and "dataset.toml" not in line and "is empty" not in line:
        assert "(or pass --skip-bad to skip such files)" in line


def check_skipped(case: Case, code: int, stdout: str, stderr: str) -> None:
    assert code == 0, stderr
    assert "Traceback" not in stderr and "error:" not in stderr, stderr
    assert "warning:" in stderr
    for text in case.warning:
        assert flat(text) in flat(stderr), (text, stderr)
    assert "pix2pix" in stdout       # the leaderboard was printed
    assert f"skipped {case.skipped} bad file(s)" in stdout  # the row's note (the leaderboard's notes)


@pytest.mark.parametrize("case", [c for c in RUN_CASES if c.name in SUBPROCESS_CASES], ids=lambda c: c.name)
def test_real_cli_subprocess(subprocess_runs, case):
    proc = subprocess_runs[case.name]
    if case.skip_bad:
        check_skipped(case, proc.returncode, proc.stdout, proc.stderr)
    else:
        check_stopped(case, proc.returncode, proc.stderr)


@pytest.mark.parametrize("case", [c for c in RUN_CASES if not c.skip_bad], ids=lambda c: c.name)
def test_bad_data_stops_the_run_with_one_clear_line(tmp_path, monkeypatch, case):
    code, _, err = run_in_process(run_args(tmp_path, case), monkeypatch)
    check_stopped(case, code, err)


@pytest.mark.parametrize("case", [c for c in RUN_CASES if c.skip_bad], ids=lambda c: c.name)
def test_skip_bad_skips_counts_and_succeeds(tmp_path, monkeypatch, case):
    code, out, err = run_in_process(run_args(tmp_path, case), monkeypatch)
    check_skipped(case, code, out, err)


def test_a_bad_file_seen_by_both_splits_is_counted_once(tmp_path):
    from benchmark.data.dataset import BadFiles

    bad = BadFiles(skip=True)
    for _ in ("train", "test"):
        bad.report(tmp_path / "x.png", "not a readable image", "replace it")
    bad.report(tmp_path / "y.png", "not an image file", "move it")
    assert bad.warning().startswith("skipped 2 bad file(s): x.png")


@pytest.mark.parametrize("case", FOLDER_CASES, ids=lambda c: c.name)
def test_datasets_verify_gives_the_same_clear_line(tmp_path, case):
    """`bench datasets verify` checks every file the same way, without starting a run."""
    folder = case_dir(tmp_path, case)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = cli.main(["datasets", "verify", "folder", "--set", f"folder.path={folder}",
                         "--data-root", str(tmp_path / "data")])
    assert_one_clear_line(code, err.getvalue(), case.expect)
