"""COCO-Stuff instance maps as SPADE's ``coco_generate_instance_map.py`` makes them: a hand-made
annotation file (polygons, a crowd region, overlapping things, stuff regions that touch, a thing on
the image border, an image without annotations) imported with the real `bench datasets import`, and
every map compared with an independent re-implementation of the script
(``tests/official_reference/coco_instance_map.py``, run through the COCO API as the script runs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from benchmark.testing import one_error_line
from official_reference.coco_instance_map import generate, polygon_2019
from PIL import Image
from test_standard_datasets import _mk, photo, png_bytes, zip_tree

W, H = 24, 18
SKY, GRASS, ROAD, PERSON, CAR = 156, 123, 148, 0, 6
STEMS = {"train2017": ["000000000009", "000000000025"], "val2017": ["000000000139", "000000000285"]}


def label_map(k: int) -> np.ndarray:
    """Stuff regions that touch (sky above, grass and road below, side by side) and two things."""
    label = np.full((H, W), SKY, np.uint8)
    label[8:, :12] = GRASS
    label[8:, 12:] = ROAD
    label[10:16, 3 + k:9 + k] = PERSON
    label[12:, 15:] = CAR
    label[0, 0] = 255                                   # unlabeled
    return label


def rect(x0, y0, x1, y1) -> list[float]:
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def annotations_of(image_id: int, k: int) -> list[dict]:
    """In file order: a person (float polygon), a crowd region (RLE), a car in two parts that
    overlaps the person, a thing on the bottom-right border, a large one listed last."""
    crowd = np.zeros((H, W), np.uint8)
    crowd[2:6, 14:20] = 1
    counts, run, value = [], 0, 0
    for v in crowd.flatten(order="F"):                # uncompressed RLE, column-major, from 0s
        if v != value:
            counts.append(run)
            run, value = 0, v
        run += 1
    counts.append(run)
    anns = [
        {"category_id": 1, "iscrowd": 0, "segmentation": [[3.4 + k, 10.2, 9.7 + k, 10.6, 8.9 + k, 16.3, 3.1 + k, 15.8]]},
        {"category_id": 1, "iscrowd": 1, "segmentation": {"counts": counts, "size": [H, W]}},
        {"category_id": 3, "iscrowd": 0, "segmentation": [rect(7, 12, 16, 17), rect(18.5, 8.5, 21.25, 10.75)]},
        {"category_id": 3, "iscrowd": 0, "segmentation": [rect(15, 12, W, H)]},
        {"category_id": 3, "iscrowd": 0, "segmentation": [[0, 9, 6, 9.5, 5, 18, 1, 17]]},
    ]
    for j, ann in enumerate(anns):
        ann.update(id=100 * image_id + j, image_id=image_id, area=1.0, bbox=[0, 0, 1, 1])
    return anns


def cli(*args) -> int:
    """`bench ARGS` in this process (the command's code without a new interpreter)."""
    from benchmark.cli.app import main

    return main([str(a) for a in args])


def make_release(tmp: Path, annotation_doc=None) -> tuple[list[Path], dict[str, Path]]:
    """The four COCO-Stuff archives; the second image of each split has no annotation; the
    annotations of the two images of a split are interleaved in the file."""
    archives, docs = [], {}
    for theirs, stems in STEMS.items():
        for k, stem in enumerate(stems):
            Image.fromarray(photo(k, W, H)).save(_mk(tmp / f"img_{theirs}" / theirs / f"{stem}.jpg"))
            png_bytes(label_map(k), tmp / "maps" / theirs / f"{stem}.png")
        archives.append(zip_tree(tmp / f"img_{theirs}", tmp / f"{theirs}.zip"))
        images = [{"id": 7 + k, "file_name": f"{s}.jpg", "width": W, "height": H} for k, s in enumerate(stems)]
        first = annotations_of(7, 0)
        other = [{**first[0], "id": 999, "image_id": 99}]          # an image not in the release
        anns = first[:2] + other + first[2:]
        docs[theirs] = annotation_doc or {"images": images + [{"id": 99, "file_name": "000000000099.jpg",
                                                               "width": W, "height": H}],
                                          "annotations": anns,
                                          "categories": [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}]}
    archives.append(zip_tree(tmp / "maps", tmp / "stuffthingmaps_trainval2017.zip"))
    files = {}
    for theirs, doc in docs.items():
        files[theirs] = _mk(tmp / "ann" / "annotations" / f"instances_{theirs}.json")
        files[theirs].write_text(json.dumps(doc))
    archives.append(zip_tree(tmp / "ann", tmp / "annotations_trainval2017.zip"))
    return archives, files


