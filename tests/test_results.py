"""The SQLite results store: round trip, latest(), re-evaluation, concurrency, corrupt files."""

from __future__ import annotations

import copy
import multiprocessing
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from benchmark.util.errors import BenchError
from benchmark.results.records import MetricValue, RunRecord
from benchmark.results.store import ResultsStore


def make_record(label: str = "pix2pix", *, dataset: str = "facades", status: str = "ok",
                created: str = "", metrics: dict | None = None, run_dir: str = "") -> RunRecord:
    if metrics is None:
        metrics = {
            "PSNR": MetricValue(27.5, "up", {"images": 106, "resolution": 64}),
            "FID": MetricValue(None, "down", {"images": 106}, note="needs at least 2048 images"),
        }
    return RunRecord(
        label=label, model="pix2pix", preset="default", dataset=dataset, profile="smoke", seed=3,
        options={"ngf": 64, "lambda_l1": 100.0, "norm": "batch"},
        config={"train": {"epochs": 2, "lr": 0.0002}, "tags": ["a", "b"]},
        protocol={"images": 106, "resolution": 64, "real_split": "test"},
        versions={"bench": "0.1.0", "torch": "2.3.0", "python": "3.11.7"},
        device="cpu", wall_time_s=12.25, status=status,
        reason=None if status == "ok" else "loss became NaN at step 40",
        run_dir=run_dir or f"runs/{dataset}/{label}/{created or 'x'}",
        input_kind="label-map", note="no VGG loss", metrics=metrics, created=created,
    )


def test_round_trip_keeps_every_field(tmp_path):
    store = ResultsStore(tmp_path / "sub" / "bench.sqlite")
    record = make_record(created="2024-05-01T10:00:00.000000+00:00")
    expected = copy.deepcopy(record)

    run_id = store.add_run(record)

    expected.id = run_id
    expected.run_dir = str(Path(record.run_dir).absolute())  # a relative folder is one under the working folder
    assert store.runs() == [expected]
    assert list(store.runs()[0].metrics) == ["PSNR", "FID"]  # order kept
    assert record.id == run_id


def test_created_is_filled_in_utc(tmp_path):
    store = ResultsStore(tmp_path / "bench.sqlite")
    store.add_run(make_record())
    created = datetime.fromisoformat(store.runs()[0].created)
    assert created.tzinfo is not None and created.utcoffset().total_seconds() == 0
    assert abs((datetime.now(timezone.utc) - created).total_seconds()) < 60


