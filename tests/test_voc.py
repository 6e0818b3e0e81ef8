"""`voc2012`: a fake VOC 2012 trainval tree with the release's layout and list lengths (1464 / 1449 tiny
photos), imported, read, verified and trained on through the `bench` CLI; bad inputs give one clear line."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from bench_plugins.datasets.voc_classes import CLASS_NAMES, PALETTE, voc_colour
from PIL import Image

from benchmark.cli import datasets as datasets_cli
from benchmark.data.dataset import BadFiles
from benchmark.util.errors import DataError
from benchmark.registry.plugins import default
from benchmark.results.store import ResultsStore
from benchmark.testing import call_cli, one_error_line

N_TRAIN, N_VAL = 1464, 1449
SIZES = [(12, 9), (9, 12), (10, 10)]        # (width, height): VOC photos vary in size


def cli(*argv) -> tuple[int, str, str]:
    """`bench ARGV` in this process (:func:`benchmark.testing.call_cli`): (exit code, stdout, stderr)."""
    result = call_cli(*argv)
    return result.returncode, result.stdout, result.stderr


def error_line(code: int, err: str) -> str:
    """The one error line, whitespace collapsed (rich wraps long lines)."""
    return " ".join(one_error_line(code, err, exit_code=2).split())


def spec():
    return default().datasets.get("voc2012")


def load(root: Path, split: str, **options):
    s = spec()
    return s.load(root, split, s.Options(**options), BadFiles(skip=False))


# ---------------------------------------------------------------- a fake release

FLAT_PALETTE = [v for i in range(256) for v in voc_colour(i)]


def save_mask(path: Path, ids: np.ndarray) -> None:
    im = Image.fromarray(ids.astype(np.uint8))
    im.putpalette(FLAT_PALETTE)
    im.save(path)


def fake_voc(base: Path, n_train: int = N_TRAIN, n_val: int = N_VAL, year: str = "VOC2012") -> Path:
    """VOCdevkit/<year>/ with photos, palette masks (a void top row, random ids), the segmentation lists,
    and files segmentation never reads (another photo, an annotation, ImageSets/Main)."""
    voc = base / "VOCdevkit" / year
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation", "ImageSets/Main", "Annotations"):
        (voc / sub).mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = {"train": [f"2007_{i:06d}" for i in range(n_train)], "val": [f"2008_{i:06d}" for i in range(n_val)]}
    for i, name in enumerate(names["train"] + names["val"]):
        w, h = SIZES[i % len(SIZES)]
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(voc / "JPEGImages" / f"{name}.jpg")
        ids = rng.integers(0, len(CLASS_NAMES), (h, w))
        ids[0, :] = 255
        save_mask(voc / "SegmentationClass" / f"{name}.png", ids)
    for split, listed in names.items():
        (voc / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("".join(n + "\n" for n in listed))
    (voc / "ImageSets" / "Segmentation" / "trainval.txt").write_text(
        "".join(n + "\n" for n in names["train"] + names["val"]))
    Image.new("RGB", (8, 8)).save(voc / "JPEGImages" / "2012_999999.jpg")      # a detection-only photo
    (voc / "Annotations" / "2007_000000.xml").write_text("<annotation/>")
    (voc / "ImageSets" / "Main" / "train.txt").write_text("2012_999999\n")
    return base


def make_tar(folder: Path, path: Path) -> Path:
    with tarfile.open(path, "w") as tar:
        tar.add(folder / "VOCdevkit", arcname="VOCdevkit")
    return path


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return fake_voc(tmp_path_factory.mktemp("voc-src"))


@pytest.fixture(scope="module")
def archive(source, tmp_path_factory) -> Path:
    return make_tar(source, tmp_path_factory.mktemp("voc-tar") / "VOCtrainval_11-May-2012.tar")


@pytest.fixture(scope="module")
def imported(archive, tmp_path_factory):
    """The fake archive imported once through `bench datasets import`: (data root, stdout)."""
    root = tmp_path_factory.mktemp("voc-data")
    code, out, err = cli("datasets", "import", "voc2012", archive, "--data-root", root)
    assert code == 0, err
    return root, out


def src_file(source: Path, sub: str, name: str) -> Path:
    return source / "VOCdevkit" / "VOC2012" / sub / name


# ---------------------------------------------------------------- classes and palette by hand

def test_classes_and_palette_are_the_official_ones():
    assert len(CLASS_NAMES) == 21 and CLASS_NAMES[0] == "background" and CLASS_NAMES[15] == "person"
    assert CLASS_NAMES[11] == "diningtable" and CLASS_NAMES[20] == "tvmonitor"
    # the devkit's colour map, worked out bit by bit
    assert PALETTE[:5] == [(0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0), (0, 0, 128)]
    assert PALETTE[8] == (64, 0, 0)           # 8 = 0b1000: bit 3 -> bit 6 of red
    assert PALETTE[15] == (192, 128, 128)     # person
    assert PALETTE[20] == (0, 64, 128)        # tvmonitor: 20 = 0b10100
    assert voc_colour(255) == (224, 224, 192)  # void
    assert len(set(PALETTE)) == 21
    s = spec()
    assert s.ignore_index == 255 and s.default_segmenter == "deeplabv3-voc"
    assert s.splits == {"train": 1464, "test": 1449}


# ---------------------------------------------------------------- import, read, verify, preview

def test_import_counts_keeps_only_segmentation_and_records_the_archive(imported, archive):
    root, out = imported
    assert "imported voc2012: 1464 train, 1449 test images" in out
    voc = root / "voc2012" / "VOCdevkit" / "VOC2012"
    assert sorted(p.name for p in voc.iterdir()) == ["ImageSets", "JPEGImages", "SegmentationClass"]
    assert [p.name for p in (voc / "ImageSets").iterdir()] == ["Segmentation"]
    assert not (voc / "JPEGImages" / "2012_999999.jpg").exists()
    assert len(list((voc / "JPEGImages").iterdir())) == N_TRAIN + N_VAL
    manifest = json.loads((root / "voc2012" / "MANIFEST.json").read_text())
    assert manifest["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert not (root / "voc2012.importing").exists()


def test_loaded_pairs_equal_the_files_and_keep_void(imported, source):
    root, _ = imported
    train, test = load(root, "train"), load(root, "test")
    assert [s.stem for s in train] == [f"2007_{i:06d}" for i in range(N_TRAIN)]
    assert [s.stem for s in test] == [f"2008_{i:06d}" for i in range(N_VAL)]
    for s in [train[0], train[1], train[700], test[0], test[-1]]:
        with Image.open(src_file(source, "JPEGImages", f"{s.stem}.jpg")) as im:
            assert np.array_equal(s.image, np.asarray(im.convert("RGB")))
        with Image.open(src_file(source, "SegmentationClass", f"{s.stem}.png")) as im:
            assert im.mode == "P"
            assert np.array_equal(s.label, np.asarray(im))
        assert s.image.dtype == np.uint8 and s.label.dtype == np.uint8
        assert (s.label[0] == 255).all() and int(s.label[1:].max()) <= 20
    assert {s.image.shape[:2] for s in train[:3]} == {(9, 12), (12, 9), (10, 10)}


def test_void_as_background_maps_255_to_0_only(imported):
    root, _ = imported
    kept, mapped = load(root, "test", test_size=20), load(root, "test", test_size=20, void_as_background=True)
    for a, b in zip(kept, mapped):
        assert np.array_equal(b.label, np.where(a.label == 255, 0, a.label))
        assert 255 not in b.label and np.array_equal(a.image, b.image)


def test_size_options_take_the_first_photos_of_each_list(imported):
    root, _ = imported
    assert [s.stem for s in load(root, "train", train_size=3)] == ["2007_000000", "2007_000001", "2007_000002"]
    code, out, err = cli("datasets", "verify", "voc2012", "--set", "voc2012.train_size=5",
                             "--set", "voc2012.test_size=3", "--data-root", root)
    assert code == 0, err
    assert "OK voc2012: 5 train, 3 test" in out


def test_verify_counts_and_names_the_checksum(imported):
    root, _ = imported
    code, out, err = cli("datasets", "verify", "voc2012", "--data-root", root)
    assert code == 0, err
    assert "OK voc2012: 1464 train, 1449 test" in out
    assert "unknown" in out                 # the fake archive is not the published one
    official = "e14f763270cf193d0b5f74b169f44157a4b0c6efa708f4dd0ff78ee691763bcb"
    assert spec().source.sha256 == official
    assert "the published archive" in datasets_cli.checksum_note(spec(), official)


def test_preview_draws_palette_colours(imported, tmp_path):
    root, _ = imported
    png = tmp_path / "voc.png"
    code, out, err = cli("datasets", "preview", "voc2012", png, "--count", "2", "--data-root", root)
    assert code == 0, err
    g, t = datasets_cli.GAP, datasets_cli.TILE
    tile = np.asarray(Image.open(png).convert("RGB"))[g:g + t, g:g + t].reshape(-1, 3)
    colours = {tuple(int(v) for v in c) for c in np.unique(tile, axis=0)}
    assert colours <= set(PALETTE) | {(0, 0, 0)}       # void is drawn black
    assert len(colours) > 5


def test_import_from_an_unpacked_folder(source, tmp_path):
    code, out, err = cli("datasets", "import", "voc2012", source, "--data-root", tmp_path)
    assert code == 0, err
    assert "1464 train, 1449 test" in out
    assert (source / "VOCdevkit" / "VOC2012" / "Annotations").is_dir()     # the source is left alone


# ---------------------------------------------------------------- bad input: one clear line each

def small_data_root(root: Path, n_train: int = 3, n_val: int = 2) -> Path:
    """A data root holding a small VOC tree as if imported (load does not check the list lengths)."""
    fake_voc(root / "voc2012", n_train, n_val)
    return root


def test_missing_path_is_one_line(tmp_path):
    line = error_line(*cli("datasets", "import", "voc2012", tmp_path / "nope.tar", "--data-root", tmp_path)[::2])
    assert "nope.tar" in line and "no such file or folder" in line


def test_folder_without_masks_is_refused(tmp_path):
    src = fake_voc(tmp_path / "src", 3, 2)
    shutil.rmtree(src / "VOCdevkit" / "VOC2012" / "SegmentationClass")
    line = error_line(*cli("datasets", "import", "voc2012", src, "--data-root", tmp_path / "data")[::2])
    assert f"{src}: VOCdevkit/VOC2012/SegmentationClass/ not found" in line and "VOCtrainval_11-May-2012.tar" in line
    assert not (tmp_path / "data" / "voc2012").exists() and not (tmp_path / "data" / "voc2012.importing").exists()


def test_archive_of_another_dataset_is_refused(tmp_path):
    facades = tmp_path / "facades.tar.gz"
    with tarfile.open(facades, "w:gz") as tar:
        data = io.BytesIO()
        Image.new("RGB", (8, 4)).save(data, format="JPEG")
        info = tarfile.TarInfo("facades/train/1.jpg")
        info.size = len(data.getvalue())
        tar.addfile(info, io.BytesIO(data.getvalue()))
    line = error_line(*cli("datasets", "import", "voc2012", facades, "--data-root", tmp_path / "data")[::2])
    assert f"{facades}: no VOCdevkit/VOC2012/ folder" in line and "VOCtrainval_11-May-2012.tar" in line
    assert not (tmp_path / "data" / "voc2012").exists()


def test_another_voc_year_is_named(tmp_path):
    src = fake_voc(tmp_path / "src", 3, 2, year="VOC2007")
    line = error_line(*cli("datasets", "import", "voc2012", src, "--data-root", tmp_path / "data")[::2])
    assert "VOC2007, another year" in line


def test_incomplete_copy_is_refused(tmp_path):
    src = fake_voc(tmp_path / "src", 3, 2)
    line = error_line(*cli("datasets", "import", "voc2012", src, "--data-root", tmp_path / "data")[::2])
    assert f"{src}: VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt: 3 photos listed, expected 1464" in line


def test_a_missing_listed_photo_is_named(tmp_path, monkeypatch):
    import bench_plugins.datasets.voc as voc

    monkeypatch.setattr(voc, "LISTS", {"train": ("train.txt", 3), "test": ("val.txt", 2)})   # a small release
    src = fake_voc(tmp_path / "src", 3, 2)
    (src / "VOCdevkit" / "VOC2012" / "JPEGImages" / "2008_000001.jpg").unlink()
    line = error_line(*cli("datasets", "import", "voc2012", src, "--data-root", tmp_path / "data")[::2])
    assert f"{src}: VOCdevkit/VOC2012/JPEGImages/2008_000001.jpg not found (1 of the 2 test files missing)" in line
    assert not (tmp_path / "data" / "voc2012").exists()


def test_mask_of_the_wrong_size_is_named(tmp_path):
    root = small_data_root(tmp_path)
    save_mask(root / "voc2012" / "VOCdevkit" / "VOC2012" / "SegmentationClass" / "2007_000001.png",
              np.zeros((6, 6), dtype=np.uint8))
    line = error_line(*cli("datasets", "verify", "voc2012", "--set", "voc2012.train_size=3",
                               "--set", "voc2012.test_size=2", "--data-root", root)[::2])
    assert "SegmentationClass/2007_000001.png: mask size 6x6 differs from the photo's 9x12" in line
    assert "--skip-bad" in line


def test_mask_ids_outside_the_classes_are_named(tmp_path):
    root = small_data_root(tmp_path)
    ids = np.zeros((9, 12), dtype=np.uint8)
    ids[2, 2] = 30
    save_mask(root / "voc2012" / "VOCdevkit" / "VOC2012" / "SegmentationClass" / "2008_000000.png", ids)
    line = error_line(*cli("datasets", "verify", "voc2012", "--set", "voc2012.train_size=3",
                               "--set", "voc2012.test_size=2", "--data-root", root)[::2])
    assert "2008_000000.png: mask ids [30] are neither classes 0..20 nor void 255" in line


def test_skip_bad_drops_bad_pairs_and_names_them_in_list_order(tmp_path):
    root = small_data_root(tmp_path, n_train=6)
    masks = root / "voc2012" / "VOCdevkit" / "VOC2012" / "SegmentationClass"
    save_mask(masks / "2007_000004.png", np.zeros((3, 3), dtype=np.uint8))
    (masks / "2007_000001.png").write_bytes(b"not a png")
    bad = BadFiles(skip=True)
    s = spec()
    samples = s.load(root, "train", s.Options(), bad)
    assert [x.stem for x in samples] == ["2007_000000", "2007_000002", "2007_000003", "2007_000005"]
    assert [p.name for p, _ in bad.items] == ["2007_000001.png", "2007_000004.png"]


def test_unknown_option_is_one_line(tmp_path):
    line = error_line(*cli("datasets", "verify", "voc2012", "--set", "voc2012.void_as_backgound=true",
                               "--data-root", tmp_path)[::2])
    assert "unknown option 'voc2012.void_as_backgound'" in line and "void_as_background" in line


def test_offline_and_never_imported_says_how_to_import(tmp_path):
    line = error_line(*cli("datasets", "verify", "voc2012", "--data-root", tmp_path)[::2])
    assert "dataset 'voc2012' not found" in line and "bench datasets import voc2012" in line
    s = spec()
    with pytest.raises(DataError, match="bench datasets import voc2012"):
        s.prepare(tmp_path, s.Options())           # BENCH_OFFLINE=1 in tests: no download is tried
    assert not (tmp_path / "downloads").exists()


# ---------------------------------------------------------------- training on it

def smoke_run(root: Path, out: Path, *extra: str) -> Path:
    code, _, err = cli("run", "--models", "pix2pix", "--profile", "smoke", "--steps", "2", "--dataset", "voc2012",
                           "--set", "voc2012.train_size=8", "--set", "voc2012.test_size=4", "--set", "eval.max_images=4",
                           "--metrics", "psnr", "--data-root", root, "--output-root", out, *extra)
    assert code == 0, err
    (run_dir,) = sorted((out / "runs").iterdir())
    return run_dir


def test_smoke_training_with_void_pixels(imported, tmp_path):
    root, _ = imported
    run_dir = smoke_run(root, tmp_path / "ignored")
    ids = [np.asarray(Image.open(p)) for p in sorted((run_dir / "images" / "label_ids").glob("*.png"))]
    assert len(ids) == 4 and all((a[0] == 255).all() for a in ids)      # void reaches evaluation as 255
    assert json.loads((run_dir / "status.json").read_text())["status"] == "ok"
    (record,) = ResultsStore(tmp_path / "ignored" / "bench.sqlite").runs()
    assert record.protocol["dataset_options"]["void_as_background"] is False

    run_dir = smoke_run(root, tmp_path / "background", "--set", "voc2012.void_as_background=true")
    ids = [np.asarray(Image.open(p)) for p in sorted((run_dir / "images" / "label_ids").glob("*.png"))]
    assert all(255 not in a for a in ids)
    (record,) = ResultsStore(tmp_path / "background" / "bench.sqlite").runs()
    assert record.protocol["dataset_options"]["void_as_background"] is True
