"""`coco-stuff`: COCO-Stuff 164k, 182 stuff and thing ids, 118k train / 5000 test.

Downloads (public): the COCO 2017 photos ``train2017.zip`` (18 GB) and
``val2017.zip`` (1 GB) from images.cocodataset.org, and
``stuffthingmaps_trainval2017.zip`` (659 MB) from the COCO-Stuff page
(github.com/nightrome/cocostuff). Import them together, offline::

    bench datasets import coco-stuff train2017.zip val2017.zip stuffthingmaps_trainval2017.zip \
        [annotations_trainval2017.zip]

Layout: ``train2017/NNNNNNNNNNNN.jpg`` and ``val2017/...`` in the photo
archives, ``train2017/NNNNNNNNNNNN.png`` and ``val2017/...`` in the map archive
(ids 0..181, 255 unlabeled). With ``annotations_trainval2017.zip`` (the COCO
instance annotations) the import also writes instance maps as SPADE's
``coco_generate_instance_map.py`` makes them (see :mod:`bench_plugins.datasets.coco_instances`);
without it there are none.
"""

from __future__ import annotations

from pathlib import Path

from bench_plugins.datasets.coco_instances import MADE_AS, made_as, record, write_instance_maps
from bench_plugins.datasets.cocostuff_classes import CITATION, CLASS_NAMES
from bench_plugins.datasets.standard import Release, generated_palette, id_table, index_split, match
from pydantic import Field

from benchmark import DataError, Options, Source, find_dirs, hookimpl

PAGE = "https://github.com/nightrome/cocostuff"
ARCHIVES = ("train2017.zip", "val2017.zip", "stuffthingmaps_trainval2017.zip")
ANNOTATIONS = "annotations_trainval2017.zip"
SPLIT_OF = {"train": "train2017", "test": "val2017"}
COUNTS = {"train": 118287, "test": 5000}
UNLABELED = 255


class CocoStuffOptions(Options):
    size: int = Field(256, ge=16, le=1024, description="side in pixels at which pairs are loaded, squeezed to a "
                      "square as SPADE does (photos bicubic, labels and instance maps nearest)")
    train_size: int | None = Field(None, ge=1, description="use only the first N pairs (by name) of train2017")
    test_size: int | None = Field(None, ge=1, description="use only the first N pairs (by name) of val2017")


