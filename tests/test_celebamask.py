"""`celebamask-hq`: a small fake release in the real layout (photos, part masks in folders of 2000, the
CelebA mapping), imported through the `bench` CLI (merging the masks once), read back, split, verified and
trained on; bad inputs give one clear line. The merged maps are checked against hand-computed geometry."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from bench_plugins.datasets.celebamask_classes import CLASS_NAMES, PALETTE
from PIL import Image

from benchmark.cli import datasets as datasets_cli
from benchmark.data.dataset import BadFiles
from benchmark.registry.plugins import default
from benchmark.testing import call_cli, one_error_line

PHOTO = 64                    # the release's photos are 1024 px; any square size is read the same way
MASK = 512
NUMBERS = [0, 1, 2, 3, 9, 2001]
#: CelebA-HQ number -> CelebA file number, at the edges of CelebA's partition
#: (train ..162770, validation 162771..182637, test 182638..)
CELEBA_FILE = {0: 1, 1: 162771, 2: 182638, 3: 162770, 9: 182637, 2001: 202599}

# image 0: (part, rows, cols); l_eye is absent; hair overlaps skin, hat overlaps hair, eye_g overlaps nose
IMAGE0 = [("skin", (100, 400), (100, 400)), ("nose", (200, 300), (220, 290)), ("eye_g", (180, 220), (150, 350)),
          ("hair", (50, 150), (50, 450)), ("hat", (40, 80), (200, 300)), ("cloth", (450, 512), (0, 512))]


def cli(*argv) -> tuple[int, str, str]:
    """`bench ARGV` in this process (:func:`benchmark.testing.call_cli`): (exit code, stdout, stderr)."""
    result = call_cli(*argv)
    return result.returncode, result.stdout, result.stderr


def error_line(code: int, err: str) -> str:
    """The one error line (after any progress lines of the import), no traceback."""
    return " ".join(one_error_line(code, err, exit_code=2, progress_prefix="celebamask-hq: ").split())


def spec():
    return default().datasets.get("celebamask-hq")


def load(root: Path, which: str, **options):
    """Split ``which`` read with the dataset ``options`` (one of which is called ``split``)."""
    s = spec()
    return s.load(root, which, s.Options(**options), BadFiles(skip=False))


# ---------------------------------------------------------------- a fake release

def photo_of(n: int) -> np.ndarray:
    """A smooth square photo (gradients), so that any good downscale gives about the same pixels."""
    y, x = np.mgrid[0:PHOTO, 0:PHOTO].astype(np.float64)
    rgb = np.stack([x * 3, y * 3, (x + y) * 1.5 + 10 * (NUMBERS.index(n) if n in NUMBERS else 0)], -1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def write_mask(path: Path, rows, cols, mode: str = "L", size: int = MASK) -> None:
    mask = np.zeros((size, size), dtype=np.uint8)
    mask[rows[0]:rows[1], cols[0]:cols[1]] = 255
    im = Image.fromarray(mask)
    (im.convert("RGB") if mode == "RGB" else im).save(path)


def fake_release(base: Path, mapping: bool = True) -> Path:
    root = base / "CelebAMask-HQ"
    (root / "CelebA-HQ-img").mkdir(parents=True)
    anno = root / "CelebAMask-HQ-mask-anno"
    for n in NUMBERS:
        Image.fromarray(photo_of(n)).save(root / "CelebA-HQ-img" / f"{n}.jpg", quality=95)
        folder = anno / str(n // 2000)
        folder.mkdir(parents=True, exist_ok=True)
        parts = IMAGE0 if n == 0 else [("skin", (10 * (n % 7), 300), (20, 500))]
        for part, rows, cols in parts:
            write_mask(folder / f"{n:05d}_{part}.png", rows, cols, mode="RGB" if part == "hair" else "L")
    if mapping:
        lines = ["idx orig_idx orig_file"] + [f"{n}  {f - 1}   {f:06d}.jpg" for n, f in CELEBA_FILE.items()]
        (root / "CelebA-HQ-to-CelebA-mapping.txt").write_text("\n".join(lines) + "\n")
    (root / "CelebAMask-HQ-attribute-anno.txt").write_text("not used\n")
    return base


def make_zip(folder: Path, path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for p in sorted(folder.rglob("*")):
            zf.write(p, p.relative_to(folder).as_posix())
    return path


def expected_image0() -> np.ndarray:
    """Image 0's merged map, painted by hand in class order (skin 1, nose 2, eye_g 3, hair 13, hat 14, cloth 18)."""
    ids = {"skin": 1, "nose": 2, "eye_g": 3, "hair": 13, "hat": 14, "cloth": 18}
    out = np.zeros((MASK, MASK), dtype=np.uint8)
    for part, rows, cols in sorted(IMAGE0, key=lambda p: ids[p[0]]):
        out[rows[0]:rows[1], cols[0]:cols[1]] = ids[part]
    return out


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return fake_release(tmp_path_factory.mktemp("celeba-src"))


