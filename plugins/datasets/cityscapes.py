"""`cityscapes`: street scenes from 50 cities, the 35 label ids SPADE uses, with instance maps.

The release needs a (free) login at https://www.cityscapes-dataset.com, so it is
never downloaded: get ``gtFine_trainvaltest.zip`` (241 MB) and
``leftImg8bit_trainvaltest.zip`` (11 GB) and run ``bench datasets import
cityscapes gtFine_trainvaltest.zip leftImg8bit_trainvaltest.zip`` (or pass the
unpacked folder). Official layout::

    gtFine/{train,val,test}/CITY/CITY_SEQ_FRAME_gtFine_{labelIds,instanceIds,color}.png (+ _polygons.json)
    leftImg8bit/{train,val,test}/CITY/CITY_SEQ_FRAME_leftImg8bit.png

``train`` (2975) is bench's train split and ``val`` (500) its test split, as in
SPADE and every paper (the test split's labels are not public). Stored: the
photos, ``_gtFine_labelIds`` (ids 0..33) and ``_gtFine_instanceIds`` (stuff
pixels hold their class id, pixels of an object instance ``id * 1000 + k``),
under the stem ``CITY_SEQ_FRAME``. SPADE trains at 512x256 (``preprocess_mode
fixed``, ``aspect_ratio 2``): photos bicubic, labels and instance maps nearest;
option ``size`` is that width.
"""

from __future__ import annotations

from pathlib import Path

from bench_plugins.datasets.cityscapes_classes import CITATION, CLASS_NAMES, PALETTE
from bench_plugins.datasets.standard import Release, by_stem, id_table, index_split, match
from pydantic import Field

from benchmark import DataError, Options, Source, find_dir, hookimpl

PAGE = "https://www.cityscapes-dataset.com/downloads/"
ARCHIVES = ("gtFine_trainvaltest.zip", "leftImg8bit_trainvaltest.zip")
#: bench split -> the release's split
SPLIT_OF = {"train": "train", "test": "val"}
COUNTS = {"train": 2975, "test": 500}
PHOTO, LABEL, INSTANCE = "_leftImg8bit.png", "_gtFine_labelIds.png", "_gtFine_instanceIds.png"


class CityscapesOptions(Options):
    size: int = Field(512, ge=16, le=2048, description="width in pixels at which pairs are loaded; the height is "
                      "half of it (SPADE: 512x256); photos bicubic, label and instance maps nearest")
    train_size: int | None = Field(None, ge=1, description="use only the first N pairs (by name) of train "
                                   "(default: all 2975)")
    test_size: int | None = Field(None, ge=1, description="use only the first N pairs (by name) of val "
                                  "(default: all 500)")


class Cityscapes(Release):
    name = "cityscapes"
    summary = ("Cityscapes (gtFine): street scenes, 35 label ids (SPADE's), instance maps, 2975 train / "
               "500 test (the val split), 2048x1024 photos, SPADE trains at 512x256")
    class_names = CLASS_NAMES
    palette = PALETTE
    ignore_index = None
    splits = dict(COUNTS)
    native_size = (256, 512)
    aspect_ratio = 2.0
    has_instances = True
    source = Source("manual", url=PAGE, instructions=(
        f"log in at {PAGE} (free registration), download {ARCHIVES[0]} (241 MB) and {ARCHIVES[1]} (11 GB), "
        f"then run: bench datasets import cityscapes {ARCHIVES[0]} {ARCHIVES[1]}"))
    downloads = ARCHIVES
    layout = ("gtFine/{train,val}/CITY/STEM_gtFine_{labelIds,instanceIds}.png + leftImg8bit/{train,val}/CITY/"
              "STEM_leftImg8bit.png; stored as {train,test}/{images,labels,instances}/STEM.png")
    license = ("Cityscapes terms of use: non-commercial research and teaching only, no redistribution, "
               "cite the paper")
    citation = CITATION
    Options = CityscapesOptions
    default_segmenter = "drn-d-105"  # the standard one; needs its published weights

    def card(self):
        return {**super().card(), "download": list(ARCHIVES), "notes": (
            "ids: the official labelIds 0..33 as in the release's *_gtFine_labelIds.png, plus license plate "
            "(official id -1, never drawn in those files) as id 34: 35 classes, SPADE's label_nc=35; no ignore "
            "id and no dontcare channel (SPADE has none for Cityscapes). Instance maps: *_gtFine_instanceIds.png "
            "as released (id*1000+k for object instances). Split: train = train (2975), test = val (500), as "
            "SPADE (phase test reads val). Size: SPADE trains and tests at 512x256 (aspect ratio 2, bicubic "
            "photos, nearest labels); bench loads at option size x size/2 the same way, and a run keeps the aspect ratio 2 (image_size "
            "is the height: 512x256 at image_size 256, 64x32 at the smoke profile's 32; --set aspect_ratio=R "
            "overrides it). The instance maps become the spade family's instance-edge channel, on by default "
            "here as in SPADE. SPADE's random flip is the model's train transform")}

    def arrange(self, trees, sources):
        return arrange(trees, sources)

    def index(self, root, split, options: CityscapesOptions, bad):
        limit = options.train_size if split == "train" else options.test_size
        size = (options.size, round(options.size / self.aspect_ratio))
        table = id_table({i: i for i in range(len(CLASS_NAMES))})
        return index_split(self.directory(root), split, self.name, table, size, limit, instances=True)


def arrange(trees: list[Path], sources) -> dict:
    shown = " + ".join(str(s) for s in sources)
    gt, left = find_dir(trees, "gtFine"), find_dir(trees, "leftImg8bit")
    if gt is None or left is None:
        missing = ARCHIVES[0] if gt is None else ARCHIVES[1]
        raise DataError(f"{shown}: no {'gtFine' if gt is None else 'leftImg8bit'}/ folder; pass both {ARCHIVES[0]} "
                        f"and {ARCHIVES[1]} (missing: {missing})")
    pairs = {}
    for split, theirs in SPLIT_OF.items():
        if not (gt / theirs).is_dir() or not (left / theirs).is_dir():
            raise DataError(f"{shown}: gtFine/{theirs}/ or leftImg8bit/{theirs}/ missing; the copy is "
                            f"incomplete, pass the whole {ARCHIVES[0]} and {ARCHIVES[1]}")
        label_files = list((gt / theirs).glob("*/*_gtFine_*.png"))
        pairs[split] = match(by_stem((left / theirs).glob(f"*/*{PHOTO}"), PHOTO), by_stem(label_files, LABEL),
                             f"{theirs}", f"pass the whole {ARCHIVES[0]} and {ARCHIVES[1]}",
                             instances=by_stem(label_files, INSTANCE))
        if not pairs[split]:
            raise DataError(f"{left / theirs}: no *{PHOTO} photos; pass the whole {ARCHIVES[1]}")
    return pairs


@hookimpl
def register_datasets(register):
    register(Cityscapes())