def test_store_uses_wal(tmp_path):
    path = tmp_path / "bench.sqlite"
    ResultsStore(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_runs_newest_first_and_filters(tmp_path):
    store = ResultsStore(tmp_path / "bench.sqlite")
    a = store.add_run(make_record("a", created="2024-01-01T00:00:00+00:00"))
    b = store.add_run(make_record("b", created="2024-01-03T00:00:00+00:00", status="failed"))
    c = store.add_run(make_record("c", dataset="cityscapes", created="2024-01-02T00:00:00+00:00"))

    assert [r.id for r in store.runs()] == [b, c, a]
    assert [r.id for r in store.runs(dataset="facades")] == [b, a]
    assert [r.id for r in store.runs(status="ok")] == [c, a]
    assert [r.id for r in store.runs(dataset="facades", status="failed")] == [b]
    assert store.datasets() == ["cityscapes", "facades"]
    failed = store.runs(status="failed")[0]
    assert failed.reason == "loss became NaN at step 40"


def test_latest_picks_newest_ok_run_per_label(tmp_path):
    store = ResultsStore(tmp_path / "bench.sqlite")
    store.add_run(make_record("a", created="2024-01-01T00:00:00+00:00"))
    newest_ok_a = store.add_run(make_record("a", created="2024-01-02T00:00:00+00:00"))
    store.add_run(make_record("a", created="2024-01-03T00:00:00+00:00", status="failed"))
    only_b = store.add_run(make_record("b", created="2024-01-01T12:00:00+00:00"))
    store.add_run(make_record("c", created="2024-01-04T00:00:00+00:00", status="failed"))
    other = store.add_run(make_record("a", dataset="cityscapes", created="2024-01-05T00:00:00+00:00"))

    assert [r.id for r in store.latest("facades")] == [newest_ok_a, only_b]
    assert {(r.dataset, r.label): r.id for r in store.latest()} == {
        ("facades", "a"): newest_ok_a, ("facades", "b"): only_b, ("cityscapes", "a"): other,
    }


def test_find_by_run_dir(tmp_path):
    store = ResultsStore(tmp_path / "bench.sqlite")
    run_id = store.add_run(make_record("a", run_dir="runs/facades/a/1"))
    store.add_run(make_record("b", run_dir="runs/facades/b/1"))
    assert store.find_by_run_dir("runs/facades/a/1").id == run_id
    assert store.find_by_run_dir("runs/nowhere") is None


def test_set_metrics_replaces_only_that_run(tmp_path):
    store = ResultsStore(tmp_path / "bench.sqlite")
    first = store.add_run(make_record("a", created="2024-01-01T00:00:00+00:00"))
    second = store.add_run(make_record("b", created="2024-01-02T00:00:00+00:00"))
    new = {
        "SSIM": MetricValue(0.8123, "up", {"window": "gaussian 11/1.5"}),
        "PSNR": MetricValue(28.0, "up", {"images": 106, "resolution": 64}),
    }

    store.set_metrics(first, new)

    by_id = {r.id: r for r in store.runs()}
    assert by_id[first].metrics == new
    assert list(by_id[first].metrics) == ["SSIM", "PSNR"]
    assert by_id[second].metrics == make_record().metrics


def test_nan_is_stored_as_missing_with_a_note(tmp_path):
    store = ResultsStore(tmp_path / "bench.sqlite")
    store.add_run(make_record(metrics={"PSNR": MetricValue(float("nan"), "up", {})}))
    assert store.runs()[0].metrics == {"PSNR": MetricValue(None, "up", {}, "the metric returned NaN")}


def test_set_metrics_unknown_run(tmp_path):
    store = ResultsStore(tmp_path / "bench.sqlite")
    with pytest.raises(BenchError, match="no run with id 99"):
        store.set_metrics(99, {})


def test_add_run_is_all_or_nothing(tmp_path):
    store = ResultsStore(tmp_path / "bench.sqlite")
    broken = make_record(metrics={
        "PSNR": MetricValue(27.0, "up", {}),
        "FID": MetricValue("not a number", "down", {}),  # fails after the run row is inserted
    })
    with pytest.raises(ValueError):
        store.add_run(broken)
    assert store.runs() == []


def _write_runs(path: str, worker: int, count: int, start) -> None:
    store = ResultsStore(Path(path))
    start.wait(timeout=60)
    for i in range(count):
        metrics = {
            "PSNR": MetricValue(float(i), "up", {"images": 10}),
            "SSIM": MetricValue(worker + i / 1000, "up", {"images": 10}),
        }
        store.add_run(make_record(f"w{worker}-{i}", metrics=metrics))


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = tmp_path / "bench.sqlite"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    workers = [ctx.Process(target=_write_runs, args=(str(path), w, 50, start)) for w in (1, 2)]
    for p in workers:
        p.start()
    start.set()
    for p in workers:
        p.join(timeout=120)
    assert [p.exitcode for p in workers] == [0, 0]

    runs = ResultsStore(path).runs()
    assert len(runs) == 100
    assert sorted(r.label for r in runs) == sorted(f"w{w}-{i}" for w in (1, 2) for i in range(50))
    for r in runs:
        worker, i = int(r.label[1]), int(r.label.split("-")[1])
        assert r.metrics == {
            "PSNR": MetricValue(float(i), "up", {"images": 10}),
            "SSIM": MetricValue(worker + i / 1000, "up", {"images": 10}),
        }


def test_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "bench.sqlite"
    path.write_bytes(b"these are the notes of a run, not a database\n" * 200)
    with pytest.raises(BenchError) as info:
        ResultsStore(path)
    message = str(info.value)
    assert str(path) in message
    assert "not a readable SQLite database" in message
    assert "delete" in message


def test_store_overwritten_after_creation(tmp_path):
    path = tmp_path / "bench.sqlite"
    store = ResultsStore(path)
    store.add_run(make_record())
    for leftover in tmp_path.glob("bench.sqlite-*"):  # WAL side files
        leftover.unlink()
    path.write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(BenchError, match="not a readable SQLite database"):
        store.runs()


def test_merge_metrics_replaces_what_was_measured_and_keeps_the_rest(tmp_path):
    store = ResultsStore(tmp_path / "bench.sqlite")
    record = make_record()
    record.metrics = {"PSNR": MetricValue(10.0, "up", {"metric": "psnr"}),
                      "FID": MetricValue(50.0, "down", {"metric": "fid"}),
                      "SSIM": MetricValue(0.1, "up", {"metric": "ssim"})}
    run_id = store.add_run(record)
    merged = store.merge_metrics(run_id, {"SSIM": MetricValue(0.5, "up", {"metric": "ssim", "v": 2}),
                                          "LPIPS": MetricValue(0.3, "down", {"metric": "lpips"})})
    (stored,) = store.runs()
    assert stored.metrics == merged
    assert list(stored.metrics) == ["PSNR", "FID", "SSIM", "LPIPS"]  # stored order, new columns last
    assert stored.metrics["FID"].value == 50.0 and stored.metrics["PSNR"].value == 10.0
    assert stored.metrics["SSIM"].value == 0.5 and stored.metrics["SSIM"].protocol["v"] == 2
    with pytest.raises(BenchError, match="no run with id 99"):
        store.merge_metrics(99, {})
