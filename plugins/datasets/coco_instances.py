"""COCO-Stuff instance maps as SPADE's ``datasets/coco_generate_instance_map.py`` makes them.

SPADE's script starts from each image's stuff-and-thing label map (the stuffthingmaps PNG: ids
0..181, 255 unlabeled) and paints the image's thing annotations onto it, in the order the
annotation file lists them: every polygon of the k-th annotation that has polygons gets the value
k - 1 (0 for the first, as a uint8, so the 257th wraps to 0). Crowd annotations (run-length encoded,
not polygons) are skipped. The map therefore keeps the label map's stuff regions apart as well as
the thing instances; SPADE only uses its boundaries (the instance-edge channel), so the values
matter only where they differ between neighbours. Polygons are shifted by one pixel up and left
(the script draws ``y - 1, x - 1``) and filled as scikit-image did then (see
:mod:`bench_plugins.datasets.polygon_fill`). An image without annotations gets its label map.

The annotations are read as JSON (no COCO API needed: the script uses it only to list an image's
annotations in file order). Maps are 8-bit PNGs at the label map's size, as the script saves them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from bench_plugins.datasets.parallel import ordered_map
from bench_plugins.datasets.polygon_fill import polygon_pixels
from PIL import Image

from benchmark import DataError, read_image

#: what the import records beside the maps (``INSTANCES.json``) and the protocol repeats
MADE_AS = "SPADE's datasets/coco_generate_instance_map.py (stuff label map + thing polygons, crowd skipped)"
RECORD = "INSTANCES.json"


def spade_instance_map(label: np.ndarray, annotations: list[dict], where: str) -> np.ndarray:
    """The instance map of one image: ``label`` (uint8 ids) with ``annotations`` painted on it."""
    out = np.array(label, dtype=np.uint8)
    count = 0
    for ann in annotations:
        polygons = ann.get("segmentation")
        if not isinstance(polygons, list):   # crowd regions are RLE dicts: the script skips them
            continue
        for poly in polygons:
            try:
                xy = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
            except (ValueError, TypeError):
                raise DataError(f"{where}: annotation {ann.get('id')} has a polygon that is not a flat list of "
                                f"x, y pairs; pass the official COCO 2017 annotations") from None
            rr, cc = polygon_pixels(xy[:, 1] - 1, xy[:, 0] - 1, out.shape)
            out[rr, cc] = count % 256
        count += 1
    return out


def read_annotations(annotation_file: Path) -> tuple[dict[str, dict], dict[int, list[dict]]]:
    """(image entry by file stem, the image's annotations in file order by image id)."""
    try:
        doc = json.loads(Path(annotation_file).read_text())
        images = {Path(img["file_name"]).stem: img for img in doc["images"]}
        by_image: dict[int, list[dict]] = {}
        for ann in doc.get("annotations", []):
            by_image.setdefault(ann["image_id"], []).append(ann)
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise DataError(f"{annotation_file}: not readable COCO instance annotations ({type(exc).__name__}: "
                        f"{exc}); pass the official annotations_trainval2017.zip") from None
    return images, by_image


def write_instance_maps(annotation_file: Path, labels: dict[str, Path], folder: Path) -> None:
    """Write ``folder/STEM.png`` for every stem of ``labels`` (stem -> its label map PNG)."""
    images, by_image = read_annotations(annotation_file)
    missing = sorted(set(labels) - set(images))
    if missing:
        raise DataError(f"{annotation_file}: no entry for image {missing[0]}.jpg; pass the annotations of the same "
                        f"COCO 2017 release as the photos")
    folder.mkdir(parents=True, exist_ok=True)

    def one(stem: str) -> None:
        label = read_image(labels[stem])
        if label.ndim != 2:
            raise DataError(f"{labels[stem]}: a label map with {label.shape[2]} channels; pass the official "
                            f"stuffthingmaps_trainval2017.zip")
        anns = by_image.get(images[stem]["id"], [])
        Image.fromarray(spade_instance_map(label, anns, str(annotation_file))).save(folder / f"{stem}.png")

    ordered_map(one, sorted(labels))


def record(folder: Path) -> None:
    """Say beside an import's maps how they were made (read back by :func:`made_as`)."""
    (folder / RECORD).write_text(json.dumps({"instance_maps": MADE_AS}, indent=2) + "\n")


def made_as(folder: Path) -> str | None:
    """How an import's instance maps were made; None when the import does not say (an older bench)."""
    try:
        return json.loads((folder / RECORD).read_text())["instance_maps"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
