"""`celebamask-hq`: CelebAMask-HQ face parsing maps -> 1024 px face photos, 19 classes.

The release is distributed by hand under a non-commercial licence (the project
page, mmlab.ie.cuhk.edu.hk/projects/CelebAMask-HQ.html, and the official
repository, github.com/switchablenorms/CelebAMask-HQ, give the download links):
download ``CelebAMask-HQ.zip`` and run ``bench datasets import celebamask-hq
CelebAMask-HQ.zip`` (or pass the unpacked folder). The import merges the 18
binary part masks of every photo into one label map, once, with a progress bar
(see :mod:`bench_plugins.datasets.celebamask_release` for the layout and the merge
rule), and stores under ``DATA_ROOT/celebamask-hq/``::

    images/N.jpg        the release's photos, byte for byte (1024x1024)
    labels/N.png        the merged maps, 512x512 palette PNGs whose indices are the class ids
    CelebA-HQ-to-CelebA-mapping.txt     copied from the release (for the split)
    MANIFEST.json       where it came from (and the archive's sha256, for provenance: none is published)

Splits (option ``split``):

- ``celeba`` (default): CelebA's official partition, through the release's
  CelebA-HQ-to-CelebA mapping: photos from CelebA's training part are ``train``
  (24183), those from its test part are ``test`` (2824); the 2993 photos from its
  validation part are not used. The release's face-parsing code derives its
  partition from the same mapping (its ``g_partition.py`` compares the 0-based
  CelebA index with the boundaries, which can move a photo at a boundary by one;
  here the 1-based file number is compared, as CelebA's list_eval_partition.txt
  lists it).
- ``every-tenth``: for copies without the mapping file: image numbers ending in 9
  are ``test`` (3000), the others ``train`` (27000).

The harness keeps a whole split in memory, so photos are loaded at ``size`` px
(default 256; JPEG decoding at a reduced scale of at least twice ``size``, then
bicubic), labels with nearest neighbour from 512 px; a 256 px pair takes 256 KB,
24183 of them about 6 GB, and the harness holds a second resized copy. Use
``train_size``/``test_size`` (the first N image numbers of a split) for smaller
runs. Every option is recorded in each run's protocol. ``bench datasets import``
and ``verify`` decode every file of both splits at ``size``: add ``--set
celebamask-hq.size=32`` to check them with little memory.
"""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np
from bench_plugins.datasets.celebamask_classes import CITATION, CLASS_NAMES, MASK_SIZE, PALETTE
from bench_plugins.datasets.celebamask_release import (
    IMAGES,
    MAPPING,
    MASKS,
    celeba_partition,
    every_tenth,
    find_release,
    index_masks,
    list_photos,
    merge_masks,
    read_mapping,
)
from bench_plugins.datasets.parallel import Problem, decode_split, ordered_map, try_read
from PIL import Image, UnidentifiedImageError
from pydantic import Field

from benchmark import (
    BadFiles,
    DataError,
    Dataset,
    LazySplit,
    Options,
    Reporter,
    Sample,
    Source,
    Unpacked,
    hookimpl,
    import_sources,
    label_problem,
)
from bench_plugins.datasets.columns import HEADLINE, PERCENT

PROJECT = "https://github.com/switchablenorms/CelebAMask-HQ"
PAGE = "http://mmlab.ie.cuhk.edu.hk/projects/CelebAMask-HQ.html"
#: split sizes of a complete release under each split rule
COUNTS = {"celeba": {"train": 24183, "test": 2824}, "every-tenth": {"train": 27000, "test": 3000}}


class CelebAMaskOptions(Options):
    split: Literal["celeba", "every-tenth"] = Field(
        "celeba", description="celeba: CelebA's official partition via the release's mapping file "
        "(24183 train / 2824 test, validation unused); every-tenth: image numbers ending in 9 are test")
    size: int = Field(256, ge=16, le=1024, description="side in pixels at which photos (1024 px) and label "
                      "maps (512 px) are loaded; a whole split is held in memory (256 px: ~256 KB per pair)")
    train_size: int | None = Field(None, ge=1, description="use only the first N photos (by image number) of "
                                   "the train split (default: all)")
    test_size: int | None = Field(None, ge=1, description="use only the first N photos (by image number) of "
                                  "the test split (default: all)")


