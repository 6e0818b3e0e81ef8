"""Dataset specs, loaders for the common layouts and validation of files (transforms: :mod:`benchmark.data.transforms`).

A dataset plugin registers a :class:`Dataset`. The spec says what the data
is (classes, palette, splits, licence, citation), where it comes from
(:class:`Source`) and how to read it; the readers for the common layouts and
the checks that turn bad files into one clear error live here.

Conventions: photos are uint8 (H,W,3); label maps are uint8 (H,W) class ids,
``ignore_index`` (if any) marks pixels that count for nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterable, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from benchmark.api import Options
from benchmark.util.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass(frozen=True)
class Source:
    """Where a dataset comes from: a download, manual instructions, or a generator."""

    kind: str  # "download", "manual" or "generator"
    url: str | None = None
    sha256: str | None = None
    #: other archive checksums accepted (e.g. a re-encoded copy), checksum -> description
    known_sha256: dict[str, str] = field(default_factory=dict)
    instructions: str = ""
    #: total size of the unpacked archive in bytes, when known: an import may unpack to 1.25x this
    #: (``bench datasets import --max-unpacked-gb`` overrides it)
    unpacked_bytes: int | None = None


@dataclass
class Sample:
    stem: str
    image: np.ndarray  # uint8 (H, W, 3)
    label: np.ndarray  # uint8 (H, W)
    #: image-level class ids, for datasets that have them; None: the classes present in ``label``
    classes: tuple[int, ...] | None = None
    #: instance map (H, W) of integer instance ids (e.g. Cityscapes' id*1000+k), for datasets that have one
    instance: np.ndarray | None = None

    def class_ids(self) -> tuple[int, ...]:
        """The image-level classes: the dataset's own, else those present in the label map."""
        if self.classes is not None:
            return tuple(self.classes)
        return tuple(int(i) for i in np.unique(self.label))


@dataclass(frozen=True)
class Problem:
    """A bad file found while reading (a value, so that reader threads and worker processes can
    hand it back instead of raising): what is wrong with ``path`` and how to fix it."""

    path: Path
    problem: str
    fix: str

    def error(self) -> "BadFile":
        return BadFile(self.path, self.problem, self.fix)


class BadFile(DataError):
    """The one-line error of a bad data file: the file, what is wrong, the fix, and --skip-bad."""

    def __init__(self, path: Path, problem: str, fix: str):
        super().__init__(f"{path}: {problem}; {fix} (or pass --skip-bad to skip such files)")
        self.path, self.problem, self.fix = Path(path), problem, fix


class BadFiles:
    """Collects bad files when the user opted in with --skip-bad; raises on the first otherwise."""

    def __init__(self, skip: bool):
        self.skip = skip
        self.items: list[tuple[Path, str]] = []

    def report(self, path: Path, problem: str, fix: str) -> None:
        if not self.skip:
            raise BadFile(path, problem, fix)
        if all(p != path for p, _ in self.items):  # loaders that read the whole folder per split see it twice
            self.items.append((path, problem))

    def warning(self) -> str | None:
        if not self.items:
            return None
        first = ", ".join(f"{p.name} ({why})" for p, why in self.items[:3])
        return f"skipped {len(self.items)} bad file(s): {first}{' ...' if len(self.items) > 3 else ''}"


