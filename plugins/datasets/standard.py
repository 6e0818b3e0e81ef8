"""What the field's standard datasets (cityscapes, ade20k, coco-stuff) share: bench's stored layout,
an import from one or several official archives, and a loader that resizes as SPADE does.

Stored layout under ``DATA_ROOT/NAME/`` (one folder per bench split, ``train`` and ``test``)::

    SPLIT/images/STEM.(png|jpg)     the release's photos, byte for byte
    SPLIT/labels/STEM.png           the release's label maps, byte for byte (raw ids; see each plugin)
    SPLIT/instances/STEM.png        instance maps where the dataset has them (16-bit ids)
    MANIFEST.json                   the archives (path, sha256) and the counts

Reading maps raw label ids to bench's class ids through a 256-entry table (-1: not a valid id,
reported as a bad file) and resizes photos bicubic, label and instance maps nearest, to the
``size`` the plugin asks for (SPADE's ``fixed`` and ``resize`` preprocessing at test time).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
from bench_plugins.datasets.parallel import Problem, decode_split, try_read
from bench_plugins.datasets.split_index import split_index
from PIL import Image

from benchmark import DataError, Dataset, LazySplit, Sample, Unpacked, import_sources, label_problem
from bench_plugins.datasets.columns import HEADLINE, PERCENT

SPLITS = ("train", "test")
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
REIMPORT = "re-import the dataset from the official archives"


@dataclass
class Pair:
    """One sample's files found in a release: photo, label map and (optional) instance map."""

    stem: str
    photo: Path
    label: Path
    instance: Path | None = None


# ---------------------------------------------------------------- importing


def store_release(unpacked: Unpacked, dest: Path, arrange: Callable[[list[Path]], dict[str, list[Pair]]],
                  after: Callable[[list[Path], Path, dict[str, list[Pair]]], None] | None = None) -> dict:
    """The ``build`` of a release's import: ``arrange`` finds the pairs of each bench split in the
    unpacked trees, they are stored in bench's layout under ``dest``, then ``after(trees, dest, pairs)``
    derives what else the dataset keeps (e.g. instance maps); returns the counts for the manifest."""
    pairs = arrange(unpacked.trees)
    for split in SPLITS:
        store(pairs.get(split, []), dest / split, move=unpacked.movable)
    if after is not None:
        after(unpacked.trees, dest, pairs)
    return {"counts": {split: len(pairs.get(split, [])) for split in SPLITS}}


class Release(Dataset):
    """A standard dataset imported from its official archive(s) into bench's stored layout: the
    plugin says where each split's pairs are (``arrange``) and what to derive afterwards (``after``)."""
    headline_columns = HEADLINE
    percent_columns = PERCENT

    def arrange(self, trees: list[Path], sources: list[Path]) -> dict[str, list[Pair]]:
        raise NotImplementedError

    after: Callable[[list[Path], Path, dict[str, list[Pair]]], None] | None = None

    def prepare(self, root, options):
        folder = self.directory(root)
        if not (folder / "train" / "images").is_dir():
            raise DataError(self.missing_message(folder))
        return folder

    def import_files(self, sources, root):
        sources = [Path(s) for s in sources]
        return import_sources(sources, self.directory(root),
                              lambda unpacked, dest: store_release(unpacked, dest, lambda trees: self.arrange(
                                  trees, sources), self.after),
                              hint="pass the official archive(s) or their unpacked folder")

    def import_from(self, src: Path, root: Path) -> Path:
        return self.import_files([src], root)

    def index(self, root, split, options, bad) -> LazySplit:
        """The stored split, read one sample at a time (see :func:`index_split`)."""
        raise NotImplementedError

    def load(self, root, split, options, bad) -> list[Sample]:
        return decode_split(self.index(root, split, options, bad), bad)


def store(pairs: list[Pair], folder: Path, move: bool) -> None:
    for sub in ("images", "labels") + (("instances",) if any(p.instance for p in pairs) else ()):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for p in pairs:
        place(p.photo, folder / "images" / (p.stem + p.photo.suffix.lower()), move)
        place(p.label, folder / "labels" / (p.stem + ".png"), move)
        if p.instance is not None:
            place(p.instance, folder / "instances" / (p.stem + ".png"), move)


def place(src: Path, target: Path, move: bool) -> None:
    if move:
        os.replace(src, target)
    else:
        shutil.copyfile(src, target)


