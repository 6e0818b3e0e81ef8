"""`ade20k`: the ADE20K SceneParsing benchmark (ADEChallengeData2016), 150 classes.

Public download: ``ADEChallengeData2016.zip`` (923 MB) from MIT
(http://data.csail.mit.edu/places/ADEchallenge/). ``bench run`` fetches it when
online; offline, ``bench datasets import ade20k ADEChallengeData2016.zip`` (or
the unpacked folder). No checksum is published, so the archive's sha256 is
recorded in MANIFEST.json at the first import. Layout::

    ADEChallengeData2016/images/{training,validation}/ADE_{train,val}_NNNNNNNN.jpg
    ADEChallengeData2016/annotations/{training,validation}/ADE_{train,val}_NNNNNNNN.png

The annotation PNGs hold 0 ("other", not one of the 150) and 1..150. SPADE
(``ade20k_dataset.py``) subtracts one: classes 1..150 become 0..149 and "other"
becomes its dontcare label; bench does the same, with "other" as the ignore id
255 (the dontcare channel of SPADE's ``contain_dontcare_label`` is the spade
family's business).
"""

from __future__ import annotations

from pathlib import Path

from bench_plugins.datasets.ade20k_classes import CLASS_NAMES
from bench_plugins.datasets.standard import (
    Release,
    by_stem,
    generated_palette,
    id_table,
    index_split,
    match,
)
from pydantic import Field

from benchmark import DataError, Options, Source, download_and_import, find_dir, hookimpl

ARCHIVE = "ADEChallengeData2016.zip"
URL = f"http://data.csail.mit.edu/places/ADEchallenge/{ARCHIVE}"
SPLIT_OF = {"train": "training", "test": "validation"}
COUNTS = {"train": 20210, "test": 2000}
OTHER = 255
CITATION = ("B. Zhou, H. Zhao, X. Puig, S. Fidler, A. Barriuso, A. Torralba. Scene Parsing through ADE20K "
            "Dataset. CVPR 2017.")


class Ade20kOptions(Options):
    size: int = Field(256, ge=16, le=1024, description="side in pixels at which pairs are loaded, squeezed to a "
                      "square as SPADE does (photos bicubic, labels nearest)")
    train_size: int | None = Field(None, ge=1, description="use only the first N pairs (by name) of training")
    test_size: int | None = Field(None, ge=1, description="use only the first N pairs (by name) of validation")


class Ade20k(Release):
    name = "ade20k"
    summary = ("ADE20K SceneParsing (ADEChallengeData2016): 150 classes + 'other' (ignored), 20210 train / "
               "2000 test (validation), photos of varied size, SPADE trains at 256x256")
    class_names = CLASS_NAMES
    palette = generated_palette(len(CLASS_NAMES), 150)
    ignore_index = OTHER
    splits = dict(COUNTS)
    native_size = (256, 256)
    source = Source("download", url=URL, sha256=None, instructions=(
        f"download {URL} (public) and run: bench datasets import ade20k {ARCHIVE}"))
    downloads = (ARCHIVE,)
    layout = ("ADEChallengeData2016/{images,annotations}/{training,validation}/ADE_*.{jpg,png}; stored as "
              "{train,test}/{images,labels}/STEM")
    license = ("ADE20K terms: research and educational use (the annotations BSD-3; the images belong to their "
               "owners, see the MIT CSAIL ADE20K page)")
    citation = CITATION
    Options = Ade20kOptions
    default_segmenter = "upernet-101"  # the standard one; needs its published weights
    dontcare_label = True

    def card(self):
        return {**super().card(), "download": [ARCHIVE], "notes": (
            "ids: annotation value k in 1..150 is class k-1 (objectInfo150 order), value 0 ('other') is the "
            "ignore id 255, as SPADE's postprocess (label-1, -1 -> dontcare); SPADE counts 'other' as an extra "
            "dontcare channel (label_nc=150 + contain_dontcare_label): the spade family's dontcare_channel, on by "
            "default here (bench's one-hot leaves it all zero for other models). No instance maps (SPADE: no_instance). Split: train = "
            "training (20210), test = validation (2000). Size: SPADE resizes every photo to a square (train "
            "286 then random 256 crop, test 256); bench loads at option size squared (bicubic / nearest) and "
            "leaves cropping to the model's train transform. Palette: generated (the release has none)")}

    def prepare(self, root, options):
        folder = self.directory(root)
        if (folder / "train" / "images").is_dir():
            return folder
        return download_and_import(self, root, ARCHIVE, size="923 MB")

    def arrange(self, trees, sources):
        return arrange(trees, sources)

    def index(self, root, split, options: Ade20kOptions, bad):
        limit = options.train_size if split == "train" else options.test_size
        table = id_table({0: OTHER, **{k: k - 1 for k in range(1, len(CLASS_NAMES) + 1)}})
        return index_split(self.directory(root), split, self.name, table, (options.size, options.size), limit,
                           instances=False)


def arrange(trees: list[Path], sources) -> dict:
    shown = " + ".join(str(s) for s in sources)
    images, labels = find_dir(trees, "images"), find_dir(trees, "annotations")
    if images is None or labels is None:
        raise DataError(f"{shown}: no ADEChallengeData2016/images/ and annotations/ folders; pass {ARCHIVE} "
                        f"or its unpacked folder")
    pairs = {}
    for split, theirs in SPLIT_OF.items():
        photos = by_stem((images / theirs).glob("*.jpg"), ".jpg")
        maps = by_stem((labels / theirs).glob("*.png"), ".png")
        if not photos:
            raise DataError(f"{shown}: no photos in images/{theirs}/; the copy is incomplete, pass the whole {ARCHIVE}")
        pairs[split] = match(photos, maps, f"{theirs}", f"pass the whole {ARCHIVE}")
    return pairs


@hookimpl
def register_datasets(register):
    register(Ade20k())