@pytest.fixture(scope="module")
def imported(source, tmp_path_factory):
    """The fake release zipped and imported once through `bench datasets import`: (data root, stdout, zip)."""
    archive = make_zip(source, tmp_path_factory.mktemp("celeba-zip") / "CelebAMask-HQ.zip")
    root = tmp_path_factory.mktemp("celeba-data")
    code, out, err = cli("datasets", "import", "celebamask-hq", archive, "--data-root", root)
    assert code == 0, err
    return root, out, archive


# ---------------------------------------------------------------- classes

def test_classes_follow_the_face_synthesis_report():
    assert CLASS_NAMES == ["background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear",
                           "r_ear", "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth"]
    assert len(PALETTE) == 19 and len(set(PALETTE)) == 19
    s = spec()
    assert s.source.kind == "manual" and "CelebAMask-HQ.zip" in s.source.instructions
    assert s.ignore_index is None


# ---------------------------------------------------------------- import and the merged maps

def test_import_writes_merged_maps_and_copies_photos(imported, source):
    root, out, archive = imported
    assert "imported celebamask-hq: 2 train, 2 test images" in out
    folder = root / "celebamask-hq"
    assert sorted(p.name for p in folder.iterdir()) == ["CelebA-HQ-to-CelebA-mapping.txt", "MANIFEST.json",
                                                         "images", "labels"]
    for n in NUMBERS:
        assert (folder / "images" / f"{n}.jpg").read_bytes() == \
            (source / "CelebAMask-HQ" / "CelebA-HQ-img" / f"{n}.jpg").read_bytes()
        with Image.open(folder / "labels" / f"{n}.png") as im:
            assert im.mode == "P" and im.size == (MASK, MASK)
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    assert manifest["archive_sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert manifest["images"] == 6 and manifest["mapping"] is True
    assert not (root / "celebamask-hq.importing").exists()


def test_overlaps_go_to_the_later_class_and_missing_parts_stay_out(imported):
    root, _, _ = imported
    label = np.asarray(Image.open(root / "celebamask-hq" / "labels" / "0.png"))
    probes = {(0, 0): 0, (120, 120): 13, (160, 120): 1, (250, 250): 2, (210, 250): 3, (190, 160): 3,
              (60, 250): 14, (45, 250): 14, (60, 60): 13, (500, 10): 18, (420, 420): 0}
    assert {p: int(label[p]) for p in probes} == probes
    # areas by hand: hat 40*100; hair 100*400 - 30*100 under the hat; eye_g 40*200; nose 100*70 - 20*70 under
    # eye_g; skin 300*300 - 50*300 under hair - 8000 eye_g - 5600 nose; cloth 62*512; l_eye (4) has no file
    areas = np.bincount(label.ravel(), minlength=19)
    assert areas[14] == 4000 and areas[13] == 37000 and areas[3] == 8000 and areas[2] == 5600
    assert areas[1] == 61400 and areas[18] == 31744 and areas[4] == 0
    assert areas[0] == MASK * MASK - 147744
    assert np.array_equal(label, expected_image0())
    other = np.asarray(Image.open(root / "celebamask-hq" / "labels" / "2001.png"))
    assert set(np.unique(other).tolist()) == {0, 1} and int(other.sum()) == (300 - 60) * 480   # skin rows 10 * (2001 % 7) = 60 .. 300


def test_loading_resizes_labels_nearest_and_photos_smoothly(imported, source):
    root, _, _ = imported
    full = {s.stem: s for s in load(root, "train", size=512)}
    assert np.array_equal(full["0"].label, expected_image0())
    small = {s.stem: s for s in load(root, "train", size=32)}
    # nearest from 512 to 32 px takes the centre pixel of each 16x16 block
    assert np.array_equal(small["0"].label, expected_image0()[8::16, 8::16])
    photo = np.asarray(Image.open(source / "CelebAMask-HQ" / "CelebA-HQ-img" / "3.jpg").convert("RGB"))
    box = photo.astype(np.float64).reshape(32, 2, 32, 2, 3).mean((1, 3))       # 2x2 box downscale
    assert small["3"].image.shape == (32, 32, 3) and small["3"].image.dtype == np.uint8
    assert np.abs(small["3"].image[2:-2, 2:-2] - box[2:-2, 2:-2]).mean() < 2.0


def test_splits_follow_celeba_or_every_tenth(imported):
    root, _, _ = imported

    def stems(which: str, **options) -> list[str]:
        return [s.stem for s in load(root, which, size=16, **options)]

    assert stems("train") == ["0", "3"] and stems("test") == ["2", "2001"]        # validation (1, 9) unused
    assert stems("train", split="every-tenth") == ["0", "1", "2", "3", "2001"]
    assert stems("test", split="every-tenth") == ["9"]
    assert stems("train", train_size=1) == ["0"] and stems("test", test_size=1) == ["2"]


def test_verify_checks_counts_against_the_split(imported):
    root, _, _ = imported
    code, out, err = cli("datasets", "verify", "celebamask-hq", "--set", "celebamask-hq.train_size=2",
                             "--set", "celebamask-hq.test_size=2", "--set", "celebamask-hq.size=32", "--data-root", root)
    assert code == 0, err
    assert "OK celebamask-hq: 2 train, 2 test" in out
    assert "sha256" not in out          # no checksum is published, so none is compared
    line = error_line(*cli("datasets", "verify", "celebamask-hq", "--set", "celebamask-hq.size=32",
                               "--data-root", root)[::2])
    assert "split 'train' has 2 images, expected 24183" in line
    line = error_line(*cli("datasets", "verify", "celebamask-hq", "--set", "celebamask-hq.split=every-tenth",
                               "--set", "celebamask-hq.size=32", "--data-root", root)[::2])
    assert "split 'train' has 5 images, expected 27000" in line


def test_preview(imported, tmp_path):
    root, _, _ = imported
    png = tmp_path / "faces.png"
    code, out, err = cli("datasets", "preview", "celebamask-hq", png, "--set", "celebamask-hq.size=64",
                             "--data-root", root)
    assert code == 0, err
    g, t = datasets_cli.GAP, datasets_cli.TILE
    tile = np.asarray(Image.open(png).convert("RGB"))[g:g + t, g:g + t].reshape(-1, 3)
    assert {tuple(int(v) for v in c) for c in np.unique(tile, axis=0)} <= set(PALETTE)


def test_folder_without_mapping_uses_every_tenth_when_asked(tmp_path):
    src = fake_release(tmp_path / "src", mapping=False)
    code, out, err = cli("datasets", "import", "celebamask-hq", src, "--set", "celebamask-hq.split=every-tenth",
                             "--set", "celebamask-hq.size=16", "--data-root", tmp_path / "data")
    assert code == 0, err
    assert "5 train, 1 test" in out
    assert (src / "CelebAMask-HQ" / "CelebAMask-HQ-mask-anno").is_dir()     # the source is left alone
    line = error_line(*cli("datasets", "verify", "celebamask-hq", "--data-root", tmp_path / "data")[::2])
    assert "CelebA-HQ-to-CelebA-mapping.txt: missing, and split 'celeba' needs it" in line
    assert "split=every-tenth" in line


# ---------------------------------------------------------------- bad input: one clear line each

def import_error(src: Path, data: Path) -> str:
    line = error_line(*cli("datasets", "import", "celebamask-hq", src, "--data-root", data)[::2])
    assert not (data / "celebamask-hq").exists() and not (data / "celebamask-hq.importing").exists()
    return line


def test_missing_path_and_missing_mask_folder(tmp_path):
    line = import_error(tmp_path / "CelebAMask-HQ.zip", tmp_path / "data")
    assert "CelebAMask-HQ.zip: no such file or folder" in line
    src = fake_release(tmp_path / "src")
    shutil.rmtree(src / "CelebAMask-HQ" / "CelebAMask-HQ-mask-anno")
    line = import_error(src, tmp_path / "data")
    assert "src: no CelebAMask-HQ/CelebAMask-HQ-mask-anno/ folder" in line and "unpack the whole CelebAMask-HQ.zip" in line


def test_archive_of_another_dataset(tmp_path):
    other = tmp_path / "voc.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt", "2007_000032\n")
    line = import_error(other, tmp_path / "data")
    assert "no CelebAMask-HQ/CelebA-HQ-img/ folder" in line and "not the CelebAMask-HQ release" in line