class Dataset:
    """A registered dataset. Subclass it and register an instance in ``register_datasets``."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    class_names: ClassVar[list[str]]
    palette: ClassVar[list[tuple[int, int, int]]]
    ignore_index: ClassVar[int | None] = None
    splits: ClassVar[dict[str, int]] = {}
    native_size: ClassVar[tuple[int, int]] = (256, 256)
    #: width / height of the images as the reference implementation trains on them (SPADE's aspect_ratio)
    aspect_ratio: ClassVar[float] = 1.0
    #: whether imported samples carry instance maps (``Sample.instance``)
    has_instances: ClassVar[bool] = False
    #: whether the reference implementation gives ``ignore_index`` pixels their own input channel
    #: (SPADE's ``contain_dontcare_label``: ADE20K, COCO-Stuff)
    dontcare_label: ClassVar[bool] = False
    source: ClassVar[Source] = Source("manual")
    #: the files a user fetches (shown by `bench datasets list`), e.g. the official archives
    downloads: ClassVar[tuple[str, ...]] = ()
    layout: ClassVar[str] = ""
    license: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    Options: ClassVar[type[Options]] = Options
    #: name of the segmenter that mIoU uses by default
    default_segmenter: ClassVar[str | None] = None
    #: the metric columns its papers print, in order: the default columns of the Markdown and
    #: LaTeX tables (``bench report --columns all`` shows every column); none: every column
    headline_columns: ClassVar[tuple[str, ...]] = ()
    #: columns of fractions those papers print in percent (Markdown and LaTeX show them x100)
    percent_columns: ClassVar[tuple[str, ...]] = ()

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def directory(self, root: Path) -> Path:
        return Path(root) / self.name

    def configure(self, root: Path, options: Options) -> None:
        """Read what the stored data says about itself (a card's classes and aspect ratio, whether
        instance maps were imported) before the run is planned; must be cheap (no download, no
        reading every file) and quiet when the data is not there yet. Default: nothing."""

    def prepare(self, root: Path, options: Options) -> Path:
        """Make the data available (generate, or check it was imported); return its folder."""
        folder = self.directory(root)
        if not folder.exists():
            raise DataError(self.missing_message(folder))
        return folder

    def protocol(self) -> dict[str, Any]:
        """Facts about the data as last loaded that each row's protocol records beside the dataset's
        options (how instance maps were made, that photos of several aspect ratios were resized):
        plain values, the same for every load of the same files, so that rows on data prepared
        otherwise never rank together. Default: none."""
        return {}

    def missing_message(self, folder: Path) -> str:
        how = self.source.instructions or f"bench datasets import {self.name} PATH"
        return f"dataset '{self.name}' not found at {folder}; {how}"

    def load(self, root: Path, split: str, options: Options, bad: BadFiles) -> list[Sample]:
        """Every sample of ``split`` decoded and checked (import and ``bench datasets verify`` use it):
        a bad file is reported to ``bad``."""
        raise NotImplementedError

    def index(self, root: Path, split: str, options: Options, bad: BadFiles) -> Sequence[Sample]:
        """``split`` for training and evaluation: a sequence whose items are decoded when asked
        for (a :class:`benchmark.data.split.LazySplit`), so that nothing is held beyond the item in
        hand. Problems found without decoding (a photo without a label) go to ``bad``. Default:
        :meth:`load` (a dataset that is small or generated in memory)."""
        return self.load(root, split, options, bad)

    def import_from(self, src: Path, root: Path) -> Path:
        """`bench datasets import NAME PATH`: write ``root/NAME`` (not there yet) from the archive or
        folder ``src``, checking it; :func:`benchmark.data.staging.import_sources` does the unpacking.
        Callers go through :func:`benchmark.data.staging.import_dataset`, which gives a staging root and
        replaces the old copy only once the new one is whole."""
        raise DataError(f"dataset '{self.name}' cannot be imported: {self.source.instructions or 'it is generated'}")

    def import_files(self, sources: list[Path], root: Path) -> Path:
        """`bench datasets import NAME PATH...`: datasets released as several archives override this."""
        if len(sources) != 1:
            raise DataError(f"dataset '{self.name}' is imported from one archive or folder, got {len(sources)} "
                            f"paths; pass one (bench datasets info {self.name} says which)")
        return self.import_from(Path(sources[0]), root)

    def card(self) -> dict[str, Any]:
        return {
            "name": self.name, "summary": self.summary, "classes": list(self.class_names),
            "ignore_index": self.ignore_index, "splits": dict(self.splits),
            "native_size": list(self.native_size), "aspect_ratio": self.aspect_ratio,
            "instance_maps": self.has_instances, "dontcare_label": self.dontcare_label, "source": self.source.kind,
            "url": self.source.url, "sha256": self.source.sha256, "layout": self.layout,
            "license": self.license, "citation": self.citation,
        }


# ---------------------------------------------------------------- reading files

#: image modes with more than 8 bits per channel that PIL's convert("RGB") clips rather than scales
#: (a 16-bit grayscale PNG's values above 255 all turn white); 16-bit RGB PNGs PIL scales itself
DEEP_MODES = {"I;16": "16-bit", "I;16B": "16-bit", "I;16L": "16-bit", "I;16N": "16-bit",
              "I": "32-bit integer", "F": "32-bit float"}
UNREADABLE = ("not a readable image (corrupt, truncated or not an image)", "replace the file or remove it")


class ImageProblem(DataError):
    """An image file bench cannot use, as ``problem`` and ``fix`` (for :class:`BadFiles`)."""

    def __init__(self, path: Path, problem: str, fix: str, said: str = ""):
        super().__init__(f"{path}: {said or problem}; {fix}")
        self.problem, self.fix = problem, fix


def read_image(path: Path, mode: str | None = None) -> np.ndarray:
    """Decode an image fully; a corrupt, truncated or non-image file is a DataError naming it, and
    so is a photo (``mode="RGB"``) of more than 8 bits per channel in one channel, which a plain
    conversion would clip to white instead of scaling."""
    try:
        with Image.open(path) as im:
            im.load()
            if mode == "RGB" and im.mode in DEEP_MODES:
                raise ImageProblem(path, f"a {DEEP_MODES[im.mode]} single-channel image (mode {im.mode}), not an "
                                         f"8-bit photo", "save it as 8-bit RGB (PNG or JPEG)")
            if mode:
                im = im.convert(mode)
            return np.asarray(im).copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageProblem(path, *UNREADABLE, said=f"cannot be read as an image ({exc})") from None


def read_checked(path: Path, bad: BadFiles, mode: str | None = None) -> np.ndarray | None:
    """:func:`read_image`, with a bad file reported to ``bad`` (None then)."""
    try:
        return read_image(path, mode)
    except ImageProblem as exc:
        bad.report(path, exc.problem, exc.fix)
        return None


def natural_key(path: Path) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.stem))


def nearest_palette(rgb: np.ndarray, palette: Iterable[tuple[int, int, int]]) -> np.ndarray:
    """Colour-coded labels -> class ids by the nearest palette colour (robust to JPEG noise)."""
    # |x - p|^2 = |x|^2 - 2 x.p + |p|^2; |x|^2 is the same for every p, so drop it. All terms are
    # integers below 2^24, exact in float32, so ties break as with the full distance (lowest id).
    pal = np.asarray(list(palette), dtype=np.float32)
    flat = rgb.reshape(-1, 3).astype(np.float32)
    score = (pal * pal).sum(1)[None, :] - 2.0 * (flat @ pal.T)
    return score.argmin(1).astype(np.uint8).reshape(rgb.shape[:2])


def list_images(folder: Path, bad: BadFiles) -> list[Path]:
    """Image files of a folder in natural order; other files are reported as bad."""
    files = []
    for path in sorted(folder.iterdir(), key=natural_key):
        if path.name.startswith(".") or path.is_dir():
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES:
            files.append(path)
        else:
            bad.report(path, "not an image file", "move it out of the dataset folder")
    return files


def load_side_by_side(folder: Path, palette, bad: BadFiles, label_side: str = "right") -> list[Sample]:
    """The pix2pix layout: each file holds the photo and the colour label map side by side."""
    samples = []
    for path in list_images(folder, bad):
        arr = read_checked(path, bad, "RGB")
        if arr is None:
            continue
        h, w, _ = arr.shape
        if w % 2:
            bad.report(path, f"width {w} cannot be split into two halves side by side",
                       "each file must hold the photo and its label map side by side")
            continue
        left, right = arr[:, : w // 2], arr[:, w // 2:]
        photo, colours = (left, right) if label_side == "right" else (right, left)
        samples.append(Sample(path.stem, np.ascontiguousarray(photo), nearest_palette(colours, palette)))
    return samples


def label_problem(label: np.ndarray, shape: tuple[int, ...], num_classes: int | None, ignore_index: int | None = None, *,
                  noun: str = "label map", photo: str = "image size", void: str | None = None,
                  fix: str | None = None) -> tuple[str, str] | None:
    """The one check of a decoded label map that goes with a photo of ``shape`` (H, W[, 3]): (problem,
    fix) when it has more than one channel, another size, or ids that are neither classes nor
    ``ignore_index`` (``num_classes`` None: raw ids, checked by the caller); None when all is well.

    ``noun`` names the map ("label map", "mask"), ``photo`` what its size is compared with ("image
    size", "the photo's"), ``void`` the ignore id's name if it has one; ``fix`` replaces the fixes meant
    for user-made files (e.g. "re-import the dataset" for a release)."""
    short = noun.removesuffix(" map")
    if label.ndim != 2:
        return (f"{noun} has {label.shape[-1]} channels",
                fix or "save labels as single-channel PNGs of class ids (mode L or P)")
    if label.shape != tuple(shape[:2]):
        return (f"{short} size {label.shape[1]}x{label.shape[0]} differs from {photo} {shape[1]}x{shape[0]}",
                fix or "resize the label map (nearest) to match")
    wrong = [] if num_classes is None else [int(i) for i in np.unique(label) if i >= num_classes and i != ignore_index]
    if not wrong:
        return None
    if void is not None:
        problem = f"{short} ids {wrong} are neither classes 0..{num_classes - 1} nor {void} {ignore_index}"
    else:
        problem = f"{short} ids {wrong} outside the {num_classes} classes (0..{num_classes - 1})"
    return problem, fix or "fix the label map or add the classes to the dataset card"


def require_nonempty(samples: list[Sample], dataset: str, split: str, where: Path) -> list[Sample]:
    if not samples:
        raise DataError(f"split '{split}' of dataset '{dataset}' is empty ({where}); "
                        f"add images there or re-import the dataset")
    return samples