class CelebAMaskHQ(Dataset):
    headline_columns = HEADLINE
    percent_columns = PERCENT
    name = "celebamask-hq"
    summary = ("CelebAMask-HQ: 19 face-part classes, 1024 px photos with 512 px maps merged from part masks, "
               "24183 train / 2824 test (CelebA's partition)")
    class_names = CLASS_NAMES
    palette = PALETTE
    splits = dict(COUNTS["celeba"])
    native_size = (MASK_SIZE, MASK_SIZE)
    source = Source("manual", url=PROJECT, instructions=(
        f"download CelebAMask-HQ.zip (non-commercial research use only) through the links on the project "
        f"page {PAGE} or the official repository {PROJECT}, then run: "
        f"bench datasets import celebamask-hq CelebAMask-HQ.zip"))
    layout = (f"CelebAMask-HQ/{{{IMAGES}/N.jpg, {MASKS}/K/NNNNN_PART.png (K = N // 2000), {MAPPING}}}; "
              f"imported as images/N.jpg + labels/N.png (merged)")
    license = ("non-commercial research and educational use only; no redistribution "
               "(the CelebAMask-HQ dataset agreement)")
    citation = CITATION
    Options = CelebAMaskOptions
    default_segmenter = "trained"  # a U-Net bench trains on the real training photos

    def card(self):
        return {**super().card(), "notes": (
            "label maps are merged at import from the 18 part masks in class order (a later class wins where "
            "masks overlap; no mask = background), as the release's g_mask.py does; split celeba (default): "
            "CelebA's official partition through the release's mapping (validation photos unused), "
            "every-tenth: image numbers ending in 9 are test; photos are loaded at option size (default 256 "
            "px) and resized by the harness to image_size (photos bicubic, labels nearest)"),
            "palette": "the release's visualisation colours (face_parsing/Data_preprocessing/g_color.py)"}

    # ------------------------------------------------------------ import

    def prepare(self, root, options: CelebAMaskOptions):
        folder = self.directory(root)
        if not (folder / "images").is_dir():
            raise DataError(self.missing_message(folder))
        self.splits = dict(COUNTS[options.split])   # what `bench datasets verify` expects of a full copy
        return folder

    def import_from(self, src: Path, root: Path) -> Path:
        if Path(src).is_file():
            Reporter().console.print(f"celebamask-hq: unpacking {Path(src).name} (minutes for the full release)",
                                     highlight=False, soft_wrap=True)
        # no checksum of the release is published, so the archive's is kept for provenance only (under
        # a key that `bench datasets verify` does not compare with a published one)
        return import_sources([src], self.directory(root), build, checksum=False,
                              hint="pass CelebAMask-HQ.zip or its unpacked folder")

    # ------------------------------------------------------------ reading

    def load(self, root, split, options: CelebAMaskOptions, bad: BadFiles) -> list[Sample]:
        return decode_split(self.index(root, split, options, bad), bad)

    def index(self, root, split, options: CelebAMaskOptions, bad: BadFiles) -> LazySplit:
        folder = self.directory(root)
        images, labels = folder / "images", folder / "labels"
        for sub in (images, labels):
            if not sub.is_dir():
                raise DataError(f"{sub}: folder not found; import the dataset with "
                                f"`bench datasets import celebamask-hq CelebAMask-HQ.zip`")
        numbers = sorted(int(p.stem) for p in images.glob("*.jpg") if p.stem.isdigit())
        assign = split_of(folder, options.split, numbers)
        limit = options.train_size if split == "train" else options.test_size
        chosen = [n for n in numbers if assign(n) == split][:limit]
        return LazySplit(partial(read_numbered, str(folder), options.size), chosen, [str(n) for n in chosen])


