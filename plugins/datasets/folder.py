"""`folder`: a user's own data.

Layout (``--set folder.path=DIR``, or import it with ``bench datasets import folder DIR``)::

    DIR/dataset.toml        classes = ["sky", "road", ...]   (required)
                            ignore_index = 255               (optional)
                            palette = [[r, g, b], ...]       (optional, one per class)
                            test = ["stem", ...]             (optional: the test stems)
                            test_fraction = 0.2              (optional, default 0.2)
    DIR/images/STEM.png|jpg photos
    DIR/labels/STEM.png     class ids (single channel), same stems

Without an explicit ``test`` list, the last ``test_fraction`` of the stems in
sorted order form the test split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import Field, ValidationError

from benchmark import DataError, Dataset, Options, Source, hookimpl, import_tree, load_image_label_folders
from benchmark.config import explain

try:
    import tomllib
except ModuleNotFoundError:
    import tomli as tomllib


class Card(Options):
    classes: list[str] = Field(min_length=1)
    ignore_index: int | None = None
    palette: list[tuple[int, int, int]] | None = None
    test: list[str] | None = None
    test_fraction: float = Field(0.2, gt=0, lt=1)


class FolderOptions(Options):
    path: Path | None = Field(None, description="the dataset folder (default: DATA_ROOT/folder, where import puts it)")


def default_palette(n: int) -> list[tuple[int, int, int]]:
    """Distinct fixed colours for cards that give none."""
    rng = np.random.default_rng(12345)
    return [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(n)]


class Folder(Dataset):
    name = "folder"
    summary = "your own data: images/ and labels/ (PNG class ids) with a dataset.toml naming the classes"
    class_names = ["class"]
    palette = [(0, 0, 0)]
    splits = {"train": 0, "test": 0}
    source = Source("manual", instructions="point --set folder.path=DIR at the folder, "
                    "or run: bench datasets import folder DIR")
    layout = "images/STEM.(png|jpg) + labels/STEM.png + dataset.toml"
    license = "the user's"
    Options = FolderOptions
    default_segmenter = "trained"  # a U-Net bench trains on the real training photos

    def root_of(self, root: Path, options: FolderOptions) -> Path:
        return Path(options.path) if options.path else self.directory(root)

    def read_card(self, folder: Path) -> Card:
        path = folder / "dataset.toml"
        if not path.exists():
            raise DataError(f"{path}: missing; write a dataset.toml with classes = [\"name\", ...]")
        try:
            with open(path, "rb") as fh:
                return Card.model_validate(tomllib.load(fh))
        except tomllib.TOMLDecodeError as exc:
            raise DataError(f"{path}: not valid TOML ({exc}); fix the card") from None
        except ValidationError as exc:
            raise DataError(f"{path}: {explain(exc, '', Card)}") from None

    def configure(self, root: Path, options: FolderOptions) -> Card:
        """The classes come from the card: set them on this spec before anything uses them."""
        folder = self.root_of(root, options)
        if not folder.is_dir():
            raise DataError(self.missing_message(folder))
        card = self.read_card(folder)
        self.class_names = list(card.classes)
        self.ignore_index = card.ignore_index
        self.palette = [tuple(c) for c in card.palette] if card.palette else default_palette(len(card.classes))
        if len(self.palette) != len(self.class_names):
            raise DataError(f"{folder / 'dataset.toml'}: {len(self.palette)} palette colours for "
                            f"{len(self.class_names)} classes; give one colour per class")
        return card

    def prepare(self, root, options):
        self.configure(root, options)
        return self.root_of(root, options)

    def load(self, root, split, options, bad):
        card = self.configure(root, options)
        folder = self.root_of(root, options)
        if card.test == []:
            raise DataError(f"{folder / 'dataset.toml'}: test = [] leaves the test split empty; list the test "
                            f"stems, or remove 'test' to use the last test_fraction of the stems")
        samples = load_image_label_folders(folder / "images", folder / "labels", len(card.classes),
                                           card.ignore_index, bad)
        stems = [s.stem for s in samples]
        if card.test is not None:
            missing = sorted(set(card.test) - set(stems))
            if missing:
                raise DataError(f"{folder / 'dataset.toml'}: test stems {missing[:5]} have no image; "
                                f"fix the test list")
            test = set(card.test)
        else:
            test = set(stems[len(stems) - max(1, round(len(stems) * card.test_fraction)):])
        return [s for s in samples if (s.stem in test) == (split == "test")]

    def import_from(self, src: Path, root: Path) -> Path:
        return import_tree(src, self.directory(root), lambda tree: self.read_card(tree))


@hookimpl
def register_datasets(register):
    register(Folder())
