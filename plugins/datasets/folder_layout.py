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

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from bench_plugins.datasets.parallel import Problem, read_all, try_read

from benchmark import BadFiles, DataError, Sample, label_problem, list_images

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


def index(folder: Path, suffixes: list[str], bad: BadFiles) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in list_images(folder, bad):
        key = strip(path.stem, suffixes)
        if key in out:
            raise DataError(f"{path}: ambiguous, same stem '{key}' as {out[key].name} after removing the suffixes "
                            f"{suffixes}; rename one or change 'suffixes' in dataset.toml")
        out[key] = path
    return out


def read_split(layout: Layout, suffixes: list[str], num_classes: int, ignore_index: int | None,
               bad: BadFiles, refuse_mixed: bool = False) -> list[Sample]:
    photos = index(layout.images, suffixes, bad)
    labels = index(layout.labels, suffixes, bad)
    instances = index(layout.instances, suffixes, bad) if layout.instances else None
    stems = []
    for stem, path in photos.items():
        if stem not in labels:
            bad.report(path, "image without a label", f"add {layout.labels / (stem + '.png')} or remove the image")
        elif instances is not None and stem not in instances:
            bad.report(path, f"no instance map in {layout.instances} (the other images have one)",
                       f"add it, or remove {layout.instances.name}/ to use no instance maps")
        else:
            stems.append(stem)
    for stem, path in labels.items():
        if stem not in photos:
            bad.report(path, "label without an image", f"add the image {stem} to {layout.images} or remove the label")
    inst = instances or {}
    samples = read_all(lambda s: read_pair(s, photos[s], labels[s], inst.get(s), num_classes, ignore_index),
                       stems, bad)
    if refuse_mixed:
        check_aspect(samples, photos)
    return samples


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


def mixed_aspect(samples: list[Sample]) -> str | None:
    """What a protocol records when the photos have several width/height ratios (None: one ratio)."""
    sizes = {s.image.shape[1::-1] for s in samples}
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
