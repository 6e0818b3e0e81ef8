"""`folder`: a user's own data, in bench's layout or in SPADE's / pix2pixHD's.

Layouts (``--set folder.path=DIR``, or import it with ``bench datasets import folder DIR``), detected
from the folder (see :mod:`bench_plugins.datasets.folder_layout`)::

    DIR/images/STEM.png|jpg + DIR/labels/STEM.png (+ DIR/instances/STEM.png)        bench's own
    DIR/{train,val|test}_img/, _label/ (+ _inst/)                                   SPADE / pix2pixHD

    DIR/dataset.toml        classes = ["sky", "road", ...]   (required) or a count (classes = 35: names
                                                             generated) or a registered dataset's name
                                                             (classes = "coco-stuff": its classes, palette
                                                             and ignore id)
                            aspect_ratio = 2.0               (optional: width / height, default 1; a run
                                                             trains and tests at it: image_size high,
                                                             image_size * aspect_ratio wide)
                            suffixes = ["_leftImg8bit", ...] (optional: removed from stems before matching;
                                                             default: Cityscapes' three)
                            ignore_index = 255               (optional)
                            palette = [[r, g, b], ...]       (optional, one per class)
                            test = ["stem", ...]             (optional, bench's layout: the test stems)
                            test_fraction = 0.2              (optional, bench's layout, default 0.2)
                            mixed_aspect_ratios = "resize"   (optional: photos of several width/height
                                                             ratios are each resized to the run's size,
                                                             as SPADE does, and the protocol says so;
                                                             "refuse": one line naming the odd photo)

In bench's layout, without an explicit ``test`` list, the last ``test_fraction`` of the stems in
sorted order form the test split; in SPADE's layout the ``val_`` (or ``test_``) folders are it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, ValidationError

from bench_plugins.datasets.folder_layout import DEFAULT_SUFFIXES, detect, index_split, mixed_aspect, read_split

from benchmark import DataError, Dataset, LazySplit, Options, Source, hookimpl, import_sources, stems_of
from benchmark import explain, read_toml
from benchmark import unknown
from bench_plugins.datasets.columns import HEADLINE, PERCENT


class Card(Options):
    classes: list[str] | int | str = Field(description="class names, a count, or a registered dataset's name")
    aspect_ratio: float = Field(1.0, gt=0)
    suffixes: list[str] = Field(default_factory=lambda: list(DEFAULT_SUFFIXES))
    ignore_index: int | None = None
    palette: list[tuple[int, int, int]] | None = None
    test: list[str] | None = None
    test_fraction: float = Field(0.2, gt=0, lt=1)
    mixed_aspect_ratios: Literal["resize", "refuse"] = "resize"


class FolderOptions(Options):
    path: Path | None = Field(None, description="the dataset folder (default: DATA_ROOT/folder, where import puts it)")


def default_palette(n: int) -> list[tuple[int, int, int]]:
    """Distinct fixed colours for cards that give none."""
    rng = np.random.default_rng(12345)
    return [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(n)]


class Folder(Dataset):
    headline_columns = HEADLINE
    percent_columns = PERCENT
    name = "folder"
    summary = ("your own data: images/ + labels/ or SPADE's train_img/ + train_label/ (+ _inst/), PNG class ids, "
               "with a dataset.toml giving the classes")
    class_names = ["class"]
    palette = [(0, 0, 0)]
    splits = {"train": 0, "test": 0}
    source = Source("manual", instructions="point --set folder.path=DIR at the folder, "
                    "or run: bench datasets import folder DIR")
    layout = ("images/STEM.(png|jpg) + labels/STEM.png (+ instances/), or {train,val,test}_{img,label,inst}/; "
              "+ dataset.toml")
    license = "the user's"
    Options = FolderOptions
    default_segmenter = "trained"  # a U-Net bench trains on the real training photos

    def root_of(self, root: Path, options: FolderOptions) -> Path:
        return Path(options.path) if options.path else self.directory(root)

    def read_card(self, folder: Path) -> Card:
        path = folder / "dataset.toml"
        if not path.exists():
            raise DataError(f"{path}: missing; write a dataset.toml with classes = [\"name\", ...]")
        tree = read_toml(path, fix='write a dataset.toml with classes = ["name", ...]', error=DataError)
        try:
            return Card.model_validate(tree)
        except ValidationError as exc:
            raise DataError(f"{path}: {explain(exc, '', Card)}") from None

    def configure(self, root: Path, options: FolderOptions) -> Card:
        """The classes come from the card: set them on this spec before anything uses them."""
        folder = self.root_of(root, options)
        if not folder.is_dir():
            raise DataError(self.missing_message(folder))
        card = self.read_card(folder)
        where = folder / "dataset.toml"
        names, palette, ignore = self.classes_of(card, where)
        self.class_names = names
        self.ignore_index = card.ignore_index if card.ignore_index is not None else ignore
        self.palette = [tuple(c) for c in card.palette] if card.palette else (palette or default_palette(len(names)))
        self.aspect_ratio = card.aspect_ratio
        self.has_instances = detect(folder, "train").instances is not None
        if len(self.palette) != len(self.class_names):
            raise DataError(f"{where}: {len(self.palette)} palette colours for "
                            f"{len(self.class_names)} classes; give one colour per class")
        return card

    def classes_of(self, card: Card, where: Path):
        """(names, palette or None, ignore id or None) from the card's ``classes``."""
        if isinstance(card.classes, int):
            if not 1 <= card.classes <= 256:
                raise DataError(f"{where}: classes = {card.classes}; give a count from 1 to 256")
            return [f"class {i}" for i in range(card.classes)], None, None
        if isinstance(card.classes, str):
            from benchmark import installed_plugins

            datasets = installed_plugins().datasets
            if card.classes not in datasets.names() or card.classes == self.name:
                raise DataError(f"{where}: " + unknown("dataset", card.classes, [n for n in datasets.names()
                                if n != self.name], "classes = NAME reuses a registered dataset's classes"))
            other = datasets.get(card.classes)
            return list(other.class_names), list(other.palette), other.ignore_index
        if not card.classes:
            raise DataError(f"{where}: classes = []; list the class names, give a count, or a dataset's name")
        return list(card.classes), None, None

    def prepare(self, root, options):
        self.configure(root, options)
        return self.root_of(root, options)

    def load(self, root, split, options, bad):
        return self.split(root, split, options, bad, read_split)

    def index(self, root, split, options, bad):
        return self.split(root, split, options, bad, index_split)

    def split(self, root, split, options, bad, read):
        """The split's samples as ``read`` gives them (all decoded, or a LazySplit), the test split
        chosen by the card in bench's layout."""
        card = self.configure(root, options)
        folder = self.root_of(root, options)
        layout = detect(folder, split)
        self.has_instances = layout.instances is not None
        samples = read(layout, card.suffixes, self.num_classes, self.ignore_index, bad,
                       refuse_mixed=card.mixed_aspect_ratios == "refuse")
        if layout.kind == "spade":
            if split == "test":
                self._mixed = mixed_aspect(samples)
            return samples
        if card.test == []:
            raise DataError(f"{folder / 'dataset.toml'}: test = [] leaves the test split empty; list the test "
                            f"stems, or remove 'test' to use the last test_fraction of the stems")
        stems = stems_of(samples)
        if card.test is not None:
            missing = sorted(set(card.test) - set(stems))
            if missing:
                raise DataError(f"{folder / 'dataset.toml'}: test stems {missing[:5]} have no image; "
                                f"fix the test list")
            test = set(card.test)
        else:
            test = set(stems[len(stems) - max(1, round(len(stems) * card.test_fraction)):])
        keep = [i for i, stem in enumerate(stems) if (stem in test) == (split == "test")]
        chosen = samples.select(keep) if isinstance(samples, LazySplit) else [samples[i] for i in keep]
        if split == "test":
            self._mixed = mixed_aspect(chosen)
        return chosen

    def protocol(self):
        """The test photos' several aspect ratios, when they have them (each resized to the run's size)."""
        mixed = getattr(self, "_mixed", None)
        return {"mixed_aspect_ratios": mixed} if mixed else {}

    def import_from(self, src: Path, root: Path) -> Path:
        return import_sources([src], self.directory(root), lambda unpacked, tree: self.read_card(tree) and None,
                              whole=True, hint="pass the dataset's archive or folder (with its dataset.toml)")


@hookimpl
def register_datasets(register):
    register(Folder())