def match(photos: dict[str, Path], labels: dict[str, Path], where: str, fix: str,
          instances: dict[str, Path] | None = None) -> list[Pair]:
    """Pairs by stem; a photo without a label (or instance map), or a label without a photo, is an error."""
    for stem in sorted(photos):
        if stem not in labels:
            raise DataError(f"{photos[stem]}: no label map for this photo in {where}; {fix}")
        if instances is not None and stem not in instances:
            raise DataError(f"{photos[stem]}: no instance map for this photo in {where}; {fix}")
    for stem in sorted(labels):
        if stem not in photos:
            raise DataError(f"{labels[stem]}: label map without a photo in {where}; {fix}")
    return [Pair(s, photos[s], labels[s], instances[s] if instances is not None else None) for s in sorted(photos)]


def by_stem(files, suffix: str) -> dict[str, Path]:
    """``{name without suffix: path}`` for files whose name ends with ``suffix``."""
    return {p.name[: -len(suffix)]: p for p in files if p.name.endswith(suffix)}


# ---------------------------------------------------------------- reading


def id_table(valid: dict[int, int]) -> np.ndarray:
    """A raw-id -> class-id table over 0..255; ids not in ``valid`` map to -1 (a bad label map)."""
    table = np.full(256, -1, dtype=np.int16)
    for raw, cls in valid.items():
        table[raw] = cls
    return table


def split_stems(folder: Path, split: str, name: str) -> list[str]:
    """The stems of a stored split, from its cached index (see :mod:`.split_index`)."""
    images = folder / split / "images"
    if not images.is_dir():
        raise DataError(f"{images}: folder not found; import the dataset with `bench datasets import {name} ...` "
                        f"(`bench datasets info {name}` says what to download)")
    return split_index(folder / split, PHOTO_SUFFIXES)["stems"]


def index_split(folder: Path, split: str, name: str, table: np.ndarray, size: tuple[int, int] | None,
                limit: int | None, instances: bool) -> LazySplit:
    """A stored split in stem order, read one sample at a time at ``size`` (width, height; None: as
    stored): from its cached index alone, nothing decoded here."""
    split_stems(folder, split, name)   # a clear error when the split is missing
    base = folder / split
    index = split_index(base, PHOTO_SUFFIXES)
    stems, photos = index["stems"][:limit], index["photos"]
    return LazySplit(partial(read_stored, str(base), table, size, instances), [photos[s] for s in stems], stems)


def read_stored(base: str, table: np.ndarray, size, instances: bool, photo: str) -> Sample | Problem:
    """The sample of the photo file ``photo`` (a name in ``base/images``) of a stored split."""
    folder = Path(base)
    return read_one(folder, folder / "images" / photo, Path(photo).stem, table, size, instances)


def read_one(base: Path, photo_path: Path, stem: str, table: np.ndarray, size, instances: bool) -> Sample | Problem:
    photo = try_read(photo_path, "RGB")
    if isinstance(photo, Problem):
        return photo
    label_path = base / "labels" / f"{stem}.png"
    raw = try_read(label_path)
    if isinstance(raw, Problem):
        return raw
    problem = label_problem(raw, photo.shape, None, photo="the photo's", fix=REIMPORT)   # raw ids: the table below
    if problem:
        return Problem(label_path, *problem)
    mapped = table[raw.astype(np.uint8)] if raw.max() < 256 else np.full(raw.shape, -1)
    if (mapped < 0).any():
        wrong = sorted(int(i) for i in np.unique(raw[mapped < 0]))[:8]
        return Problem(label_path, f"label ids {wrong} are not ids of this dataset", REIMPORT)
    instance = None
    if instances:
        inst_path = base / "instances" / f"{stem}.png"
        instance = try_read(inst_path)
        if isinstance(instance, Problem):
            return instance
        if instance.shape != raw.shape:
            return Problem(inst_path, "instance map size differs from the label map's", REIMPORT)
        instance = instance.astype(np.int32)
    label = mapped.astype(np.uint8)
    if size is not None and (photo.shape[1], photo.shape[0]) != tuple(size):
        photo = np.asarray(Image.fromarray(photo).resize(size, Image.BICUBIC))
        label = np.asarray(Image.fromarray(label).resize(size, Image.NEAREST))
        if instance is not None:
            instance = np.asarray(Image.fromarray(instance).resize(size, Image.NEAREST)).astype(np.int32)
    return Sample(stem, np.ascontiguousarray(photo), np.ascontiguousarray(label), instance=instance)


def generated_palette(n: int, seed: int) -> list[tuple[int, int, int]]:
    """Distinct fixed colours for datasets whose release defines none bench uses."""
    rng = np.random.default_rng(seed)
    return [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(n)]
