"""The "real images" reference row: real test photos measured as if generated, never ranked."""

from __future__ import annotations

import types

import numpy as np
import pytest

from benchmark import hookimpl, report
from benchmark.registry import plugins as registry
from benchmark.api import Metric, MetricResult
from benchmark.planning.config import Layers
from benchmark.util.settings_text import parse_set
from benchmark.pipeline.evaluate import REAL_VS_ITSELF
from benchmark.report.leaderboard import model_name
from benchmark.util.imageio import read_rgb
from benchmark.util.progress import Reporter
from benchmark.results.records import REFERENCE_LABEL, REFERENCE_MODEL, MetricValue, RunRecord, is_reference
from benchmark.pipeline.execute import Execution
from benchmark.testing import TINY_DATA
from tests.test_report import md_rows, record, no_headline_columns  # noqa: F401 (an autouse fixture)


def folder_mean(folder) -> float:
    return float(np.mean([read_rgb(p).mean().item() for p in sorted(folder.glob("*.png"))]))


class MeanGap(Metric):
    """A toy distribution metric: |mean brightness of fake_dir - mean of the compared real folder|."""

    name = "mean-gap"
    kind = "distribution"
    columns = {"GAP": "down"}

    def compute(self, ctx, options):
        real = ctx.distribution_real_dir()
        n_fake, n_real = len(list(ctx.fake_dir.glob("*.png"))), len(list(real.glob("*.png")))
        gap = abs(folder_mean(ctx.fake_dir) - folder_mean(real))
        split = "train" if ctx.reference or ctx.real_split == "train" else "test"
        return MetricResult({"GAP": gap}, {"fake": n_fake, "real": n_real, "real_split": split,
                                           "real_images": n_real})


def toy_plugins():
    module = types.ModuleType("toy_metric")
    module.register_metrics = hookimpl(lambda register: register(MeanGap()))
    return registry.build([module])


def run(tmp_path, metrics, **eval_settings):
    sets = parse_set([a for a in TINY_DATA if a != "--set"] + ["samples=0"])
    flags = {"models": ["pix2pix"], "profile": "smoke", "data_root": tmp_path / "data",
             "output_root": tmp_path / "out", "eval": {"metrics": metrics, **eval_settings}}
    bench = Execution.from_layers(Layers.from_sources({}, sets, flags), Reporter(quiet=True), toy_plugins())
    bench.run()
    return bench


@pytest.mark.parametrize("setting, compared", [(None, 8), ("all", 24), (12, 12)])
def test_reference_row_measures_real_test_against_real_train(tmp_path, setting, compared):
    """The smoke profile compares the 8 test photos with the first 8 training photos
    (``eval.reference_images=test``); ``all`` takes the 24, a count N the first N."""
    bench = run(tmp_path, ["psnr", "mean-gap"], **({} if setting is None else {"reference_images": setting}))
    rows = bench.store.latest("synthetic-facades")
    (ref,) = [r for r in rows if is_reference(r)]
    (model,) = [r for r in rows if not is_reference(r)]
    assert ref.label == REFERENCE_LABEL and ref.model == REFERENCE_MODEL
    assert ref.protocol == model.protocol  # same images, resolution, dataset options: same table
    assert ref.metrics["PSNR"].value is None and ref.metrics["PSNR"].note == REAL_VS_ITSELF
    # by hand: the real test photos of the model's run against the cached real training split
    run_images = tmp_path / "out" / "runs"
    (model_real,) = [p / "images" / "real" for p in run_images.iterdir() if (p / "images").is_dir()]
    (train_real,) = [p for p in (tmp_path / "out" / "cache" / "real").glob("*/train/real")
                     if len(list(p.glob("*.png"))) == 24]  # the whole split, which the segmenter trains on
    first = sorted(train_real.glob("*.png"))[:compared]
    expected = abs(folder_mean(model_real) - float(np.mean([read_rgb(p).mean().item() for p in first])))
    assert ref.metrics["GAP"].value == pytest.approx(expected, abs=1e-6)
    assert ref.metrics["GAP"].protocol["fake"] == 8 and ref.metrics["GAP"].protocol["real"] == compared
    assert ref.config["run"]["eval"]["reference_images"] == (setting or "test")
    against = "the train split" if setting == "all" else f"the first {compared} of the train split"
    assert model_name(ref) == f"{REFERENCE_LABEL} (test split; GAP against {against})"
    # the model row compares its fakes with the real test split, not the training split
    assert model.metrics["GAP"].protocol["real"] == 8


