"""`folder` reads what people have: SPADE's layout with Cityscapes file names, classes as a count or a
dataset's name, instance maps, and one clear line for bad data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from benchmark.testing import call_cli, one_error_line
from PIL import Image

STEMS = ["aachen_000000_000019", "aachen_000001_000019", "bochum_000000_000313", "bremen_000002_000019"]


def save(arr: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def label_map(i: int, w: int = 32, h: int = 16, top: int = 23) -> np.ndarray:
    label = np.full((h, w), top, dtype=np.uint8)
    label[h // 2:] = 7
    label[h // 2:, i * 4:i * 4 + 6] = 26
    return label


def spade_folder(root: Path, card: str, inst: bool = True, w: int = 32, h: int = 16) -> Path:
    """SPADE's layout with Cityscapes' file names: train_* holds three pairs, val_* one."""
    rng = np.random.default_rng(0)
    for i, stem in enumerate(STEMS):
        prefix = "train" if i < 3 else "val"
        save(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), root / f"{prefix}_img" / f"{stem}_leftImg8bit.png")
        save(label_map(i, w, h), root / f"{prefix}_label" / f"{stem}_gtFine_labelIds.png")
        if inst:
            instance = label_map(i, w, h).astype(np.uint16)
            instance[instance == 26] = 26000 + i
            save(instance, root / f"{prefix}_inst" / f"{stem}_gtFine_instanceIds.png")
    (root / "dataset.toml").write_text(card)
    return root


def load(folder: Path, split: str):
    from benchmark import BadFiles
    from benchmark.registry.plugins import default

    spec = default().datasets.get("folder")
    return spec, spec.load(Path("unused"), split, spec.Options(path=folder), BadFiles(skip=False))


def test_spade_layout_with_cityscapes_names_and_a_count(tmp_path):
    folder = spade_folder(tmp_path / "city", "classes = 35\naspect_ratio = 2.0\n")
    spec, train = load(folder, "train")
    _, test = load(folder, "test")
    assert [s.stem for s in train] == STEMS[:3] and [s.stem for s in test] == STEMS[3:]
    assert spec.num_classes == 35 and spec.class_names[7] == "class 7" and spec.aspect_ratio == 2.0
    assert spec.card()["aspect_ratio"] == 2.0 and spec.card()["instance_maps"] is True
    for i, s in enumerate(train):
        assert np.array_equal(s.label, label_map(i))
        assert s.instance is not None and set(np.unique(s.instance).tolist()) == {7, 23, 26000 + i}


def test_classes_from_a_registered_dataset(tmp_path):
    folder = spade_folder(tmp_path / "city", 'classes = "cityscapes"\naspect_ratio = 2.0\n', inst=False)
    spec, train = load(folder, "train")
    assert spec.num_classes == 35 and spec.class_names[26] == "car" and spec.palette[7] == (128, 64, 128)
    assert all(s.instance is None for s in train)


def test_unknown_dataset_name_for_classes_is_one_line(tmp_path):
    folder = spade_folder(tmp_path / "city", 'classes = "cityscape"\n')
    line = one_error_line(call_cli("datasets", "verify", "folder", "--set", f"folder.path={folder}"))
    assert "dataset.toml" in line and "cityscape'" in line and "cityscapes" in line


def test_label_id_beyond_the_count_is_one_line(tmp_path):
    folder = spade_folder(tmp_path / "city", "classes = 20\n")
    line = one_error_line(call_cli("datasets", "verify", "folder", "--set", f"folder.path={folder}"))
    assert "gtFine_labelIds.png" in line and "outside the 20 classes" in line


def test_missing_instance_map_is_one_line(tmp_path):
    folder = spade_folder(tmp_path / "city", "classes = 35\n")
    (folder / "train_inst" / f"{STEMS[1]}_gtFine_instanceIds.png").unlink()
    line = one_error_line(call_cli("datasets", "verify", "folder", "--set", f"folder.path={folder}"))
    assert f"{STEMS[1]}_leftImg8bit.png" in line and "instance map" in line


def test_mixed_aspect_ratios_are_one_line_when_the_card_refuses_them(tmp_path):
    folder = spade_folder(tmp_path / "city", 'classes = 35\nmixed_aspect_ratios = "refuse"\n', inst=False)
    odd = f"{STEMS[2]}"
    save(np.zeros((16, 16, 3), np.uint8), folder / "train_img" / f"{odd}_leftImg8bit.png")
    save(label_map(0, 16, 16), folder / "train_label" / f"{odd}_gtFine_labelIds.png")
    line = one_error_line(call_cli("datasets", "verify", "folder", "--set", f"folder.path={folder}"))
    assert f"{odd}_leftImg8bit.png" in line and "mixed aspect ratios" in line


def test_bench_layout_with_custom_suffixes(tmp_path):
    folder = tmp_path / "mine"
    for i in range(5):
        save(np.full((8, 8, 3), i * 40, np.uint8), folder / "images" / f"p{i}_photo.jpg")
        save(np.full((8, 8), i % 3, np.uint8), folder / "labels" / f"p{i}_seg.png")
    (folder / "dataset.toml").write_text('classes = ["a", "b", "c"]\nsuffixes = ["_photo", "_seg"]\n')
    spec, train = load(folder, "train")
    _, test = load(folder, "test")
    assert [s.stem for s in train] == ["p0", "p1", "p2", "p3"] and [s.stem for s in test] == ["p4"]
    assert spec.aspect_ratio == 1.0 and int(test[0].label[0, 0]) == 1


def test_smoke_run_on_a_spade_folder_with_a_two_line_card(tmp_path, roots):
    folder = spade_folder(tmp_path / "city", "classes = 35\naspect_ratio = 2.0\n")
    proc = call_cli("run", "--models", "pix2pix", "--dataset", "folder", "--profile", "smoke", *roots,
                 "--set", f"folder.path={folder}", "--metrics", "psnr")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list((tmp_path / "out").rglob("images/fake/*.png"))) == 1
