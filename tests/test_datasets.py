"""`bench datasets` and the dataset plugins: the real facades archive, synthetic-facades, a user folder,
and imports that must be refused without leaving anything behind."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from bench_plugins.datasets.facades_classes import CLASS_NAMES, PALETTE
from PIL import Image
from scipy import ndimage

from benchmark.cli import datasets as datasets_cli
from benchmark.data.dataset import BadFiles, nearest_palette
from benchmark.registry.plugins import default
from benchmark.testing import call_cli, one_error_line

ARCHIVE = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "facades.tar.gz"
REENCODED_SHA256 = "e819e4d7a1034f7050ceb7b4ff7fb22e725358accf032ea595c0c1fac4af1be1"
needs_archive = pytest.mark.skipif(not ARCHIVE.is_file(),
                                   reason=f"the facades archive is not at {ARCHIVE} (shared/ is cloned beside the repo)")


def cli(*argv) -> tuple[int, str, str]:
    """`bench ARGV` in this process (:func:`benchmark.testing.call_cli`): (exit code, stdout, stderr)."""
    result = call_cli(*argv)
    return result.returncode, result.stdout, result.stderr


def error_line(code: int, err: str) -> str:
    return one_error_line(code, err, exit_code=2)


def spec(name: str):
    return default().datasets.get(name)


def load(name: str, root: Path, split: str, **options):
    s = spec(name)
    return s.load(root, split, s.Options(**options), BadFiles(skip=False))


def label_half(path: Path) -> np.ndarray:
    """The raw RGB label half (right) of a pix2pix facades file, decoded independently of the loader."""
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"))
    return rgb[:, rgb.shape[1] // 2:]


# ---------------------------------------------------------------- the real facades archive

SAMPLE_STEMS = ["1", "50", "123", "250", "399"]


@pytest.fixture(scope="module")
def facades(tmp_path_factory):
    """The shared archive imported once through `bench datasets import`: (data root, stdout)."""
    if not ARCHIVE.is_file():
        pytest.skip(f"the facades archive is not at {ARCHIVE} (shared/ is cloned beside the repo)")
    root = tmp_path_factory.mktemp("facades-data")
    code, out, err = cli("datasets", "import", "facades", ARCHIVE, "--data-root", root)
    assert code == 0, err
    return root, out


@pytest.fixture(scope="module")
def facades_samples(facades):
    root, _ = facades
    return {split: load("facades", root, split) for split in ("train", "test")}


def train_file(root: Path, stem: str) -> Path:
    return root / "facades" / "facades" / "train" / f"{stem}.jpg"


@needs_archive
def test_facades_import_reports_counts_and_keeps_manifest(facades):
    root, out = facades
    assert "400 train, 106 test" in out and str(root / "facades") in out
    manifest = json.loads((root / "facades" / "MANIFEST.json").read_text())
    assert manifest["sha256"] == REENCODED_SHA256
    assert not (root / "facades.importing").exists()


@needs_archive
def test_facades_loader_sizes_and_ids(facades_samples):
    assert len(facades_samples["train"]) == 400 and len(facades_samples["test"]) == 106
    for split in ("train", "test"):
        for s in facades_samples[split]:
            assert s.image.shape == (256, 256, 3) and s.image.dtype == np.uint8
            assert s.label.shape == (256, 256) and s.label.dtype == np.uint8
            assert int(s.label.max()) < len(CLASS_NAMES)
    # natural order: 1, 2, ..., 400 (not 1, 10, 100, ...)
    assert [s.stem for s in facades_samples["train"][:3]] == ["1", "2", "3"]


@needs_archive
def test_facades_ids_equal_an_independent_per_pixel_argmin(facades, facades_samples):
    root, _ = facades
    pal = np.asarray(PALETTE, dtype=np.float64)
    by_stem = {s.stem: s for s in facades_samples["train"]}
    for stem in SAMPLE_STEMS:
        rgb = label_half(train_file(root, stem)).astype(np.float64)
        dist = np.stack([np.sqrt(((rgb - c) ** 2).sum(-1)) for c in pal])   # (12, H, W), Euclidean
        expected = dist.argmin(0)
        assert np.array_equal(by_stem[stem].label, expected), stem
        assert np.array_equal(by_stem[stem].image, np.asarray(Image.open(train_file(root, stem)).convert("RGB"))[:, :256])


@needs_archive
def test_facades_palette_fits_and_noise_stays_at_edges(facades, facades_samples):
    """Every flat label region is within 30 of its palette colour; pixels far (> 60) from every palette
    colour occur only where the colour changes (JPEG noise at region edges), and few pixels end up in
    tiny connected fragments."""
    root, _ = facades
    pal = np.asarray(PALETTE, dtype=np.float64)
    by_stem = {s.stem: s for s in facades_samples["train"]}
    for stem in SAMPLE_STEMS:
        rgb = label_half(train_file(root, stem)).astype(np.float64)
        nearest = np.sqrt(((rgb[:, :, None, :] - pal) ** 2).sum(-1)).min(-1)
        spread = np.max([ndimage.maximum_filter(rgb[..., k], 5) - ndimage.minimum_filter(rgb[..., k], 5)
                         for k in range(3)], axis=0)
        flat = spread < 20
        assert flat.mean() > 0.3, stem
        assert nearest[flat].max() < 30, stem
        assert not ((nearest > 60) & (spread < 30)).any(), stem
        ids = by_stem[stem].label
        tiny = 0
        for c in np.unique(ids):
            parts, _ = ndimage.label(ids == c)
            sizes = np.bincount(parts.ravel())[1:]
            tiny += int(sizes[sizes <= 4].sum())
        assert tiny / ids.size < 0.02, (stem, tiny)


@needs_archive
@pytest.mark.xfail(strict=True, reason=(
    "known bug: this re-encoded copy has chroma-subsampled label edges (about 15% of label pixels are "
    "farther than 60 from every palette colour); nearest-RGB mapping turns blends of two colours into a "
    "third class that is not in the image (e.g. thin yellow blind bars of train/1.jpg become balcony/sill, "
    "blends become cornice), in 37 of the first 40 images"))
def test_facades_mapping_creates_no_stray_classes(facades, facades_samples):
    """A class with (almost) no clean pixel in an image was made by the mapping, not by the annotator."""
    root, _ = facades
    pal = np.asarray(PALETTE, dtype=np.float64)
    by_stem = {s.stem: s for s in facades_samples["train"]}
    stray = total = 0
    for stem in [str(i) for i in range(1, 21)]:
        rgb = label_half(train_file(root, stem)).astype(np.float64)
        nearest = np.sqrt(((rgb[:, :, None, :] - pal) ** 2).sum(-1)).min(-1)
        ids = by_stem[stem].label
        mapped = np.bincount(ids.ravel(), minlength=len(PALETTE))
        clean = np.bincount(ids[nearest < 30], minlength=len(PALETTE))
        stray += int(mapped[(mapped > 0) & (clean < 20)].sum())
        total += ids.size
    assert stray / total < 0.005, f"{stray / total:.2%} of pixels belong to classes without a clean pixel"


@needs_archive
def test_facades_verify_reports_the_known_reencoded_copy(facades):
    root, _ = facades
    code, out, err = cli("datasets", "verify", "facades", "--data-root", root)
    assert code == 0, err
    assert "OK facades: 400 train, 106 test" in out
    assert REENCODED_SHA256 in out and "known copy" in out and "re-encoded" in out


@needs_archive
def test_facades_preview_writes_a_png_grid(facades, tmp_path):
    root, _ = facades
    out_png = tmp_path / "grid.png"
    code, out, err = cli("datasets", "preview", "facades", out_png, "--count", "3", "--data-root", root)
    assert code == 0, err
    assert str(out_png) in out
    with Image.open(out_png) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        g = datasets_cli.GAP
        assert im.size == (g + 3 * (2 * datasets_cli.TILE + g), datasets_cli.TILE + 2 * g)
        grid = np.asarray(im)
    # the first tile is the coloured label map: only palette colours (nearest resize keeps them)
    tile = grid[g:g + datasets_cli.TILE, g:g + datasets_cli.TILE].reshape(-1, 3)
    assert {tuple(c) for c in np.unique(tile, axis=0)} <= set(PALETTE)


@needs_archive
def test_list_and_info_show_status(facades, tmp_path):
    root, _ = facades
    code, out, _ = cli("datasets", "list", "--data-root", root)
    assert code == 0
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 2}
    assert "ready" in rows["facades"] and "not imported" in rows["folder"] and "ready" in rows["synthetic-facades"]
    code, out, _ = cli("datasets", "list", "--data-root", tmp_path / "empty")
    assert "not imported" in {ln.split("│")[1].strip(): ln for ln in out.splitlines() if ln.count("│") > 2}["facades"]
    code, out, _ = cli("datasets", "info", "facades", "--data-root", root)
    assert code == 0
    flat = "".join(ch for ch in out if not ch.isspace() and ch not in "│┌┐└┘├┤─┬┴┼")  # rich may wrap a long path
    for text in ("CMP", "400", "106", "window", "side-by-side", "GCPR2013", str(root / "facades"), "ready"):
        assert text in flat, text


# ---------------------------------------------------------------- nearest_palette by hand


def test_nearest_palette_maps_noisy_colours_to_their_ids():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, len(PALETTE), (40, 50))
    rgb = np.asarray(PALETTE, dtype=np.int32)[ids] + rng.integers(-10, 11, (40, 50, 3))
    mapped = nearest_palette(np.clip(rgb, 0, 255).astype(np.uint8), PALETTE)
    assert mapped.dtype == np.uint8 and mapped.shape == (40, 50)
    assert np.array_equal(mapped, ids)
    # exact colours, and a tie (equidistant from ids 1 and 2) goes to the lower id
    exact = np.asarray(PALETTE, dtype=np.uint8)[None]
    assert nearest_palette(exact, PALETTE).tolist() == [list(range(len(PALETTE)))]
    assert nearest_palette(np.array([[[0, 88, 255]]], dtype=np.uint8), PALETTE).item() == 1


# ---------------------------------------------------------------- synthetic-facades

SMALL = ["--set", "synthetic-facades.train_size=8", "--set", "synthetic-facades.test_size=4",
         "--set", "synthetic-facades.size=64"]


def test_synthetic_small_loads_and_is_deterministic(tmp_path):
    code, out, err = cli("datasets", "verify", "synthetic-facades", *SMALL, "--data-root", tmp_path / "a")
    assert code == 0, err
    assert "OK synthetic-facades: 8 train, 4 test" in out
    opts = {"train_size": 8, "test_size": 4, "size": 64}
    first = {split: load("synthetic-facades", tmp_path / "a", split, **opts) for split in ("train", "test")}
    second = {split: load("synthetic-facades", tmp_path / "b", split, **opts) for split in ("train", "test")}
    assert [len(first["train"]), len(first["test"])] == [8, 4]
    for split in ("train", "test"):
        for x, y in zip(first[split], second[split]):
            assert x.image.shape == (64, 64, 3) and x.label.shape == (64, 64)
            assert np.array_equal(x.image, y.image) and np.array_equal(x.label, y.label)
            assert int(x.label.max()) < 12
    # the test split is new pairs, not the training ones again
    assert not np.array_equal(first["train"][0].image, first["test"][0].image)


def test_synthetic_preview_default_path(tmp_path):
    code, _, err = cli("datasets", "preview", "synthetic-facades", *SMALL, "--count", "2",
                             "--data-root", tmp_path)
    assert code == 0, err
    assert (tmp_path / "synthetic-facades" / "preview.png").is_file()


def test_synthetic_cannot_be_imported(tmp_path):
    line = error_line(*cli("datasets", "import", "synthetic-facades", tmp_path, "--data-root", tmp_path)[::2])
    assert "synthetic-facades" in line and "generated" in line


# ---------------------------------------------------------------- a user folder


def make_folder(root: Path, n: int = 5, size: int = 16) -> Path:
    rng = np.random.default_rng(1)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "dataset.toml").write_text('classes = ["sky", "wall", "window"]\n')
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / "images" / f"img{i}.png")
        Image.fromarray(rng.integers(0, 3, (size, size), dtype=np.uint8)).save(root / "labels" / f"img{i}.png")
    return root


def test_folder_import_and_load(tmp_path):
    src = make_folder(tmp_path / "mine")
    data = tmp_path / "data"
    code, out, err = cli("datasets", "import", "folder", src, "--data-root", data)
    assert code == 0, err
    assert "4 train, 1 test" in out
    assert (data / "folder" / "dataset.toml").is_file() and (data / "folder" / "MANIFEST.json").is_file()
    train, test = load("folder", data, "train"), load("folder", data, "test")
    assert [s.stem for s in train] == ["img0", "img1", "img2", "img3"] and [s.stem for s in test] == ["img4"]
    assert train[0].image.shape == (16, 16, 3) and train[0].label.shape == (16, 16)
    assert spec("folder").class_names == ["sky", "wall", "window"]
    code, out, err = cli("datasets", "verify", "folder", "--data-root", data)
    assert code == 0 and "OK folder: 4 train, 1 test" in out, err
    # a folder used in place, without importing it
    code, out, err = cli("datasets", "verify", "folder", "--set", f"folder.path={src}", "--data-root", tmp_path / "x")
    assert code == 0 and "OK folder: 4 train, 1 test" in out, err


def test_folder_import_without_card_is_refused(tmp_path):
    src = make_folder(tmp_path / "mine")
    (src / "dataset.toml").unlink()
    line = error_line(*cli("datasets", "import", "folder", src, "--data-root", tmp_path / "data")[::2])
    assert "dataset.toml" in line and "classes" in line
    assert not (tmp_path / "data" / "folder").exists()
    assert not (tmp_path / "data" / "folder.importing").exists()


# ---------------------------------------------------------------- refused imports and usage errors


def jpeg_bytes(width: int = 8, height: int = 4) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (0, 48, 255)).save(buf, format="JPEG")
    return buf.getvalue()


def make_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_path_traversal_archive_is_refused_and_leaves_nothing(tmp_path):
    evil = make_tar(tmp_path / "evil.tar.gz", {"facades/train/1.jpg": jpeg_bytes(),
                                                "facades/../../escaped.txt": b"gotcha"})
    data = tmp_path / "data"
    line = error_line(*cli("datasets", "import", "facades", evil, "--data-root", data)[::2])
    assert "evil.tar.gz" in line and "refusing" in line and "escaped.txt" in line
    assert not (data / "facades").exists()
    assert not any(data.iterdir()) if data.exists() else True
    assert not (tmp_path / "escaped.txt").exists()


def test_incomplete_facades_archive_is_refused_and_leaves_nothing(tmp_path):
    members = {f"facades/train/{i}.jpg": jpeg_bytes() for i in range(1, 4)}
    members.update({f"facades/test/{i}.jpg": jpeg_bytes() for i in range(1, 107)})
    archive = make_tar(tmp_path / "partial.tar.gz", members)
    data = tmp_path / "data"
    line = error_line(*cli("datasets", "import", "facades", archive, "--data-root", data)[::2])
    assert "facades/train" in line and "3 images, expected 400" in line and "incomplete" in line
    assert not (data / "facades").exists()
    assert not any(data.iterdir())


def test_missing_archive_and_usage_errors(tmp_path):
    line = error_line(*cli("datasets", "import", "facades", tmp_path / "nope.tar.gz",
                               "--data-root", tmp_path)[::2])
    assert "nope.tar.gz" in line
    line = error_line(*cli("datasets", "verify")[::2])
    assert "usage: bench datasets verify NAME" in line
    line = error_line(*cli("datasets", "import", "facades", "--data-root", tmp_path)[::2])
    assert "usage: bench datasets import NAME PATH" in line
    line = error_line(*cli("datasets", "info", "facade")[::2])
    assert "unknown dataset 'facade'" in line and "facades" in line
    line = error_line(*cli("datasets", "verify", "synthetic-facades", "--set", "synthetic-facades.trian_size=3",
                               "--data-root", tmp_path)[::2])
    assert "synthetic-facades.trian_size" in line and "train_size" in line
    line = error_line(*cli("datasets", "preview", "synthetic-facades", "--count", "0", "--data-root", tmp_path)[::2])
    assert "--count" in line


def test_verify_of_a_dataset_never_imported_does_not_download(tmp_path):
    line = error_line(*cli("datasets", "verify", "facades", "--data-root", tmp_path)[::2])
    assert str(tmp_path / "facades") in line and "bench datasets import facades" in line
    assert not (tmp_path / "downloads").exists()


def test_checksum_note_kinds():
    s = spec("facades")
    assert "known copy" in datasets_cli.checksum_note(s, REENCODED_SHA256)
    assert "unknown" in datasets_cli.checksum_note(s, "0" * 64)
    assert datasets_cli.checksum_note(s, None) is None
