"""`voc2012`: PASCAL VOC 2012 semantic segmentation, the 2913 photos with class masks.

Split: ``ImageSets/Segmentation/train.txt`` (1464 photos) is the ``train`` split
and ``val.txt`` (1449) the ``test`` split, in the order of those lists (the
official test set has no public masks; the Gaussian GAN report re-split the 2913 pairs at
random into 2330 / 292 / 291 without publishing the split, so the official lists
are used). Masks are palette PNGs whose indices are the class ids (0
background, 1..20 objects); 255 is void and is the ignore index. The photos have
varied sizes (most 500 px wide, about 500x375); the harness resizes every pair
to a square of ``image_size`` (photos bicubic, labels nearest), so the aspect
ratio is not kept.

Options: the defaults are the official VOC convention (void pixels ignored, all
photos of both lists). ``void_as_background=true`` reproduces the Gaussian GAN report's
preprocessing (void pixels mapped to background before one-hot encoding); like
every dataset option it is recorded in each run's protocol.

Online, ``bench run --dataset voc2012`` downloads ``VOCtrainval_11-May-2012.tar``
(1,999,639,040 bytes) and checks its sha256
``e14f763270cf193d0b5f74b169f44157a4b0c6efa708f4dd0ff78ee691763bcb`` (the value
pinned by torchvision's prototype VOC dataset and by other public loaders;
torchvision's ``VOCSegmentation`` pins the md5 ``6cd6e144f989b92b3379bac3b3de84fd``
of the same file). Offline, ``bench datasets import voc2012 PATH`` takes that
archive or its unpacked folder. Either way only what segmentation needs is kept
(``JPEGImages`` of the 2913 listed photos, ``SegmentationClass``,
``ImageSets/Segmentation``), a few hundred MB instead of 2 GB, and the
downloaded archive is deleted once imported.
"""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import numpy as np
from bench_plugins.datasets.parallel import Problem, decode_split, try_read
from bench_plugins.datasets.voc_classes import CITATION, CLASS_NAMES, PALETTE, VOID
from pydantic import Field

from benchmark import (
    BadFiles,
    DataError,
    Dataset,
    LazySplit,
    Options,
    Sample,
    Source,
    download_and_import,
    find_dirs,
    hookimpl,
    import_sources,
    label_problem,
)
from bench_plugins.datasets.columns import HEADLINE, PERCENT

ARCHIVE = "VOCtrainval_11-May-2012.tar"
URL = f"https://thor.robots.ox.ac.uk/pascal/VOC/voc2012/{ARCHIVE}"
SHA256 = "e14f763270cf193d0b5f74b169f44157a4b0c6efa708f4dd0ff78ee691763bcb"
#: bench split -> the devkit's list file and its length
LISTS = {"train": ("train.txt", 1464), "test": ("val.txt", 1449)}
KEEP = ("JPEGImages", "SegmentationClass", "ImageSets")
NEEDED = ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation")


class VocOptions(Options):
    void_as_background: bool = Field(
        False, description="map void pixels (255) to background (0) instead of ignoring them; "
        "false is the official VOC convention, true reproduces the Gaussian GAN report's preprocessing")
    train_size: int | None = Field(None, ge=1, description="use only the first N photos of train.txt "
                                   "(default: all 1464)")
    test_size: int | None = Field(None, ge=1, description="use only the first N photos of val.txt "
                                  "(default: all 1449)")


def voc_root(tree: Path) -> Path | None:
    """The ``VOC2012`` folder inside an unpacked archive or folder (at most two levels down)."""
    if not tree.is_dir():
        return None
    for c in [*find_dirs(tree, "VOCdevkit/VOC2012"), *find_dirs(tree, "VOC2012"), tree]:
        if (c / "ImageSets").is_dir() or (c / "JPEGImages").is_dir():
            return c
    return None


def read_list(path: Path) -> list[str]:
    """The photo names of a devkit list file, one per line."""
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def other_years(tree: Path) -> list[str]:
    return sorted(p.name for p in tree.glob("**/VOCdevkit/VOC*") if p.is_dir() and p.name != "VOC2012")


