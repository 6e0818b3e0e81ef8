"""Reading the CelebAMask-HQ release: its layout, the merge of the part masks, the CelebA partition.

The release (``CelebAMask-HQ.zip`` from the project page, layout as documented in
the official repository's README and read by its scripts)::

    CelebAMask-HQ/CelebA-HQ-img/N.jpg                          30000 photos, 1024x1024, N = 0..29999
    CelebAMask-HQ/CelebAMask-HQ-mask-anno/K/NNNNN_PART.png     512x512 black-and-white part masks:
                                                               K = N // 2000 (folders 0..14), NNNNN = N
                                                               zero-padded to 5 digits, PART one of the
                                                               18 part names; a part an image lacks has
                                                               no file
    CelebAMask-HQ/CelebA-HQ-to-CelebA-mapping.txt              header "idx orig_idx orig_file", then per
                                                               photo: N, its 0-based CelebA index and its
                                                               CelebA file name (e.g. "0 119613 119614.jpg")

(The attribute and pose annotation files are not used.)

Merging follows the release's ``face_parsing/Data_preprocessing/g_mask.py``: start
from background (0) and, for each part in class order, give the part's class id
to every pixel where its mask is non-zero, so a later class overwrites an earlier
one where masks overlap. One difference: that script reads only the first colour
channel of each mask; here a pixel is inside a mask when any channel is non-zero,
which is the same for the release's black-and-white masks.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from bench_plugins.datasets.celebamask_classes import MASK_SIZE, PARTS
from PIL import Image, UnidentifiedImageError

from benchmark import DataError, find_dir

IMAGES = "CelebA-HQ-img"
MASKS = "CelebAMask-HQ-mask-anno"
MAPPING = "CelebA-HQ-to-CelebA-mapping.txt"
#: photos per mask folder K
PER_FOLDER = 2000
#: CelebA's official partition (its list_eval_partition.txt) by 1-based file number:
#: 000001-162770 train, 162771-182637 validation, 182638-202599 test
CELEBA_LAST_TRAIN, CELEBA_LAST_VAL = 162770, 182637

_PHOTO = re.compile(r"(\d+)\.jpg")
_MASK = re.compile(r"(\d{5})_([a-z_]+)\.png")
_CLASS_OF = {part: i + 1 for i, part in enumerate(PARTS)}


def find_release(tree: Path, src: Path) -> Path:
    """The release's top folder (holding CelebA-HQ-img/) in ``tree``, the unpacked archive or folder ``src``."""
    photos = find_dir(tree, f"CelebAMask-HQ/{IMAGES}") or find_dir(tree, IMAGES)
    if photos is None:
        raise DataError(f"{src}: no CelebAMask-HQ/{IMAGES}/ folder, so this is not the CelebAMask-HQ release; "
                        f"pass CelebAMask-HQ.zip from the project page or its unpacked folder")
    release = photos.parent
    if not (release / MASKS).is_dir():
        where = release.relative_to(tree) / MASKS
        raise DataError(f"{src}: no {where}/ folder (the part masks); the copy is incomplete, "
                        f"unpack the whole CelebAMask-HQ.zip")
    return release


def list_photos(folder: Path) -> dict[int, Path]:
    """``N.jpg`` files by image number; any other file (but hidden ones) is an error naming it."""
    photos = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        match = _PHOTO.fullmatch(path.name)
        if match is None or not path.is_file():
            raise DataError(f"{path}: not a photo of the release (N.jpg); move it out of {folder}")
        photos[int(match.group(1))] = path
    if not photos:
        raise DataError(f"{folder}: no photos (N.jpg); unpack the whole CelebAMask-HQ.zip")
    return photos


def index_masks(folder: Path) -> dict[int, list[tuple[int, Path]]]:
    """Part masks by image number, each list in class order: [(class id, path), ...]."""
    masks: dict[int, list[tuple[int, Path]]] = {}
    for sub in sorted(folder.iterdir()):
        if sub.name.startswith("."):
            continue
        if not (sub.is_dir() and sub.name.isdigit()):
            raise DataError(f"{sub}: not a mask folder of the release (0..14); move it out of {folder}")
        for path in sub.iterdir():
            if path.name.startswith("."):
                continue
            match = _MASK.fullmatch(path.name)
            if match is None or match.group(2) not in _CLASS_OF:
                raise DataError(f"{path}: not a part mask of the release (NNNNN_PART.png, PART one of "
                                f"{', '.join(PARTS)}); move it out of {sub}")
            number = int(match.group(1))
            if number // PER_FOLDER != int(sub.name):
                raise DataError(f"{path}: the mask of image {number} belongs in folder "
                                f"{number // PER_FOLDER}, not {sub.name}; restore the release's layout")
            masks.setdefault(number, []).append((_CLASS_OF[match.group(2)], path))
    for parts in masks.values():
        parts.sort()
    return masks


def read_mask(path: Path) -> np.ndarray:
    """A part mask as a boolean (512, 512) array: True where any channel is non-zero."""
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode == "P":
                im = im.convert("RGB")
            elif im.mode in ("LA", "RGBA", "PA"):
                im = im.convert("L" if im.mode == "LA" else "RGB")
            arr = np.asarray(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{path}: cannot be read as an image ({exc}); restore the file from the release") from None
    if arr.shape[:2] != (MASK_SIZE, MASK_SIZE):
        raise DataError(f"{path}: part mask is {arr.shape[1]}x{arr.shape[0]}, the release's masks are "
                        f"{MASK_SIZE}x{MASK_SIZE}; restore the file from the release")
    on = arr != 0
    return on.any(axis=-1) if on.ndim == 3 else on


def merge_masks(parts: list[tuple[int, Path]]) -> np.ndarray:
    """One (512, 512) uint8 label map from ``[(class id, mask path), ...]`` in class order."""
    label = np.zeros((MASK_SIZE, MASK_SIZE), dtype=np.uint8)
    for class_id, path in parts:
        label[read_mask(path)] = class_id
    return label


def read_mapping(path: Path) -> dict[int, int]:
    """CelebA-HQ image number -> 1-based CelebA file number, from the release's mapping file."""
    out = {}
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields or (lineno == 1 and not fields[0].isdigit()):
            continue   # the header line "idx orig_idx orig_file", blank lines
        if len(fields) != 3 or not fields[0].isdigit() or not Path(fields[2]).stem.isdigit():
            raise DataError(f"{path}: line {lineno} is not 'idx orig_idx orig_file' ({line.strip()!r}); "
                            f"restore the file from the release")
        out[int(fields[0])] = int(Path(fields[2]).stem)
    return out


def celeba_partition(celeba_file: int) -> str:
    """'train', 'val' or 'test': CelebA's official partition of a 1-based CelebA file number."""
    if celeba_file <= CELEBA_LAST_TRAIN:
        return "train"
    return "val" if celeba_file <= CELEBA_LAST_VAL else "test"


def every_tenth(number: int) -> str:
    """The deterministic fallback split: image numbers ending in 9 are test (3000 of 30000)."""
    return "test" if number % 10 == 9 else "train"