class CocoStuff(Release):
    name = "coco-stuff"
    summary = ("COCO-Stuff 164k: 182 ids (80 thing + 91 stuff used), 255 unlabeled (ignored), 118287 train / "
               "5000 test (val2017), instance maps from the COCO annotations when given")
    class_names = CLASS_NAMES
    palette = generated_palette(len(CLASS_NAMES), 182)
    ignore_index = UNLABELED
    splits = dict(COUNTS)
    native_size = (256, 256)
    source = Source("manual", url=PAGE, instructions=(
        "download http://images.cocodataset.org/zips/train2017.zip, http://images.cocodataset.org/zips/val2017.zip "
        "and http://calvin.inf.ed.ac.uk/wp-content/uploads/data/cocostuffdataset/stuffthingmaps_trainval2017.zip "
        "(and, for instance maps, http://images.cocodataset.org/annotations/annotations_trainval2017.zip), then "
        f"run: bench datasets import coco-stuff {' '.join(ARCHIVES)} [{ANNOTATIONS}]"))
    downloads = (*ARCHIVES, f"{ANNOTATIONS} (optional)")
    layout = ("{train,val}2017/STEM.jpg + stuffthingmaps {train,val}2017/STEM.png (+ annotations/instances_*.json); "
              "stored as {train,test}/{images,labels,instances}/STEM")
    license = ("COCO annotations CC BY 4.0, COCO-Stuff annotations CC BY 4.0; the photos are flickr's under their "
               "owners' licences (COCO terms of use)")
    citation = CITATION
    Options = CocoStuffOptions
    default_segmenter = "deeplabv2-cocostuff"  # the standard one; needs its published weights

    def card(self):
        return {**super().card(), "download": list(self.downloads), "notes": (
            "ids: the stuffthingmaps values 0..181 (labels.txt ids 1..182 minus one; 11 thing ids have no "
            "annotations and never occur), 255 unlabeled is the ignore id; SPADE (label_nc=182, "
            "contain_dontcare_label) turns 255 into an extra dontcare channel: the spade family's "
            "dontcare_channel, on by default here (bench's one-hot leaves 255 all zero for other models). Instance maps: from annotations_trainval2017.zip "
            "when given, as SPADE's datasets/coco_generate_instance_map.py makes them (the label map with the thing "
            "polygons painted on it, crowd regions skipped; only their boundaries are used: the spade family's "
            "instance-edge channel, on by default when the maps were imported), else none. Split: train = "
            "train2017 (118287), test = val2017 (5000); SPADE's optional portrait folders are not used. Size: "
            "SPADE resizes to a square (train 286 then random 256 crop, test 256); bench loads at option size "
            "squared and leaves cropping to the model's train transform. Palette: generated")}

    dontcare_label = True

    @property
    def has_instances(self) -> bool:   # noqa: D401 - per import: with or without the annotations
        return getattr(self, "_instances", False)

    def configure(self, root, options):
        """Whether this copy was imported with its instance maps (the annotations), made as SPADE makes them."""
        self._instances = instance_maps(self.directory(root))

    def protocol(self):
        return {"instance_maps": MADE_AS} if self.has_instances else {}

    def arrange(self, trees, sources):
        return arrange(trees, sources)

    def after(self, trees, staging, pairs):
        instances(trees, staging, pairs)

    def index(self, root, split, options: CocoStuffOptions, bad):
        folder = self.directory(root)
        limit = options.train_size if split == "train" else options.test_size
        table = id_table({**{i: i for i in range(len(CLASS_NAMES))}, UNLABELED: UNLABELED})
        with_instances = self._instances = instance_maps(folder)
        return index_split(folder, split, self.name, table, (options.size, options.size), limit,
                           instances=with_instances)


def arrange(trees: list[Path], sources: list[Path]) -> dict:
    shown = " + ".join(str(s) for s in sources)
    pairs = {}
    for split, theirs in SPLIT_OF.items():
        folders = find_dirs(trees, theirs)
        photos = {p.stem: p for f in folders for p in f.glob("*.jpg")}
        maps = {p.stem: p for f in folders for p in f.glob("*.png")}
        if not photos:
            raise DataError(f"{shown}: no {theirs}/*.jpg photos; pass {theirs}.zip (and the other archives: "
                            f"{', '.join(ARCHIVES)})")
        if not maps:
            raise DataError(f"{shown}: no {theirs}/*.png label maps; pass {ARCHIVES[2]} as well")
        pairs[split] = match(photos, maps, theirs, f"pass the whole {theirs}.zip and {ARCHIVES[2]}")
    return pairs


def instances(trees: list[Path], staging: Path, pairs: dict) -> None:
    """Instance maps from ``annotations/instances_{train,val}2017.json`` when the annotations were given."""
    folders = find_dirs(trees, "annotations")
    if not folders:
        return
    for split, theirs in SPLIT_OF.items():
        path = next((f / f"instances_{theirs}.json" for f in folders if (f / f"instances_{theirs}.json").is_file()),
                    None)
        if path is None:
            raise DataError(f"{folders[0]}: no instances_{theirs}.json; pass the whole {ANNOTATIONS} or leave it out")
        labels = {p.stem: staging / split / "labels" / f"{p.stem}.png" for p in pairs[split]}
        write_instance_maps(path, labels, staging / split / "instances")
    record(staging)


def instance_maps(folder: Path) -> bool:
    """Whether an import has instance maps; maps an older bench made (thing masks only) are refused."""
    if not (folder / "train" / "instances").is_dir():
        return False
    if made_as(folder) != MADE_AS:
        raise DataError(f"{folder / 'train' / 'instances'}: instance maps of an older bench (thing masks only, not "
                        f"SPADE's); import again with `bench datasets import coco-stuff {' '.join(ARCHIVES)} "
                        f"{ANNOTATIONS}`, or delete the instances folders to run without")
    return True


@hookimpl
def register_datasets(register):
    register(CocoStuff())
