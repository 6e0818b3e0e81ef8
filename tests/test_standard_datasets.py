"""cityscapes, ade20k and coco-stuff: tiny archives in each official layout, imported with the real
`bench datasets import`, checked against hand-built expected maps."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
from benchmark.testing import call_cli, one_error_line
from PIL import Image

W, H = 32, 16   # Cityscapes-like 2:1 tiny photos


def png_bytes(arr: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def zip_tree(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(folder).as_posix())
    return archive


def photo(seed: int, w: int = W, h: int = H) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# ---------------------------------------------------------------- cityscapes

CITY_FRAMES = {"train": [("aachen", "000000", "000019"), ("aachen", "000001", "000019"),
                         ("bochum", "000000", "000313")],
               "val": [("frankfurt", "000000", "000294"), ("lindau", "000000", "000019")]}


def city_maps(i: int) -> tuple[np.ndarray, np.ndarray]:
    """A label map (road below, sky above, a car and a person) and its instance map (id*1000+k)."""
    label = np.full((H, W), 23, dtype=np.uint8)          # sky
    label[H // 2:] = 7                                   # road
    label[10:14, 2 + i:8 + i] = 26                       # car
    label[4:12, 20:24] = 24                              # person
    label[0, 0] = 0                                      # unlabeled
    inst = label.astype(np.int32)
    inst[10:14, 2 + i:8 + i] = 26000                     # car instance 0
    inst[4:12, 20:22] = 24000                            # person 0
    inst[4:12, 22:24] = 24001                            # person 1
    return label, inst


def make_cityscapes(tmp: Path) -> tuple[Path, Path, dict]:
    gt, left = tmp / "gt", tmp / "left"
    expected = {}
    n = 0
    for split, frames in CITY_FRAMES.items():
        for city, seq, frame in frames:
            stem = f"{city}_{seq}_{frame}"
            label, inst = city_maps(n)
            d = gt / "gtFine" / split / city
            png_bytes(label, d / f"{stem}_gtFine_labelIds.png")
            png_bytes(inst.astype(np.uint16), d / f"{stem}_gtFine_instanceIds.png")
            png_bytes(np.zeros((H, W, 3), np.uint8), d / f"{stem}_gtFine_color.png")
            (d / f"{stem}_gtFine_polygons.json").write_text("{}")
            png_bytes(photo(n), left / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png")
            expected[stem] = (label, inst, photo(n))
            n += 1
    # the test split ships with dummy labels: it must be ignored
    png_bytes(photo(99), left / "leftImg8bit" / "test" / "berlin" / "berlin_000000_000019_leftImg8bit.png")
    for top in (gt, left):
        (top / "README").write_text("official readme")
        (top / "license.txt").write_text("terms")
    return (zip_tree(gt, tmp / "gtFine_trainvaltest.zip"), zip_tree(left, tmp / "leftImg8bit_trainvaltest.zip"),
            expected)


def load(name: str, data: Path, split: str, **options):
    from benchmark import BadFiles
    from benchmark.registry.plugins import default

    spec = default().datasets.get(name)
    return spec, spec.load(data, split, spec.Options(**options), BadFiles(skip=False))


def test_cityscapes_import_ids_and_instances(tmp_path):
    gt, left, expected = make_cityscapes(tmp_path)
    data = tmp_path / "data"
    proc = call_cli("datasets", "import", "cityscapes", str(gt), str(left), "--data-root", str(data),
                 "--set", "cityscapes.size=32")
    assert proc.returncode == 0, proc.stderr
    assert "3 train, 2 test" in proc.stdout
    stored = data / "cityscapes"
    assert sorted(p.name for p in (stored / "test" / "images").iterdir()) == [
        "frankfurt_000000_000294.png", "lindau_000000_000019.png"]
    manifest = json.loads((stored / "MANIFEST.json").read_text())
    assert len(manifest["sources"]) == 2 and all(len(s["sha256"]) == 64 for s in manifest["sources"])
    spec, train = load("cityscapes", data, "train", size=32)
    assert spec.num_classes == 35 and spec.class_names[26] == "car" and spec.class_names[34] == "license plate"
    for s in train:
        label, inst, rgb = expected[s.stem]
        assert s.image.shape == (16, 32, 3) and np.array_equal(s.image, rgb)
        assert np.array_equal(s.label, label)
        assert s.instance is not None and np.array_equal(s.instance, inst)
        assert {24000, 24001, 26000} <= set(np.unique(s.instance).tolist())
    # loaded at SPADE's 2:1 ratio: size 16 -> 16x8, labels and instances nearest
    _, small = load("cityscapes", data, "test", size=16)
    assert small[0].image.shape == (8, 16, 3) and small[0].label.shape == (8, 16)
    assert set(np.unique(small[0].label)) <= {0, 7, 23, 24, 26}


def test_cityscapes_needs_both_archives(tmp_path):
    gt, _, _ = make_cityscapes(tmp_path)
    line = one_error_line(call_cli("datasets", "import", "cityscapes", str(gt), "--data-root", str(tmp_path / "d")))
    assert "leftImg8bit" in line and "leftImg8bit_trainvaltest.zip" in line
    assert not (tmp_path / "d" / "cityscapes").exists()
    assert not (tmp_path / "d" / "cityscapes.importing").exists()


def test_cityscapes_missing_instance_map_is_one_line(tmp_path):
    gt, left, _ = make_cityscapes(tmp_path)
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(gt) as src, zipfile.ZipFile(broken, "w") as dst:
        for info in src.infolist():
            if not info.filename.endswith("aachen_000001_000019_gtFine_instanceIds.png"):
                dst.writestr(info, src.read(info))
    line = one_error_line(call_cli("datasets", "import", "cityscapes", str(broken), str(left),
                                "--data-root", str(tmp_path / "d")))
    assert "aachen_000001_000019_leftImg8bit.png" in line and "instance map" in line


def test_smoke_run_on_imported_cityscapes(tmp_path, roots):
    gt, left, _ = make_cityscapes(tmp_path)
    data = roots[1]
    assert call_cli("datasets", "import", "cityscapes", str(gt), str(left), "--data-root", data).returncode == 0
    proc = call_cli("run", "--models", "pix2pix", "--dataset", "cityscapes", "--profile", "smoke", *roots,
                 "--set", "cityscapes.size=32", "--metrics", "psnr")
    assert proc.returncode == 0, proc.stderr[-3000:]
    fakes = list((tmp_path / "out").rglob("images/fake/*.png"))
    assert len(fakes) == 2


# ---------------------------------------------------------------- ade20k

def make_ade(tmp: Path) -> tuple[Path, dict]:
    root = tmp / "ade" / "ADEChallengeData2016"
    expected = {}
    for split, theirs, n in (("train", "training", 3), ("test", "validation", 2)):
        for i in range(1, n + 1):
            stem = f"ADE_{'train' if split == 'train' else 'val'}_{i:08d}"
            raw = np.zeros((20, 24), dtype=np.uint8)          # "other" everywhere ...
            raw[:10] = 3                                      # sky (objectInfo150 index 3)
            raw[10:, :12] = 150                               # flag (the last class)
            raw[15:, 12:] = i                                 # class i
            Image.fromarray(photo(i, 24, 20)).save(_mk(root / "images" / theirs / f"{stem}.jpg"), quality=95)
            png_bytes(raw, root / "annotations" / theirs / f"{stem}.png")
            want = np.full_like(raw, 255)
            want[:10], want[10:, :12], want[15:, 12:] = 2, 149, i - 1
            expected[stem] = want
    (root / "objectInfo150.txt").write_text("Idx\tRatio\tTrain\tVal\tName\n")
    (root / "sceneCategories.txt").write_text("")
    return zip_tree(tmp / "ade", tmp / "ADEChallengeData2016.zip"), expected


def _mk(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_ade20k_import_maps_ids_as_spade(tmp_path):
    archive, expected = make_ade(tmp_path)
    data = tmp_path / "data"
    proc = call_cli("datasets", "import", "ade20k", str(archive), "--data-root", str(data), "--set", "ade20k.size=24")
    assert proc.returncode == 0, proc.stderr
    assert "3 train, 2 test" in proc.stdout
    spec, train = load("ade20k", data, "train", size=24)
    _, test = load("ade20k", data, "test", size=24)
    assert spec.num_classes == 150 and spec.ignore_index == 255 and spec.class_names[2] == "sky"
    for s in train + test:
        assert s.image.shape == (24, 24, 3)
        want = np.asarray(Image.fromarray(expected[s.stem]).resize((24, 24), Image.NEAREST))
        assert np.array_equal(s.label, want), s.stem
        assert s.instance is None
    assert json.loads((data / "ade20k" / "MANIFEST.json").read_text())["sha256"]


def test_ade20k_bad_label_id_is_one_line(tmp_path):
    archive, _ = make_ade(tmp_path)
    data = tmp_path / "data"
    assert call_cli("datasets", "import", "ade20k", str(archive), "--data-root", str(data)).returncode == 0
    bad = data / "ade20k" / "train" / "labels" / "ADE_train_00000002.png"
    png_bytes(np.full((20, 24), 151, np.uint8), bad)
    line = one_error_line(call_cli("datasets", "verify", "ade20k", "--data-root", str(data)))
    assert "ADE_train_00000002.png" in line and "151" in line


# ---------------------------------------------------------------- coco-stuff

COCO_STEMS = {"train2017": ["000000000009", "000000000025", "000000000030"], "val2017": ["000000000139",
                                                                                          "000000000285"]}


def make_coco(tmp: Path, annotations: bool) -> tuple[list[Path], dict]:
    expected, archives = {}, []
    for theirs, stems in COCO_STEMS.items():
        folder = tmp / f"img_{theirs}"
        for i, stem in enumerate(stems):
            Image.fromarray(photo(i, 20, 14)).save(_mk(folder / theirs / f"{stem}.jpg"))
            label = np.full((14, 20), 255, np.uint8)
            label[:7] = 156                                  # sky-other (labels.txt 157)
            label[7:, :10] = 0                               # person
            label[7:, 10:] = 181 - i                         # wood, window-other, ...
            png_bytes(label, tmp / "maps" / theirs / f"{stem}.png")
            expected[stem] = label
        archives.append(zip_tree(folder, tmp / f"{theirs}.zip"))
    archives.append(zip_tree(tmp / "maps", tmp / "stuffthingmaps_trainval2017.zip"))
    if annotations:
        for theirs, stems in COCO_STEMS.items():
            images = [{"id": k + 1, "file_name": f"{s}.jpg", "width": 20, "height": 14} for k, s in enumerate(stems)]
            anns = []
            for k in range(len(stems)):   # two people per image: a big box and a small one on top of it
                for j, (x0, y0, x1, y1) in enumerate([(0, 7, 10, 14), (2, 9, 5, 12)]):
                    poly = [x0, y0, x1, y0, x1, y1, x0, y1]
                    anns.append({"id": 100 * k + j + 1, "image_id": k + 1, "category_id": 1, "iscrowd": 0,
                                 "segmentation": [poly], "area": float((x1 - x0) * (y1 - y0)),
                                 "bbox": [x0, y0, x1 - x0, y1 - y0]})
            doc = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}
            (_mk(tmp / "ann" / "annotations" / f"instances_{theirs}.json")).write_text(json.dumps(doc))
        archives.append(zip_tree(tmp / "ann", tmp / "annotations_trainval2017.zip"))
    return archives, expected


def test_coco_stuff_import_ids(tmp_path):
    archives, expected = make_coco(tmp_path, annotations=False)
    data = tmp_path / "data"
    proc = call_cli("datasets", "import", "coco-stuff", *map(str, archives), "--data-root", str(data),
                 "--set", "coco-stuff.size=20")
    assert proc.returncode == 0, proc.stderr
    assert "3 train, 2 test" in proc.stdout
    spec, test = load("coco-stuff", data, "test", size=20)
    assert spec.num_classes == 182 and spec.ignore_index == 255 and spec.class_names[181] == "wood"
    for s in test:
        want = np.asarray(Image.fromarray(expected[s.stem]).resize((20, 20), Image.NEAREST))
        assert np.array_equal(s.label, want) and s.instance is None
    assert not (data / "coco-stuff" / "train" / "instances").exists()


def test_coco_stuff_instances_from_annotations(tmp_path):
    archives, _ = make_coco(tmp_path, annotations=True)
    data = tmp_path / "data"
    proc = call_cli("datasets", "import", "coco-stuff", *map(str, archives), "--data-root", str(data))
    assert proc.returncode == 0, proc.stderr
    inst = np.asarray(Image.open(data / "coco-stuff" / "train" / "instances" / "000000000025.png")).astype(int)
    assert inst.shape == (14, 20)
    # SPADE's maps (tests/test_coco_instance_maps.py): the label map (sky 156, person 0, 180) with the
    # polygons painted one pixel up and left, 0 for the first, 1 for the second
    assert set(np.unique(inst).tolist()) == {0, 1, 156, 180}
    assert (inst[6, :9] == 0).all() and inst[6, 9] == 156 and inst[5, 0] == 156
    assert (inst[8:11, 1:4] == 1).all() and inst[11, 2] == 0 and inst[9, 4] == 0 and inst[10, 15] == 180
    _, train = load("coco-stuff", data, "train", size=20)
    assert all(s.instance is not None for s in train)


# ---------------------------------------------------------------- list

def test_list_shows_the_three_with_sizes_licence_and_downloads():
    out = call_cli("datasets", "list").stdout
    for name, size, download, licence in (
            ("cityscapes", "train 2975", "gtFine_trainvaltest.zip + leftImg8bit_trainvaltest.zip", "non-commercial"),
            ("ade20k", "train 20210", "ADEChallengeData2016.zip", "research"),
            ("coco-stuff", "train 118287", "train2017.zip + val2017.zip + stuffthingmaps_trainval2017.zip", "CC BY")):
        row = next(line for line in out.splitlines() if line.startswith(f"│ {name} "))
        assert size in row, row
        note = next(line for line in out.splitlines() if line.startswith(f"{name}: get "))
        assert download in note and licence in note, note


# ---------------------------------------------------------------- the split index

def test_split_index_is_cached_by_the_listing(tmp_path):
    from bench_plugins.datasets.split_index import split_index

    split = tmp_path / "train"
    for i in range(3):
        png_bytes(np.zeros((2, 2), np.uint8), split / "labels" / f"s{i}.png")
        (split / "images").mkdir(exist_ok=True)
        (split / "images" / f"s{i}.jpg").write_bytes(b"not decoded by the index")
    first = split_index(split)
    assert first["stems"] == ["s0", "s1", "s2"] and not first["instances"]
    assert json.loads((split / ".index.json").read_text())["key"] == first["key"]
    assert split_index(split)["key"] == first["key"]
    (split / "images" / "s3.jpg").write_bytes(b"x")
    second = split_index(split)
    assert second["key"] != first["key"] and second["stems"][-1] == "s3"
