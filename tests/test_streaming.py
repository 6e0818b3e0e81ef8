"""Streaming the splits: the training loader reads one pair at a time from the files and gives the
same batches, element for element, as the whole split resized up front; a bad file met while
training is one line (or skipped and counted in the row's note), with and without worker processes."""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from benchmark import BadFiles, LazySplit, TrainTransform, installed_plugins
from benchmark.data.loading import default_num_workers, resolve_num_workers
from benchmark.data.transforms import PairDataset, resize_pair
from benchmark.pipeline.train import Trainer
from benchmark.results.store import ResultsStore
from benchmark.testing import one_error_line
from benchmark.testing import run_cli as bench

SIZE, LOAD, SEED, BATCH = 24, 30, 5, 3


def make_folder(root: Path, n: int = 10, side: int = 40) -> Path:
    """A folder dataset in bench's layout: JPEG photos, PNG class ids, 4 classes."""
    rng = np.random.default_rng(3)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "dataset.toml").write_text('classes = ["a", "b", "c", "d"]\n')
    for i in range(n):
        label = rng.integers(0, 4, (side // 8, side // 8), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
        photo = (label[..., None] * np.array([60, 20, 40]) + rng.integers(0, 50, (side, side, 3))).astype(np.uint8)
        Image.fromarray(photo).save(root / "images" / f"s{i:02d}.jpg", quality=90)
        Image.fromarray(label).save(root / "labels" / f"s{i:02d}.png")
    return root


def folder_split(root: Path, how: str):
    spec = installed_plugins().datasets.get("folder")
    options = spec.Options(path=root)
    read = spec.index if how == "index" else spec.load
    return read(root, "train", options, BadFiles(skip=False))


def reference_batches(samples, epoch: int, first: int) -> list[dict[str, torch.Tensor]]:
    """Today's in-memory batches, written out by hand: every pair resized to the load size up front,
    the epoch's permutation, then per item a crop at (top, left) and a flip drawn from (seed, epoch, index)."""
    photos = torch.stack([resize_pair(s, LOAD)[0] for s in samples])
    labels = torch.stack([resize_pair(s, LOAD)[1] for s in samples])
    order = torch.randperm(len(samples), generator=torch.Generator().manual_seed(SEED * 100_003 + epoch))
    out = []
    for b in range(first, len(samples) // BATCH):
        images, maps, index = [], [], order[b * BATCH:(b + 1) * BATCH].tolist()
        for i in index:
            rng = np.random.default_rng([SEED, epoch, i])
            top, left = (int(v) for v in rng.integers(0, LOAD - SIZE + 1, size=2))
            photo, label = photos[i, :, top:top + SIZE, left:left + SIZE], labels[i, top:top + SIZE, left:left + SIZE]
            if rng.random() < 0.5:
                photo, label = photo.flip(-1), label.flip(-1)
            images.append(photo.float() / 127.5 - 1)
            maps.append(label.long())
        out.append({"image": torch.stack(images), "label": torch.stack(maps), "index": torch.tensor(index)})
    return out


def trainer_for(data: PairDataset, num_workers: int, tmp_path: Path) -> Trainer:
    run = types.SimpleNamespace(batch_size=BATCH, steps=None, epochs=2, seed=SEED, num_workers=num_workers)
    return Trainer(None, data, run, types.SimpleNamespace(losses=tmp_path / "losses.csv"), device=torch.device("cpu"),
                   dtype=None, num_classes=4, ignore_index=None, palette=None, sample_set=None,
                   reporter=types.SimpleNamespace(warn=print), label="t")


@pytest.mark.parametrize("num_workers", [0, 2])
def test_streamed_batches_equal_the_in_memory_ones(tmp_path, num_workers):
    root = make_folder(tmp_path / "folder")
    lazy, decoded = folder_split(root, "index"), folder_split(root, "load")
    assert isinstance(lazy, LazySplit) and len(lazy) == len(decoded) == 8  # the last 20% are the test split
    transform = TrainTransform(load_size=LOAD, hflip=True)
    trainer = trainer_for(PairDataset(lazy, SIZE, transform, seed=SEED), num_workers, tmp_path)
    assert trainer.num_workers == num_workers
    torch.manual_seed(11)
    # epoch 0 whole, epoch 1 from its second batch (a resumed run), epoch 0 again: the same loader
    for epoch, first in [(0, 0), (1, 1), (0, 0)]:
        got = [trainer.checked(b) for b in trainer.epoch_batches(epoch, first)]
        want = reference_batches(decoded, epoch, first)
        assert len(got) == len(want) == len(decoded) // BATCH - first
        for g, w in zip(got, want):
            assert torch.equal(g["index"], w["index"])
            assert torch.equal(g["image"], w["image"])
            assert torch.equal(g["label"], w["label"])
            hot = torch.zeros(len(w["index"]), 256, dtype=torch.uint8)
            for row, i in enumerate(w["index"].tolist()):
                hot[row, np.unique(decoded[i].label).tolist()] = 1
            assert torch.equal(g["classes"], hot)
    assert not trainer.skipped
    # torch's random state moved as with a new loader per pass (one seed drawn each), workers or not
    drawn = torch.rand(3)
    torch.manual_seed(11)
    for _ in range(3):
        torch.empty((), dtype=torch.int64).random_()
    assert torch.equal(drawn, torch.rand(3))


def test_nothing_is_decoded_before_an_item_is_asked_for(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "folder")
    import bench_plugins.datasets.folder_layout as layout

    reads = []
    real = layout.read_pair
    monkeypatch.setattr(layout, "read_pair", lambda *a: reads.append(a[0]) or real(*a))
    lazy = folder_split(root, "index")
    data = PairDataset(lazy, SIZE, TrainTransform(load_size=LOAD))
    assert reads == [] and data.stems == [f"s{i:02d}" for i in range(8)]
    data[3]
    assert reads == ["s03"]


def test_num_workers_default_follows_the_cores(monkeypatch):
    import benchmark.data.loading as loading

    monkeypatch.setattr(loading, "usable_cores", lambda: 32)
    assert default_num_workers("cuda", 1) == 8 and default_num_workers("cuda", 8) == 3
    assert default_num_workers("cpu", 1) == 8 and default_num_workers("cpu", 4) == 2
    monkeypatch.setattr(loading, "usable_cores", lambda: 2)
    assert default_num_workers("cpu", 1) == 0 and default_num_workers("cuda", 1) == 1
    assert resolve_num_workers(None, "cpu") == 0 and resolve_num_workers(3, "cpu") == 3


# ---------------------------------------------------------------- a bad file met while training

def imported_folder(tmp: Path) -> Path:
    """The data root of a folder dataset of 10 pairs at 32 px imported with `bench datasets import`."""
    data = tmp / "data"
    imported = bench("datasets", "import", "folder", make_folder(tmp / "src", n=10, side=32), "--data-root", data)
    assert imported.returncode == 0, imported.stderr
    return data


def folder_run(data: Path, steps: int) -> list:
    """The `bench run` arguments that train pix2pix on that folder dataset and measure PSNR alone."""
    return ["run", "--models", "pix2pix", "--dataset", "folder", "--profile", "smoke", "--steps", str(steps),
            "--batch-size", "2", "--metrics", "psnr", "--set", "samples=0", "--set", "eval.reference_row=false",
            "--data-root", data]


def truncate(photo: Path) -> Path:
    photo.write_bytes(photo.read_bytes()[:200])
    return photo


@pytest.fixture(scope="module")
def truncated(tmp_path_factory) -> tuple[list[str], Path]:
    """A folder dataset imported, then one training photo truncated (the runs only read it); the
    `bench run` arguments that train on it and the truncated photo."""
    data = imported_folder(tmp_path_factory.mktemp("truncated"))
    return folder_run(data, steps=6), truncate(data / "folder" / "images" / "s02.jpg")


@pytest.mark.parametrize("num_workers", [0, 2])
def test_a_truncated_photo_stops_training_with_one_line(tmp_path, truncated, num_workers):
    args, photo = truncated
    result = bench(*args, "--output-root", tmp_path / "out", "--set", f"num_workers={num_workers}", "-q",
                   timeout=300)
    line = one_error_line(result)
    assert str(photo) in line and "replace the file or remove it" in line and "--skip-bad" in line
    status = json.loads(next((tmp_path / "out").glob("runs/*/status.json")).read_text())
    assert status["status"] == "failed"


@pytest.mark.parametrize("num_workers", [0, 2])
def test_skip_bad_goes_on_and_the_note_counts_the_file(tmp_path, truncated, num_workers):
    args, photo = truncated
    result = bench(*args, "--output-root", tmp_path / "out", "--set", f"num_workers={num_workers}", "--skip-bad",
                   "-q", timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"skipped{photo}" in "".join((result.stdout + result.stderr).split())  # named once (lines may wrap)
    (record,) = ResultsStore(tmp_path / "out" / "bench.sqlite").runs()
    assert record.status == "ok"
    assert "skipped 1 bad file(s)" in record.note
    status = json.loads(next((tmp_path / "out").glob("runs/*/status.json")).read_text())
    assert status["skipped_files"] == 1 and status["steps"] == 6


def test_evaluation_reads_in_batches_without_moving_torch_s_random_state(tmp_path):
    from benchmark.data.loading import Reading

    lazy = folder_split(make_folder(tmp_path / "folder"), "index")
    data = PairDataset(lazy, SIZE)
    torch.manual_seed(4)
    got = list(Reading(num_workers=0).batches(data, [[0, 1, 2], [3, 4]]))
    drawn = torch.rand(2)
    torch.manual_seed(4)
    assert torch.equal(drawn, torch.rand(2))  # generation's models draw exactly as before
    assert [b["index"].tolist() for b in got] == [[0, 1, 2], [3, 4]]
    assert torch.equal(got[1]["label"][0], resize_pair(lazy[3], SIZE)[1].long())


def test_skip_bad_in_evaluation_records_the_images_actually_measured(tmp_path):
    """A test photo truncated after import: with --skip-bad the row is measured on the other test
    images, and the protocol's image count says how many (not the split's size)."""
    data = imported_folder(tmp_path)
    folder = installed_plugins().datasets.get("folder")
    test_stems = [s.stem for s in folder.index(data, "test", folder.Options(), BadFiles(skip=False))]
    assert len(test_stems) >= 2
    truncate(data / "folder" / "images" / f"{test_stems[-1]}.jpg")
    result = bench(*folder_run(data, steps=2), "--output-root", tmp_path / "out", "--skip-bad", "-q", timeout=300)
    assert result.returncode == 0, result.stderr
    (record,) = ResultsStore(tmp_path / "out" / "bench.sqlite").runs()
    assert record.status == "ok" and "skipped 1 bad file(s)" in record.note
    assert record.protocol["images"] == len(test_stems) - 1
    assert len(list((Path(record.run_dir)).glob("images/fake/*.png"))) == len(test_stems) - 1


def test_two_data_parallel_workers_stop_on_a_bad_file_or_skip_it_once(tmp_path, truncated):
    """Under `--nproc-per-node 2` the worker that meets the truncated photo stops the run with the same
    one line; with --skip-bad the run goes on and the row's note counts the file once."""
    args, photo = truncated
    two = ["--nproc-per-node", "2", "--set", "num_workers=0"]
    failed = bench(*args, "--output-root", tmp_path / "stop", *two, "-q", timeout=300)
    assert failed.returncode != 0
    assert str(photo) in "".join((failed.stdout + failed.stderr).split()) and "--skip-bad" in failed.stderr

    result = bench(*args, "--output-root", tmp_path / "skip", *two, "--skip-bad", "-q", timeout=300)
    assert result.returncode == 0, result.stderr
    (record,) = ResultsStore(tmp_path / "skip" / "bench.sqlite").runs()
    assert record.status == "ok" and "skipped 1 bad file(s)" in record.note
    status = json.loads(next((tmp_path / "skip").glob("runs/*/status.json")).read_text())
    assert status["skipped_files"] == 1 and status["steps"] == 6