def test_no_reference_row_when_every_metric_is_paired(tmp_path):
    bench = run(tmp_path, ["psnr"])
    assert [r.label for r in bench.store.latest("synthetic-facades")] == ["pix2pix"]
    assert not (tmp_path / "out" / "cache" / "real").exists()  # nothing read the training split


def reference(gap: float, protocol: dict | None = None, run_id: int = 9) -> RunRecord:
    ref = record(REFERENCE_LABEL, None, gap, run_id=run_id, protocol=protocol)
    ref.model = REFERENCE_MODEL
    ref.metrics["FID"] = MetricValue(gap, "down", {"fake": 106, "real": 400, "features": "other"})
    return ref


def test_reference_row_comes_first_and_is_never_marked_best():
    records = [record("a", 20.0, 40.0, run_id=1), record("b", 25.0, 60.0, run_id=2), reference(1.0)]
    board_set = report.build_leaderboard(records)
    (board,) = board_set.tables  # its own FID protocol does not split the table
    assert [r.label for r in board.records] == [REFERENCE_LABEL, "a", "b"]
    rows = md_rows(report.render(records, "md"))
    assert rows[f"{REFERENCE_LABEL} (test split)"][3] == "1.0000"  # the lowest FID, yet not bold
    assert rows["a"][3] == "**40.00**"
    assert REFERENCE_LABEL not in [r.label for r in board_set.shown]  # no sample grid column


def test_one_reference_row_per_protocol_is_kept():
    other = {"images": 106, "resolution": 256, "real_split": "test"}
    records = [record("a", 20.0, 40.0, run_id=1), record("hi", 21.0, 41.0, run_id=2, protocol=other),
               reference(1.0, run_id=3), reference(2.0, other, run_id=4)]
    board_set = report.build_leaderboard(records)
    assert len(board_set.tables) == 2
    for board in board_set.tables:
        (ref,) = [r for r in board.records if is_reference(r)]
        assert ref.protocol == board.protocol


def test_store_keeps_the_newest_reference_row_of_each_protocol(tmp_path):
    from benchmark.results.store import ResultsStore

    store = ResultsStore(tmp_path / "bench.sqlite")
    other = {"images": 106, "resolution": 256, "real_split": "test"}
    for rec in (reference(1.0, run_id=1), reference(2.0, other, run_id=2), reference(3.0, run_id=3)):
        rec.id = None
        store.add_run(rec)
    latest = {r.protocol["resolution"]: r.metrics["FID"].value for r in store.latest("facades")}
    assert latest == {64: 3.0, 256: 2.0}


@pytest.mark.parametrize("value", [1, "most", True])
def test_a_bad_reference_image_count_is_one_error_naming_the_option(value):
    from benchmark.planning.config import validate_run
    from benchmark.util.errors import ConfigError

    with pytest.raises(ConfigError, match=r"eval\.reference_images.*allowed: all, test or a count of at least 2"):
        validate_run({"models": ["pix2pix"], "dataset": "synthetic-facades", "eval": {"reference_images": value}})


def test_the_smoke_profile_alone_compares_with_as_many_training_photos_as_test_photos():
    from benchmark.planning.config import PROFILE_DEFAULTS, EvalConfig

    assert EvalConfig().reference_images == "all"
    assert [p for p, d in PROFILE_DEFAULTS.items() if d.get("eval", {}).get("reference_images")] == ["smoke"]