def build(unpacked: Unpacked, dest: Path) -> dict:
    """Write images/, labels/ and the mapping into ``dest`` from the unpacked (or in-place) release."""
    src, tree, move = unpacked.sources[0], unpacked.trees[0], unpacked.movable
    reporter = Reporter()
    release = find_release(tree, src)
    photos = list_photos(release / IMAGES)
    masks = index_masks(release / MASKS)
    bare = [n for n in photos if n not in masks]
    if bare:
        n = bare[0]
        raise DataError(f"{photos[n]}: no part masks in {release / MASKS / str(n // 2000)} "
                        f"({n:05d}_PART.png) for {len(bare)} photo(s); the copy is incomplete, "
                        f"unpack the whole CelebAMask-HQ.zip")
    if (release / MAPPING).is_file():
        read_mapping(release / MAPPING)            # refuse a damaged mapping now, not at the first load
        shutil.copyfile(release / MAPPING, dest / MAPPING)
    (dest / "images").mkdir()
    (dest / "labels").mkdir()
    palette = [c for colour in PALETTE for c in colour]

    def one(n: int) -> None:
        label = Image.fromarray(merge_masks(masks[n]))
        label.putpalette(palette)                      # mode L -> P: the indices stay the class ids
        label.save(dest / "labels" / f"{n}.png")
        target = dest / "images" / f"{n}.jpg"
        if move:
            photos[n].replace(target)
        else:
            shutil.copyfile(photos[n], target)

    reporter.start("celebamask-hq: merge part masks", len(photos))
    try:
        ordered_map(one, sorted(photos), on_result=reporter.update)
    finally:
        reporter.stop()
    archive = {"archive_sha256": unpacked.sha256[0]} if unpacked.sha256[0] else {}
    return {**archive, "images": len(photos), "mapping": (dest / MAPPING).is_file()}


def split_of(folder: Path, rule: str, numbers: list[int]):
    """A function image number -> 'train' | 'val' | 'test' under the split ``rule``."""
    if rule == "every-tenth":
        return every_tenth
    path = folder / MAPPING
    if not path.is_file():
        raise DataError(f"{path}: missing, and split 'celeba' needs it; re-import the whole release (it ships "
                        f"this file) or use --set celebamask-hq.split=every-tenth")
    mapping = read_mapping(path)
    missing = [n for n in numbers if n not in mapping]
    if missing:
        raise DataError(f"{path}: no line for image {missing[0]} ({len(missing)} photos unmapped); restore the "
                        f"release's mapping file or use --set celebamask-hq.split=every-tenth")
    return lambda n: celeba_partition(mapping[n])


def read_numbered(folder: str, size: int, number: int) -> Sample | Problem:
    """Face ``number`` of the stored release: ``images/N.jpg`` and ``labels/N.png``."""
    return read_face(Path(folder) / "images" / f"{number}.jpg", Path(folder) / "labels" / f"{number}.png", size)


def read_face(photo: Path, label_path: Path, size: int) -> Sample | Problem:
    """A photo (square, any size; the release's are 1024 px) and its merged 512 px map, both at ``size``."""
    if not photo.is_file():
        return Problem(photo, "file missing", "re-import the dataset")
    try:
        with Image.open(photo) as im:
            if im.size[0] != im.size[1]:
                return Problem(photo, f"photo is {im.size[0]}x{im.size[1]}, not square",
                               "restore the release's photo (they are 1024x1024)")
            im.draft("RGB", (2 * size, 2 * size))   # JPEG: decode at a reduced scale, still >= 2 * size
            rgb = im.convert("RGB")
            if rgb.size != (size, size):
                rgb = rgb.resize((size, size), Image.BICUBIC)
            image = np.asarray(rgb).copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return Problem(photo, "not a readable image (corrupt, truncated or not an image)",
                       "replace the file or remove it")
    label = try_read(label_path)
    if isinstance(label, Problem):
        return label
    problem = label_problem(label, (MASK_SIZE, MASK_SIZE), len(CLASS_NAMES), photo="the release's",
                            fix="re-import the dataset")
    if problem:
        return Problem(label_path, *problem)
    if size != MASK_SIZE:
        label = np.asarray(Image.fromarray(label.astype(np.uint8)).resize((size, size), Image.NEAREST))
    return Sample(photo.stem, image, np.ascontiguousarray(label, dtype=np.uint8))


@hookimpl
def register_datasets(register):
    register(CelebAMaskHQ())
