"""The folder layouts `folder` reads, and reading one split of them.

- bench's own: ``images/`` + ``labels/`` (+ ``instances/``); the test split comes from the card.
- SPADE's and pix2pixHD's: ``train_img/``, ``train_label/`` (+ ``train_inst/``) and the same for ``val_``
  (SPADE) or ``test_`` (pix2pixHD); ``val_`` is the test split when both exist.

Photos of several aspect ratios are resized to the run's size like all others (SPADE's ``resize``
preprocessing, as the standard-dataset plugins do), and the row's protocol says so; a card's
``mixed_aspect_ratios = "refuse"`` stops on the first photo of another ratio instead.

Files are matched by stem after removing the first matching suffix of a list (Cityscapes'
``_leftImg8bit``, ``_gtFine_labelIds`` and ``_gtFine_instanceIds`` by default), so
``aachen_000000_000019_leftImg8bit.png`` pairs with ``aachen_000000_000019_gtFine_labelIds.png``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePath

import numpy as np
from bench_plugins.datasets.parallel import Problem, decode_split, try_read
from PIL import Image

from benchmark import IMAGE_SUFFIXES, BadFiles, DataError, LazySplit, Sample, label_problem, natural_key

DEFAULT_SUFFIXES = ["_leftImg8bit", "_gtFine_labelIds", "_gtFine_instanceIds"]
#: how far two photos' width/height ratios may differ and still count as one aspect ratio
ASPECT_TOLERANCE = 0.02


@dataclass
class Layout:
    kind: str                     # "bench" or "spade"
    images: Path
    labels: Path
    instances: Path | None


def detect(folder: Path, split: str) -> Layout:
    """The layout of ``folder`` and the folders that hold ``split`` (bench's layout: both splits)."""
    if (folder / "images").is_dir() or (folder / "labels").is_dir():
        inst = folder / "instances"
        return Layout("bench", folder / "images", folder / "labels", inst if inst.is_dir() else None)
    prefixes = [p for p in ("train", "val", "test") if (folder / f"{p}_img").is_dir() or (folder / f"{p}_label").is_dir()]
    if not prefixes:
        raise DataError(f"{folder}: neither images/ + labels/ (bench's layout) nor train_img/ + train_label/ "
                        f"(SPADE's and pix2pixHD's layout); put the photos and label maps in one of them")
    prefix = "train" if split == "train" else ("val" if "val" in prefixes else "test")
    for sub in (f"{prefix}_img", f"{prefix}_label"):
        if not (folder / sub).is_dir():
            raise DataError(f"{folder / sub}: folder not found; SPADE's layout needs {prefix}_img/ and "
                            f"{prefix}_label/ for the {split} split")
    inst = folder / f"{prefix}_inst"
    return Layout("spade", folder / f"{prefix}_img", folder / f"{prefix}_label", inst if inst.is_dir() else None)


def strip(stem: str, suffixes: list[str]) -> str:
    for suffix in suffixes:
        if suffix and stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def index(folder: Path, suffixes: list[str], bad: BadFiles) -> dict[str, str]:
    """``{stem: what the file name adds to it}`` (see :func:`tail`) for the image files of ``folder``
    in natural order, from one directory listing (names only: a split of 118k pairs costs its
    stems, not a path object per file); other files are reported as bad."""
    names = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.name.startswith(".") and not entry.is_dir():
                names.append(entry.name)
    names.sort(key=lambda name: natural_key(PurePath(name)))
    out: dict[str, str] = {}
    for name in names:
        stem, suffix = os.path.splitext(name)
        if suffix.lower() not in IMAGE_SUFFIXES:
            bad.report(folder / name, "not an image file", "move it out of the dataset folder")
            continue
        key = strip(stem, suffixes)
        if key in out:
            raise DataError(f"{folder / name}: ambiguous, same stem '{key}' as {key + out[key]} after removing "
                            f"the suffixes {suffixes}; rename one or change 'suffixes' in dataset.toml")
        out[key] = tail(key, name)
    return out


def index_split(layout: Layout, suffixes: list[str], num_classes: int, ignore_index: int | None,
                bad: BadFiles, refuse_mixed: bool = False) -> LazySplit:
    """The split's pairs matched by stem from the folder listings, read one at a time. A photo
    without a label (and the like) goes to ``bad`` here; a file that cannot be read, when its
    sample is. ``refuse_mixed``: a photo whose width/height ratio differs from the first photo's
    (read from its header alone) is a bad file when read."""
    photos = index(layout.images, suffixes, bad)
    labels = index(layout.labels, suffixes, bad)
    instances = index(layout.instances, suffixes, bad) if layout.instances else None
    stems = []
    for stem, end in photos.items():
        if stem not in labels:
            bad.report(layout.images / (stem + end), "image without a label",
                       f"add {layout.labels / (stem + '.png')} or remove the image")
        elif instances is not None and stem not in instances:
            bad.report(layout.images / (stem + end), f"no instance map in {layout.instances} (the other images "
                       f"have one)", f"add it, or remove {layout.instances.name}/ to use no instance maps")
        else:
            stems.append(stem)
    for stem, end in labels.items():
        if stem not in photos:
            bad.report(layout.labels / (stem + end), "label without an image",
                       f"add the image {stem} to {layout.images} or remove the label")
    inst = instances or {}
    items = [(s, photos[s], labels[s], inst.get(s)) for s in stems]
    first = layout.images / (stems[0] + photos[stems[0]]) if refuse_mixed and stems else None
    ratio = header_ratio(first) if first is not None else None
    folders = tuple(str(f) if f else "" for f in (layout.images, layout.labels, layout.instances))
    return LazySplit(partial(read_item, folders, num_classes, ignore_index, ratio, first and first.name), items,
                     stems)


def tail(stem: str, name: str) -> str:
    """What a file name adds to its stem (``.jpg``, ``_leftImg8bit.png``: a stem is its file's name
    less a suffix and the extension), one shared string per kind: an item costs its stem, not
    three more names."""
    return sys.intern(name[len(stem):])


def header_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of an image from its header alone (None when it cannot be read: its sample says so)."""
    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, SyntaxError, ValueError):
        return None


def header_ratio(path: Path) -> float | None:
    size = header_size(path)
    return size[0] / size[1] if size and size[1] else None


def read_item(folders: tuple[str, str, str], num_classes: int, ignore_index: int | None, ratio: float | None,
              first: str | None, item: tuple[str, str, str, str | None]) -> Sample | Problem:
    """One pair of :func:`index_split`: (stem, and the tails of the photo's, label map's and instance
    map's file names) in the (images, labels, instances) ``folders``; with ``ratio`` (the first
    photo's, named ``first``), a photo of another width/height ratio is a bad file."""
    stem, photo, label, inst = item
    photo_path, label_path = Path(folders[0], stem + photo), Path(folders[1], stem + label)
    inst_path = Path(folders[2], stem + inst) if inst is not None else None
    found = read_pair(stem, photo_path, label_path, inst_path, num_classes, ignore_index)
    if ratio is not None and isinstance(found, Sample):
        h, w = found.image.shape[:2]
        if abs(w / h - ratio) > ASPECT_TOLERANCE * ratio:
            return Problem(photo_path, f"aspect ratio {w / h:.2f} ({w}x{h}) differs from {first}'s {ratio:.2f}",
                           "crop or resize the photos to one ratio, or remove mixed_aspect_ratios = \"refuse\" "
                           "from dataset.toml to resize each to the run's size")
    return found


def read_split(layout: Layout, suffixes: list[str], num_classes: int, ignore_index: int | None,
               bad: BadFiles, refuse_mixed: bool = False) -> list[Sample]:
    """Every pair of the split decoded (on a thread pool) and checked."""
    split = index_split(layout, suffixes, num_classes, ignore_index, bad)
    samples = decode_split(split, bad)
    if refuse_mixed:
        check_aspect(samples, {item[0]: layout.images / (item[0] + item[1]) for item in split.items})
    return samples


def photo_sizes(split: list[Sample] | LazySplit) -> set[tuple[int, int]]:
    """The (width, height) sizes of a split's photos: of the decoded samples, or of a lazy split's
    photo files' headers (no decoding)."""
    if not isinstance(split, LazySplit):
        return {s.image.shape[1::-1] for s in split}
    images = Path(split.read.args[0][0])
    return {size for stem, photo, _, _ in split.items if (size := header_size(images / (stem + photo)))}


def read_pair(stem: str, photo_path: Path, label_path: Path, inst_path: Path | None, num_classes: int,
              ignore_index: int | None) -> Sample | Problem:
    image = try_read(photo_path, "RGB")
    if isinstance(image, Problem):
        return image
    label = try_read(label_path)
    if isinstance(label, Problem):
        return label
    problem = label_problem(label, image.shape, num_classes, ignore_index)
    if problem:
        return Problem(label_path, *problem)
    instance = None
    if inst_path is not None:
        instance = try_read(inst_path)
        if isinstance(instance, Problem):
            return instance
        if instance.shape != label.shape:
            return Problem(inst_path, f"instance map size {instance.shape[1]}x{instance.shape[0]} differs "
                           f"from the label map's", "resize it (nearest) to match")
        instance = instance.astype(np.int32)
    return Sample(stem, image, label.astype(np.uint8), instance=instance)


def mixed_aspect(samples: list[Sample] | LazySplit) -> str | None:
    """What a protocol records when the photos have several width/height ratios (None: one ratio)."""
    sizes = photo_sizes(samples)
    ratios = sorted(w / h for w, h in sizes)
    if not ratios or ratios[-1] - ratios[0] <= ASPECT_TOLERANCE * ratios[0]:
        return None
    return (f"resized: {len(sizes)} photo sizes, width/height {ratios[0]:.2f} to {ratios[-1]:.2f}, each resized to "
            f"the run's size (aspect not kept), as SPADE's resize preprocessing")


def check_aspect(samples: list[Sample], photos: dict[str, Path]) -> None:
    """All photos of a split share one width/height ratio (a card's ``mixed_aspect_ratios = "refuse"``)."""
    if not samples:
        return
    first = samples[0]
    ratio = first.image.shape[1] / first.image.shape[0]
    for s in samples[1:]:
        r = s.image.shape[1] / s.image.shape[0]
        if abs(r - ratio) > ASPECT_TOLERANCE * ratio:
            raise DataError(f"{photos[s.stem]}: aspect ratio {r:.2f} ({s.image.shape[1]}x{s.image.shape[0]}) differs "
                            f"from {photos[first.stem].name}'s {ratio:.2f}; mixed aspect ratios: crop or resize the "
                            f"photos to one ratio, or remove mixed_aspect_ratios = \"refuse\" from dataset.toml to "
                            f"resize each to the run's size")