def test_mask_of_the_wrong_size(tmp_path):
    src = fake_release(tmp_path / "src")
    write_mask(src / "CelebAMask-HQ" / "CelebAMask-HQ-mask-anno" / "0" / "00003_l_eye.png", (1, 5), (1, 5), size=256)
    line = import_error(src, tmp_path / "data")
    assert "00003_l_eye.png: part mask is 256x256, the release's masks are 512x512" in line


def test_photo_without_masks_and_misplaced_or_unknown_masks(tmp_path):
    src = fake_release(tmp_path / "src")
    anno = src / "CelebAMask-HQ" / "CelebAMask-HQ-mask-anno"
    (anno / "0" / "00002_skin.png").unlink()
    line = import_error(src, tmp_path / "data")
    assert "2.jpg: no part masks" in line and "00002_PART.png" in line
    write_mask(anno / "0" / "00002_skin.png", (0, 9), (0, 9))
    shutil.move(anno / "1" / "02001_skin.png", anno / "0" / "02001_skin.png")
    line = import_error(src, tmp_path / "data")
    assert "02001_skin.png: the mask of image 2001 belongs in folder 1, not 0" in line
    shutil.move(anno / "0" / "02001_skin.png", anno / "1" / "02001_skin.png")
    write_mask(anno / "0" / "00001_beard.png", (0, 9), (0, 9))
    line = import_error(src, tmp_path / "data")
    assert "00001_beard.png: not a part mask of the release" in line