def test_import_writes_the_maps_spade_s_script_writes(tmp_path):
    archives, files = make_release(tmp_path)
    data = tmp_path / "data"
    assert cli("datasets", "import", "coco-stuff", *archives, "--data-root", data) == 0
    for theirs, split in (("train2017", "train"), ("val2017", "test")):
        for k, stem in enumerate(STEMS[theirs] + ["000000000099"]):   # the script maps every image of the file
            png_bytes(label_map(k), tmp_path / "labels" / theirs / f"{stem}.png")
        written = generate(files[theirs], tmp_path / "labels" / theirs, tmp_path / "official" / theirs)
        assert sorted(written) == sorted(f"{s}.png" for s in STEMS[theirs] + ["000000000099"])
        for k, stem in enumerate(STEMS[theirs]):
            ours = np.asarray(Image.open(data / "coco-stuff" / split / "instances" / f"{stem}.png"))
            official = np.asarray(Image.open(tmp_path / "official" / theirs / f"{stem}.png"))
            assert ours.dtype == np.uint8 and np.array_equal(ours, official), (theirs, stem)
            if k == 1:                                  # no annotation: the label map itself
                assert np.array_equal(ours, label_map(1))
    ours = np.asarray(Image.open(data / "coco-stuff" / "train" / "instances" / "000000000009.png"))
    # by hand (the script draws at y - 1, x - 1): the stuff regions stay apart, the crowd region is not
    # painted, the person is 0, the car's first part (1) covers it, its second part is 1 too, the
    # border thing is 2 but leaves the last row and column to the label map, the last one listed is 3
    assert ours[0, 0] == 255 and ours[1, 1] == SKY and ours[3, 16] == SKY and ours[9, 8] == GRASS
    assert ours[12, 5] == 0 and ours[13, 9] == 1 and ours[8, 19] == 1 and ours[10, 2] == 3
    assert ours[12, 20] == 2 and ours[17, 20] == CAR and ours[13, 23] == CAR and ours[11, 23] == ROAD
    assert {GRASS, ROAD} <= set(np.unique(ours).tolist())


def test_polygon_fill_is_scikit_image_s_of_2019():
    from bench_plugins.datasets.polygon_fill import polygon_pixels
    from skimage.draw import polygon as polygon_today

    def mask(rr, cc, shape=(20, 26)):
        out = np.zeros(shape, bool)
        out[rr, cc] = True
        return out

    # by hand: a rectangle on whole pixels fills its top and left edges, not its bottom and right ones
    want = np.zeros((20, 26), bool)
    want[1:4, 2:6] = True
    assert np.array_equal(mask(*polygon_pixels([1, 1, 4, 4], [2, 6, 6, 2], (20, 26))), want)
    assert np.array_equal(mask(*polygon_2019([1, 1, 4, 4], [2, 6, 6, 2])), want)
    # today's scikit-image fills the other edges too; elsewhere the versions agree
    today = mask(*polygon_today([1, 1, 4, 4], [2, 6, 6, 2], (20, 26)))
    assert np.array_equal(today & ~want, mask([4, 4, 4, 4, 4, 1, 2, 3], [2, 3, 4, 5, 6, 6, 6, 6]))
    rng = np.random.default_rng(0)
    for trial in range(300):
        n = int(rng.integers(3, 10))
        whole = trial % 2 == 1                            # whole-pixel vertices: centres on edges
        r = rng.integers(-2, 22, n).astype(float) if whole else rng.uniform(-2.5, 21.5, n)
        c = rng.integers(-2, 28, n).astype(float) if whole else rng.uniform(-2.5, 27.5, n)
        ours = mask(*polygon_pixels(r, c, (20, 26)))
        rr, cc = polygon_2019(r, c)
        inside = (rr < 20) & (cc < 26)                  # the 2019 loop has no shape: crop it here
        assert np.array_equal(ours, mask(rr[inside], cc[inside])), (r, c)
        if not whole:
            assert np.array_equal(ours, mask(*polygon_today(r, c, (20, 26)))), (r, c)


def test_a_broken_polygon_is_one_line_and_nothing_is_kept(tmp_path, capsys):
    doc = {"images": [{"id": 1, "file_name": f"{s}.jpg", "width": W, "height": H} for s in STEMS["train2017"]]
           + [{"id": 2, "file_name": f"{s}.jpg", "width": W, "height": H} for s in STEMS["val2017"]],
           "annotations": [{"id": 5, "image_id": 1, "iscrowd": 0, "segmentation": [[1, 2, 3, 4, 5]]}],
           "categories": []}
    archives, _ = make_release(tmp_path, doc)
    data = tmp_path / "data"
    code = cli("datasets", "import", "coco-stuff", *archives, "--data-root", data)
    line = one_error_line(code, capsys.readouterr().err)
    assert "instances_train2017.json" in line and "annotation 5" in line and "x, y pairs" in line
    assert not (data / "coco-stuff").exists() and not (data / "coco-stuff.importing").exists()


def test_verify_names_the_maps_and_refuses_an_older_bench_s(tmp_path, capsys):
    archives, _ = make_release(tmp_path)
    data = tmp_path / "data"
    assert cli("datasets", "import", "coco-stuff", *archives, "--data-root", data) == 0
    assert cli("datasets", "verify", "coco-stuff", "--data-root", data, "--set", "coco-stuff.train_size=2",
               "--set", "coco-stuff.test_size=2") == 0
    assert "protocol instance_maps: SPADE's datasets/coco_generate_instance_map.py" in capsys.readouterr().out
    (data / "coco-stuff" / "INSTANCES.json").unlink()     # as an import before SPADE's maps left it
    line = one_error_line(cli("datasets", "verify", "coco-stuff", "--data-root", data), capsys.readouterr().err)
    assert "instances" in line and "older bench" in line and "annotations_trainval2017.zip" in line


@pytest.mark.parametrize("broken", ["{not json", '{"images": 3}'])
def test_unreadable_annotations_are_one_line(tmp_path, capsys, broken):
    archives, files = make_release(tmp_path)
    files["val2017"].write_text(broken)
    archives[-1] = zip_tree(tmp_path / "ann", tmp_path / "annotations_trainval2017.zip")
    code = cli("datasets", "import", "coco-stuff", *archives, "--data-root", tmp_path / "data")
    line = one_error_line(code, capsys.readouterr().err)
    assert "instances_val2017.json" in line and "not readable COCO instance annotations" in line
