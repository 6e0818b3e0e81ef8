"""95% bootstrap intervals of per-image metrics: the method on hand-checkable data, the store
(and a version-1 store gaining the column), and the JSON leaderboard."""

from __future__ import annotations

import json
import math
import sqlite3

import numpy as np

from benchmark import report
from benchmark.results.bootstrap import bootstrap_ci
from benchmark.results.records import MetricValue
from benchmark.results.store import ResultsStore
from tests.test_report import record


def test_two_values_give_the_whole_range_and_constants_no_spread():
    # means of 2 draws from {0, 1}: 0 (p=1/4), 0.5 (1/2), 1 (1/4): the 2.5% and 97.5% points are 0 and 1
    assert bootstrap_ci([0.0, 1.0]) == (0.0, 1.0)
    assert bootstrap_ci([3.0, 3.0, 3.0]) == (3.0, 3.0)
    assert bootstrap_ci([5.0]) is None and bootstrap_ci([1.0, float("nan")]) is None


def test_interval_matches_the_normal_approximation_and_is_reproducible():
    values = np.random.default_rng(1).normal(20.0, 2.0, size=400)
    low, high = bootstrap_ci(values.tolist())
    half = 1.96 * values.std(ddof=1) / math.sqrt(len(values))  # 0.196 for sd 2
    assert low < values.mean() < high
    assert abs((high - low) / 2 - half) < 0.1 * half
    assert bootstrap_ci(values.tolist()) == (low, high)


def test_store_keeps_the_interval_and_upgrades_a_version_1_file(tmp_path):
    path = tmp_path / "bench.sqlite"
    with sqlite3.connect(path) as conn:  # the metrics table as version 1 made it
        conn.execute("CREATE TABLE metrics (run_id INTEGER NOT NULL, position INTEGER NOT NULL, name TEXT NOT NULL, "
                     "value REAL, direction TEXT NOT NULL, protocol TEXT NOT NULL, note TEXT NOT NULL, "
                     "PRIMARY KEY (run_id, name))")
        conn.execute("PRAGMA user_version = 1")
    store = ResultsStore(path)
    rec = record("a", 20.0, 40.0, run_id=0)
    rec.id = None
    rec.metrics["PSNR"] = MetricValue(20.0, "up", {}, "", [19.5, 20.5])
    run_id = store.add_run(rec)
    (back,) = store.runs()
    assert back.id == run_id and back.metrics["PSNR"].ci == [19.5, 20.5] and back.metrics["FID"].ci is None
    data = json.loads(report.render([back], "json"))
    assert data["tables"][0]["rows"][0]["ci"] == {"PSNR": [[19.5, 20.5]], "FID": [None]}
