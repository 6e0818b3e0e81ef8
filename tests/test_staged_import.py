"""The plumbing every dataset plugin shares, used as a third-party plugin would use it: the staged import
(``import_sources`` / ``import_dataset`` / ``download_and_import``), the folder finder and the label-map check."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark import (
    DataError,
    Dataset,
    Source,
    download_and_import,
    find_dir,
    find_dirs,
    import_dataset,
    import_sources,
    label_problem,
    weights,
)
from tests.test_datasets import make_tar

CARD = "classes = [\"a\", \"b\"]\n"


class Pairs(Dataset):
    """A dataset released as one archive ``pairs/{a,b}.png`` that the plugin stores as ``train/``."""

    name = "pairs"
    class_names = ["a", "b"]
    palette = [(0, 0, 0), (255, 255, 255)]

    def import_from(self, src: Path, root: Path) -> Path:
        def build(unpacked, dest):
            found = find_dir(unpacked.trees, "pairs")
            if found is None:
                raise DataError(f"{unpacked.shown()}: no pairs/ folder; pass the pairs archive")
            (dest / "train").mkdir()
            for file in sorted(found.iterdir()):
                (dest / "train" / file.name).write_bytes(file.read_bytes())
            return {"files": len(list(found.iterdir()))}

        return import_sources([src], self.directory(root), build)


def test_import_sources_unpacks_builds_and_writes_the_manifest(tmp_path):
    archive = make_tar(tmp_path / "pairs.tar.gz", {"release/pairs/a.png": b"A", "release/pairs/b.png": b"B"})
    dest = Pairs().import_from(archive, tmp_path / "data")
    assert sorted(p.name for p in dest.iterdir()) == ["MANIFEST.json", "train"]     # the unpacked tree is gone
    assert (dest / "train" / "b.png").read_bytes() == b"B"
    manifest = json.loads((dest / "MANIFEST.json").read_text())
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert manifest["sha256"] == digest and manifest["source"] == str(archive.resolve())
    assert manifest["sources"] == [{"path": str(archive.resolve()), "sha256": digest}] and manifest["files"] == 2


def test_whole_import_keeps_the_tree_and_a_failed_build_leaves_nothing(tmp_path):
    folder = tmp_path / "src"
    (folder / "labels").mkdir(parents=True)
    (folder / "dataset.toml").write_text(CARD)
    dest = import_sources([folder], tmp_path / "data" / "x", lambda unpacked, tree: None, whole=True)
    assert (dest / "dataset.toml").read_text() == CARD and (dest / "labels").is_dir()
    assert "sha256" not in json.loads((dest / "MANIFEST.json").read_text())          # a folder has no checksum

    def refuse(unpacked, tree):
        raise DataError(f"{tree}: no images/ folder")

    with pytest.raises(DataError, match="no images/ folder"):
        import_sources([folder], tmp_path / "data" / "y", refuse, whole=True)
    assert not (tmp_path / "data" / "y").exists()
    with pytest.raises(DataError, match="already exists"):
        import_sources([folder], dest, lambda unpacked, tree: None, whole=True)
    with pytest.raises(DataError, match=r"nope\.zip: no such file or folder; pass it"):
        import_sources([tmp_path / "nope.zip"], tmp_path / "data" / "z", refuse, hint="pass it")


def test_import_dataset_names_the_users_file_and_keeps_the_old_copy(tmp_path):
    root = tmp_path / "data"
    good = make_tar(tmp_path / "good.tar.gz", {"pairs/a.png": b"A"})
    import_dataset(Pairs(), [good], root)
    before = (root / "pairs" / "MANIFEST.json").read_text()
    bad = make_tar(tmp_path / "bad.tar.gz", {"other/a.png": b"A"})
    with pytest.raises(DataError) as error:
        import_dataset(Pairs(), [bad], root)
    assert str(error.value).startswith(f"{bad}: no pairs/ folder") and "left as it was" in str(error.value)
    assert ".staging-" not in str(error.value)
    assert (root / "pairs" / "MANIFEST.json").read_text() == before
    assert sorted(p.name for p in root.iterdir()) == ["pairs"]                      # no staging left behind


def test_a_check_that_fails_keeps_the_old_copy(tmp_path):
    root = tmp_path / "data"
    import_dataset(Pairs(), [make_tar(tmp_path / "one.tar.gz", {"pairs/a.png": b"A"})], root)

    def check(stage):
        raise DataError(f"{stage / 'pairs' / 'train' / 'b.png'}: not a readable image")

    newer = make_tar(tmp_path / "two.tar.gz", {"pairs/a.png": b"A", "pairs/b.png": b"B"})
    with pytest.raises(DataError, match=f"{newer}: train/b.png: not a readable image"):
        import_dataset(Pairs(), [newer], root, check)
    assert sorted(p.name for p in (root / "pairs" / "train").iterdir()) == ["a.png"]


def test_download_and_import_fetches_verifies_imports_and_deletes_the_archive(tmp_path, monkeypatch):
    archive = make_tar(tmp_path / "pairs.tar.gz", {"pairs/a.png": b"A"})
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()

    class Published(Pairs):
        source = Source("download", url=archive.as_uri(), sha256=digest)

    root = tmp_path / "data"
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    with pytest.raises(DataError, match="dataset 'pairs' not found"):
        download_and_import(Published(), root, "pairs.tar.gz")
    assert not (root / "downloads").exists()
    monkeypatch.setenv("BENCH_OFFLINE", "0")
    folder = download_and_import(Published(), root, "pairs.tar.gz")
    assert (folder / "train" / "a.png").read_bytes() == b"A"
    assert json.loads((folder / "MANIFEST.json").read_text())["sha256"] == digest
    assert not (root / "downloads" / "pairs.tar.gz").exists()

    class Tampered(Pairs):
        source = Source("download", url=archive.as_uri(), sha256="0" * 64)

    with pytest.raises(DataError, match="sha256"):
        download_and_import(Tampered(), tmp_path / "other", "pairs.tar.gz")
    assert not (tmp_path / "other" / "pairs").exists()


def test_find_dirs_looks_at_the_top_and_one_level_down(tmp_path):
    for sub in ("a/images", "b/wrap/images", "images", "c/images"):
        (tmp_path / sub).mkdir(parents=True)
    other = tmp_path / "other"
    (other / "x" / "images").mkdir(parents=True)
    assert find_dirs([tmp_path, other], "images") == [tmp_path / "images", tmp_path / "a" / "images",
                                                      tmp_path / "c" / "images", other / "x" / "images"]
    assert find_dir(tmp_path, "wrap/images") == tmp_path / "b" / "wrap" / "images"
    assert find_dir(other, "labels") is None


def test_label_problem_names_channels_size_and_ids():
    ids = np.zeros((4, 6), dtype=np.uint8)
    assert label_problem(ids, (4, 6, 3), 3) is None
    assert label_problem(np.zeros((4, 6, 3), np.uint8), (4, 6, 3), 3)[0] == "label map has 3 channels"
    assert label_problem(ids, (8, 6), 3) == ("label size 6x4 differs from image size 6x8",
                                             "resize the label map (nearest) to match")
    ids[1, 1], ids[2, 2] = 7, 255
    assert label_problem(ids, (4, 6), 3, 255)[0] == "label ids [7] outside the 3 classes (0..2)"
    assert label_problem(ids, (4, 6), 3)[0] == "label ids [7, 255] outside the 3 classes (0..2)"
    assert label_problem(ids, (4, 6), 3, 255, noun="mask", void="void", fix="restore it") == (
        "mask ids [7] are neither classes 0..2 nor void 255", "restore it")
    assert label_problem(ids, (4, 6), None) is None                   # raw ids: the caller maps them


def test_strip_module_prefix_only_when_every_key_has_it():
    state = {"module.conv.weight": torch.ones(1), "module.conv.bias": torch.zeros(1)}
    assert list(weights.strip_module_prefix(state)) == ["conv.weight", "conv.bias"]
    mixed = {"module.conv.weight": torch.ones(1), "head.bias": torch.zeros(1)}
    assert weights.strip_module_prefix(mixed) is mixed
    assert weights.strip_module_prefix({}) == {}
