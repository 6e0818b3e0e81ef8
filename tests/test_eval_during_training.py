"""eval_every / keep_best: the curve in the run folder and the HTML report, the best checkpoint and
the step the row records; the last step's values equal the final evaluation on the same images."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from benchmark import Metric, MetricResult, hookimpl, report
from benchmark.pipeline.during import read_curve
from benchmark.pipeline.execute import Execution
from benchmark.registry import plugins as registry
from benchmark.planning.checkpoint import load_checkpoint
from benchmark.planning.config import Layers
from benchmark.planning.plan import build_plan
from benchmark.util.errors import ConfigError
from benchmark.util.progress import Reporter
from benchmark.util.settings_text import parse_set
from benchmark.testing import TINY_DATA
from tests.test_loggers import Line


def plugin_set():
    return registry.build(extra_plugins=[types.SimpleNamespace(register_models=hookimpl(
        lambda register: register(Line())))])


def layers(tmp_path, *sets, metrics=("psnr",)):
    flags = {"models": ["line-model"], "profile": "smoke", "data_root": tmp_path / "d",
             "output_root": tmp_path / "o", "eval": {"metrics": list(metrics), "max_images": 4}}
    return Layers.from_sources({}, parse_set([a for a in TINY_DATA if a != "--set"] + ["samples=0", *sets]), flags)


def test_the_curve_the_best_checkpoint_and_the_html_report(tmp_path):
    (record,) = Execution.from_layers(layers(tmp_path, "eval_every=2", "eval_images=4", "keep_best=psnr"),
                                      Reporter(quiet=True), plugin_set()).run()
    run = Path(record.run_dir)
    curve = read_curve(run / "eval_curve.csv")
    assert [r["step"] for r in curve] == [2, 4, 6] and (run / "eval_curve.png").is_file()
    psnr = [r["PSNR"] for r in curve]
    assert len(set(psnr)) == 3  # the model changes between evaluations
    # the last step, on the same 4 images, is the final evaluation's number
    assert psnr[-1] == pytest.approx(record.metrics["PSNR"].value, abs=1e-9)
    during = record.config["during_training"]
    best_step = [2, 4, 6][psnr.index(max(psnr))]  # PSNR: higher is better
    assert during["keep_best"]["step"] == best_step and during["keep_best"]["column"] == "PSNR"
    assert during["keep_best"]["value"] == pytest.approx(max(psnr))
    assert (during["eval_every"], during["images"], during["metrics"]) == (2, 4, ["psnr"])
    assert load_checkpoint(run / "checkpoints" / "best.pt")["step"] == best_step
    assert "during_training" not in record.protocol  # tables are not split by it
    html = report.render([record], "html")
    assert "Metrics during training" in html and f"best PSNR at step {best_step}" in html


def test_the_losses_do_not_change_with_evaluation_during_training(tmp_path):
    plain = Execution.from_layers(layers(tmp_path / "a"), Reporter(quiet=True), plugin_set()).run()[0]
    watched = Execution.from_layers(layers(tmp_path / "b", "eval_every=3"), Reporter(quiet=True),
                                    plugin_set()).run()[0]
    assert (Path(plain.run_dir) / "losses.csv").read_text() == (Path(watched.run_dir) / "losses.csv").read_text()
    assert plain.metrics["PSNR"].value == watched.metrics["PSNR"].value


@pytest.mark.parametrize("sets, words", [
    (["keep_best=psnr"], "keep_best needs eval_every"),
    (["eval_every=2", "keep_best=fid"], "'keep_best': 'fid' is not a column"),
    (["eval_every=2", 'eval_metrics=["kid"]'], "'eval_metrics': 'kid' is not among the run's metrics"),
])
def test_bad_settings_stop_before_training(tmp_path, sets, words):
    with pytest.raises(ConfigError) as err:
        build_plan(layers(tmp_path, *sets), plugin_set())
    assert words in str(err.value) and "\n" not in str(err.value)


def test_the_default_metrics_are_the_first_distribution_and_segmentation_metrics(tmp_path):
    plan = build_plan(layers(tmp_path, "eval_every=5", metrics=("psnr", "kid", "fid")), plugin_set())
    assert [m.name for m, _ in plan.during] == ["kid"]  # the run's first distribution metric, no segmentation one
    assert plan.best is None
    named = build_plan(layers(tmp_path, "eval_every=5", "keep_best=psnr", metrics=("psnr", "kid")), plugin_set())
    assert [m.name for m, _ in named.during] == ["kid", "psnr"]  # keep_best's metric is measured too
    assert named.best.metric == "psnr" and not named.best.lower


def test_a_metric_too_costly_to_repeat_is_measured_during_training_only_when_named(tmp_path):
    plan = build_plan(layers(tmp_path, "eval_every=5", metrics=("fd-dinov2", "fid")), plugin_set())
    assert [m.name for m, _ in plan.during] == ["fid"]
    named = build_plan(layers(tmp_path, "eval_every=5", 'eval_metrics=["fd-dinov2"]', metrics=("fd-dinov2", "fid")),
                       plugin_set())
    assert [m.name for m, _ in named.during] == ["fd-dinov2"]


class TrainCount(Metric):
    """A distribution metric that counts the real training photos its context offers (None without them)."""

    name = "train-count"
    columns = {"TRAIN": "up"}
    kind = "distribution"

    def compute(self, ctx, options):
        train = ctx.train_images
        return MetricResult({"TRAIN": None if train is None else float(len(list(train.real.glob("*.png"))))}, {})


def test_a_metric_reading_the_training_split_gets_it_during_training(tmp_path):
    plugins = registry.build(extra_plugins=[types.SimpleNamespace(
        register_models=hookimpl(lambda register: register(Line())),
        register_metrics=hookimpl(lambda register: register(TrainCount())))])
    (record,) = Execution.from_layers(layers(tmp_path, "eval_every=3", metrics=("train-count",)),
                                      Reporter(quiet=True), plugins).run()
    curve = read_curve(Path(record.run_dir) / "eval_curve.csv")
    assert [r["TRAIN"] for r in curve] == [24.0, 24.0] == [record.metrics["TRAIN"].value] * 2