class Voc2012(Dataset):
    headline_columns = HEADLINE
    percent_columns = PERCENT
    name = "voc2012"
    summary = ("PASCAL VOC 2012 segmentation: 21 classes (void 255 ignored), 1464 train (train.txt) / "
               "1449 test (val.txt), photos of varied size (about 500x375)")
    class_names = CLASS_NAMES
    palette = PALETTE
    ignore_index = VOID
    splits = {split: count for split, (_, count) in LISTS.items()}
    native_size = (256, 256)
    source = Source("download", url=URL, sha256=SHA256,
                    instructions=f"download {URL} (or from the VOC 2012 page, "
                                 f"http://host.robots.ox.ac.uk/pascal/VOC/voc2012/) and run: "
                                 f"bench datasets import voc2012 {ARCHIVE}")
    layout = ("VOCdevkit/VOC2012/{JPEGImages/NAME.jpg, SegmentationClass/NAME.png (palette indices = class "
              "ids, 255 void), ImageSets/Segmentation/{train,val}.txt}")
    license = ("VOC annotations: the PASCAL VOC terms (research use); the photos come from flickr and "
               "their use must respect flickr's terms of use")
    citation = CITATION
    Options = VocOptions
    default_segmenter = "deeplabv3-voc"

    def card(self):
        return {**super().card(), "notes": (
            "train = ImageSets/Segmentation/train.txt, test = val.txt (the official test masks are not "
            "public); photos are resized to a square of image_size by the harness (bicubic; labels nearest), "
            "so their aspect ratio is not kept; void (255) is the ignore index unless "
            "--set voc2012.void_as_background=true (the Gaussian GAN report) makes it background")}

    # ------------------------------------------------------------ getting the data

    def prepare(self, root, options):
        folder = self.directory(root)
        if folder.exists():
            return folder
        return download_and_import(self, root, ARCHIVE, size="2 GB")

    def import_from(self, src: Path, root: Path) -> Path:
        return import_sources([src], self.directory(root), lambda unpacked, tree: self.check_and_trim(tree, Path(src)),
                              whole=True, hint=f"pass the VOC 2012 trainval archive ({ARCHIVE}) or its unpacked folder")

    def check_and_trim(self, tree: Path, src: Path) -> None:
        """Refuse a tree (``src`` unpacked or copied) that is not the VOC 2012 trainval release, then drop
        what segmentation never reads. Messages name ``src`` and the path inside it."""
        voc = self.find_root(tree, src, hint=f"pass the VOC 2012 trainval archive ({ARCHIVE}) or its unpacked folder")

        def shown(path: Path) -> str:
            return f"{src}: {path.relative_to(tree)}"

        for sub in NEEDED:
            if not (voc / sub).is_dir():
                raise DataError(f"{shown(voc / sub)}/ not found, so this is not the VOC 2012 trainval release "
                                f"(the test archive has no masks); pass {ARCHIVE}")
        listed: set[str] = set()
        for split, (file, count) in LISTS.items():
            path = voc / "ImageSets" / "Segmentation" / file
            if not path.is_file():
                raise DataError(f"{shown(path)} not found; the copy is incomplete, pass the whole {ARCHIVE}")
            names = read_list(path)
            if len(names) != count:
                raise DataError(f"{shown(path)}: {len(names)} photos listed, expected {count}; this is not the "
                                f"VOC 2012 release, pass {ARCHIVE}")
            for sub, suffix in (("JPEGImages", ".jpg"), ("SegmentationClass", ".png")):
                missing = [n for n in names if not (voc / sub / (n + suffix)).is_file()]
                if missing:
                    raise DataError(f"{shown(voc / sub / (missing[0] + suffix))} not found ({len(missing)} of the "
                                    f"{count} {split} files missing); the copy is incomplete, unpack the whole "
                                    f"{ARCHIVE} again")
            listed.update(names)
        trim(voc, listed)

    def find_root(self, tree: Path, shown: Path, hint: str) -> Path:
        voc = voc_root(tree)
        if voc is None:
            years = other_years(tree)
            found = f" (it holds {', '.join(years)}, another year)" if years else ""
            raise DataError(f"{shown}: no VOCdevkit/VOC2012/ folder{found}; {hint}")
        return voc

    # ------------------------------------------------------------ reading

    def load(self, root, split, options: VocOptions, bad: BadFiles) -> list[Sample]:
        return decode_split(self.index(root, split, options, bad), bad)

    def index(self, root, split, options: VocOptions, bad: BadFiles) -> LazySplit:
        folder = self.directory(root)
        voc = self.find_root(folder, folder, hint="re-import it with `bench datasets import voc2012 PATH`")
        file, _ = LISTS[split]
        path = voc / "ImageSets" / "Segmentation" / file
        if not path.is_file():
            raise DataError(f"{path}: missing; re-import the dataset with `bench datasets import voc2012 PATH`")
        limit = options.train_size if split == "train" else options.test_size
        names = read_list(path)[:limit]
        void_to = 0 if options.void_as_background else None
        return LazySplit(partial(read_named, voc, void_to), names, names)


def read_named(voc: Path, void_to: int | None, name: str) -> Sample | Problem:
    return read_pair(voc, name, void_to)


def read_pair(voc: Path, name: str, void_to: int | None) -> Sample | Problem:
    """One photo and its mask, checked: same size, single channel, ids 0..20 or 255."""
    jpg, png = voc / "JPEGImages" / f"{name}.jpg", voc / "SegmentationClass" / f"{name}.png"
    photo = try_read(jpg, "RGB")
    if isinstance(photo, Problem):
        return photo
    label = try_read(png)
    if isinstance(label, Problem):
        return label
    problem = label_problem(label, photo.shape, len(CLASS_NAMES), VOID, noun="mask", photo="the photo's", void="void",
                            fix="VOC masks are palette PNGs of class ids: restore the mask from the release")
    if problem:
        return Problem(png, *problem)
    label = label.astype(np.uint8)
    if void_to is not None:
        label[label == VOID] = void_to
    return Sample(name, photo, label)


def trim(voc: Path, listed: set[str]) -> None:
    """Delete everything but the segmentation photos, masks and lists (annotations, other photos, ...)."""
    for entry in voc.iterdir():
        if entry.name not in KEEP:
            remove(entry)
    for entry in (voc / "ImageSets").iterdir():
        if entry.name != "Segmentation":
            remove(entry)
    for photo in (voc / "JPEGImages").iterdir():
        if photo.stem not in listed:
            remove(photo)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


@hookimpl
def register_datasets(register):
    register(Voc2012())
