"""SPADE's ``datasets/coco_generate_instance_map.py`` (NVlabs/SPADE), re-written for the tests from the
official script and the scikit-image of its time.

The script, step by step: the COCO API (pycocotools) opens the instance annotations; the images are
``coco.getImgIds(catIds=coco.getCatIds(cats))`` where ``cats`` are category dicts, which no category
name equals, so the category filter is empty and every image of the file is taken; for each image
the stuff-and-thing label map (``file_name`` with ``jpg`` -> ``png``) is read as an 8-bit array, and
the image's annotations (``getAnnIds(imgIds=id, iscrowd=None)``, the file's order) are painted on
it: each annotation whose segmentation is a polygon list (crowd annotations are run-length encoded
dicts and skipped) fills every one of its polygons with a running count (0 for the first such
annotation, then 1, 2, ...) through ``skimage.draw.polygon(y - 1, x - 1)``; the array is saved as
a PNG under the same name. The count is written into a uint8 array, which the numpy of 2019
wrapped modulo 256.

``draw.polygon`` is scikit-image's before 0.18 (the release of late 2020 that changed its point
test): a per-pixel loop over the polygon's bounding box (from row and column 0, up to the ceiling
of the largest coordinate) with PNPOLY's crossing test, written out here as the loops it was.

This file is independent of ``bench_plugins``: it imports nothing from it.
"""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path

import numpy as np
from PIL import Image


def point_in_polygon(xp: list[float], yp: list[float], x: float, y: float) -> bool:
    """PNPOLY as scikit-image's ``_shared/geometry.pxd`` had it before 0.18."""
    inside = False
    j = len(xp) - 1
    for i in range(len(xp)):
        if (((yp[i] <= y) and (y < yp[j])) or ((yp[j] <= y) and (y < yp[i]))) and \
                (x < (xp[j] - xp[i]) * (y - yp[i]) / (yp[j] - yp[i]) + xp[i]):
            inside = not inside
        j = i
    return inside


def polygon_2019(r, c) -> tuple[np.ndarray, np.ndarray]:
    """``skimage.draw.polygon(r, c)`` (no shape) as it was before 0.18."""
    r = [float(v) for v in r]
    c = [float(v) for v in c]
    minr, maxr = int(max(0, min(r))), int(math.ceil(max(r)))
    minc, maxc = int(max(0, min(c))), int(math.ceil(max(c)))
    rr, cc = [], []
    for r_i in range(minr, maxr + 1):
        for c_i in range(minc, maxc + 1):
            if point_in_polygon(c, r, float(c_i), float(r_i)):
                rr.append(r_i)
                cc.append(c_i)
    return np.array(rr, dtype=np.intp), np.array(cc, dtype=np.intp)


def generate(annotation_file: Path, label_dir: Path, out_dir: Path) -> list[str]:
    """Run the script's loop: write ``out_dir/NAME.png`` for every image of the annotation file;
    return the names written."""
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(annotation_file))
    cats = coco.loadCats(coco.getCatIds())
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for image_id in coco.getImgIds(catIds=coco.getCatIds(cats)):
        img_dict = coco.loadImgs(image_id)[0]
        filename = img_dict["file_name"].replace("jpg", "png")
        img = np.array(Image.open(label_dir / filename))   # an 8-bit gray PNG: what io.imread returns
        assert img.dtype == np.uint8 and img.ndim == 2
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id, catIds=[], iscrowd=None))
        count = 0
        for ann in anns:
            if type(ann["segmentation"]) == list:  # noqa: E721 (the script's own test)
                for seg in ann["segmentation"]:
                    poly = np.array(seg).reshape((int(len(seg) / 2), 2))
                    rr, cc = polygon_2019(poly[:, 1] - 1, poly[:, 0] - 1)
                    img[rr, cc] = count % 256
                count += 1
        Image.fromarray(img).save(out_dir / filename)
        written.append(filename)
    return written
