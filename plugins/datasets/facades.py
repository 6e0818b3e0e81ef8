"""`facades`: the CMP Facade Database in the pix2pix layout.

Each file ``facades/{train,test}/N.jpg`` is 512x256: the photo on the left, the
colour-coded label map on the right. Label colours are mapped to class ids by
the nearest of the 12 palette colours, so JPEG noise at region edges never
creates a class that is not there. The test split is all 106 images.
"""

from __future__ import annotations

from pathlib import Path

from bench_plugins.datasets.facades_classes import CITATION, CLASS_NAMES, PALETTE

from benchmark import (
    BadFiles,
    DataError,
    Dataset,
    Source,
    download_and_import,
    find_dir,
    hookimpl,
    import_sources,
    list_images,
    load_side_by_side,
)
from bench_plugins.datasets.columns import HEADLINE, PERCENT

URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz"
EXPECTED = {"train": 400, "test": 106}


class Facades(Dataset):
    headline_columns = HEADLINE
    percent_columns = PERCENT
    name = "facades"
    summary = "CMP Facades, 12 classes, 400 train / 106 test, pix2pix layout (label | photo pairs)"
    class_names = CLASS_NAMES
    palette = PALETTE
    splits = dict(EXPECTED)
    native_size = (256, 256)
    source = Source(
        "download", url=URL, sha256=None,
        known_sha256={"e819e4d7a1034f7050ceb7b4ff7fb22e725358accf032ea595c0c1fac4af1be1":
                      "copy re-encoded once (JPEG), val/ split absent"},
        instructions=f"download {URL} and run: bench datasets import facades facades.tar.gz")
    layout = "side-by-side: photo left, colour label map right, one JPEG per pair"
    license = "free for research use (CMP Facade Database)"
    citation = CITATION
    default_segmenter = "trained"  # a U-Net bench trains on the real training photos

    def split_dir(self, tree: Path, split: str) -> Path | None:
        return find_dir(tree, f"facades/{split}") or find_dir(tree, split)

    def check_tree(self, tree: Path) -> None:
        """An imported tree must hold both splits with the expected number of 512x256 pairs."""
        for split, count in EXPECTED.items():
            folder = self.split_dir(tree, split)
            if folder is None:
                raise DataError(f"{tree}: no facades/{split}/ folder; pass the pix2pix facades archive or folder")
            found = len(list_images(folder, BadFiles(skip=False)))
            if found != count:
                raise DataError(f"{folder}: {found} images, expected {count}; the copy is incomplete, "
                                f"download it again")

    def prepare(self, root, options):
        folder = self.directory(root)
        if folder.exists():
            return folder
        return download_and_import(self, root, "facades.tar.gz", keep=True)

    def import_from(self, src: Path, root: Path) -> Path:
        return import_sources([src], self.directory(root), lambda unpacked, tree: self.check_tree(tree), whole=True,
                              hint="pass the pix2pix facades archive or its unpacked folder")

    def load(self, root, split, options, bad):
        folder = self.split_dir(self.directory(root), split)
        if folder is None:
            raise DataError(f"{self.directory(root)}: split '{split}' missing; re-import with "
                            f"`bench datasets import facades PATH`")
        return load_side_by_side(folder, self.palette, bad, label_side="right")


@hookimpl
def register_datasets(register):
    register(Facades())