def test_unknown_and_invalid_options(imported):
    root, _, _ = imported
    line = error_line(*cli("datasets", "verify", "celebamask-hq", "--set", "celebamask-hq.sise=64",
                               "--data-root", root)[::2])
    assert "unknown option 'celebamask-hq.sise'" in line and "size" in line
    line = error_line(*cli("datasets", "verify", "celebamask-hq", "--set", "celebamask-hq.split=random",
                               "--data-root", root)[::2])
    assert "invalid value for 'celebamask-hq.split'" in line and "every-tenth" in line


def test_never_imported_says_where_to_get_it(tmp_path):
    line = error_line(*cli("datasets", "verify", "celebamask-hq", "--data-root", tmp_path)[::2])
    assert "dataset 'celebamask-hq' not found" in line and "CelebAMask-HQ.zip" in line


# ---------------------------------------------------------------- training on it

def test_smoke_training(imported, tmp_path):
    root, _, _ = imported
    code, _, err = cli("run", "--models", "pix2pix", "--profile", "smoke", "--steps", "2",
                           "--dataset", "celebamask-hq", "--set", "celebamask-hq.split=every-tenth",
                           "--set", "celebamask-hq.size=32", "--set", "eval.max_images=1",
                           "--metrics", "psnr", "--data-root", root, "--output-root", tmp_path)
    assert code == 0, err
    (run_dir,) = sorted((tmp_path / "runs").iterdir())
    assert json.loads((run_dir / "status.json").read_text())["status"] == "ok"
    assert [p.name for p in (run_dir / "images" / "fake").iterdir()] == ["9.png"]
