"""COCO-Stuff instance maps from the COCO 2017 instance annotations, decoded with pycocotools.

``pycocotools`` (the COCO API from PyPI; ``pip install 'sis-bench[coco]'``) turns each
annotation (polygons or RLE) into a mask. A map holds 0 where no thing is, and
instance k (1, 2, ...) for the k-th annotation of the image in the order the
COCO API lists them, larger annotations painted first so that a small object on
a larger one stays visible. Crowd annotations are included (they are regions of
things too). Maps are 16-bit PNGs at the photo's size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from benchmark import DataError

HINT = "install the COCO API with `pip install 'sis-bench[coco]'` (pycocotools), or import without the annotations"


def coco_api():
    try:
        from pycocotools.coco import COCO
    except ImportError:
        raise DataError(f"annotations_trainval2017.zip was given but pycocotools is not installed; {HINT}") from None
    return COCO


def write_instance_maps(annotation_file: Path, stems: list[str], folder: Path) -> int:
    """Write ``folder/STEM.png`` for every stem (COCO image file name without .jpg); return how many
    images had at least one instance."""
    COCO = coco_api()
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):   # the COCO API prints its progress
        try:
            coco = COCO(str(annotation_file))
        except (ValueError, KeyError, OSError) as exc:
            raise DataError(f"{annotation_file}: not readable COCO instance annotations ({exc}); pass the "
                            f"official annotations_trainval2017.zip") from None
    by_name = {Path(img["file_name"]).stem: img for img in coco.dataset.get("images", [])}
    folder.mkdir(parents=True, exist_ok=True)
    with_things = 0
    for stem in stems:
        img = by_name.get(stem)
        if img is None:
            raise DataError(f"{annotation_file}: no entry for image {stem}.jpg; pass the annotations of the same "
                            f"COCO 2017 release as the photos")
        canvas = np.zeros((img["height"], img["width"]), dtype=np.uint16)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]], iscrowd=None))
        order = sorted(range(len(anns)), key=lambda i: -float(anns[i].get("area", 0)))
        for i in order:
            canvas[coco.annToMask(anns[i]) > 0] = i + 1
        with_things += bool(anns)
        Image.fromarray(canvas).save(folder / f"{stem}.png")
    return with_things
