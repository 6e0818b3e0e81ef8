"""Loggers as plugins: TensorBoard event files read back equal losses.csv; a failing or missing
logger is one line and the run finishes; an unknown name stops before training."""

from __future__ import annotations

import csv
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark import Logger, hookimpl
from benchmark.api import Model, Trainable, TrainLength
from benchmark.pipeline.execute import Execution
from benchmark.pipeline.loggers import Loggers
from benchmark.registry import plugins as registry
from benchmark.planning.config import Layers
from benchmark.planning.plan import build_plan
from benchmark.util.errors import ConfigError
from benchmark.util.progress import Reporter
from benchmark.util.settings_text import parse_set
from benchmark.testing import TINY_DATA


class Line(Model):
    """A one-parameter model whose loss falls step by step (fast, deterministic)."""

    name = "line-model"
    summary = "fits one number"

    def train_length(self, options, profile):
        return TrainLength(steps=6, batch_size=2)

    def build(self, options, num_classes, image_size):
        class Net(Trainable):
            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(torch.zeros(1))

            def configure_optimizers(self):
                return {"opt": torch.optim.SGD(self.parameters(), lr=0.1)}

            def train_step(self, batch, ctx):
                loss = (self.w - 1).pow(2).sum()
                ctx.optimize(loss, self.optimizers["opt"])
                return {"loss": loss.detach(), "half": loss.detach() / 2}

            def generate(self, batch):
                return torch.zeros_like(batch["onehot"][:, :3]) + self.w.tanh()

        return Net()


class Missing(Logger):
    name = "missing-package"
    extra = "missing-extra"

    def start(self, run):
        import bench_no_such_package  # noqa: F401


class Flaky(Logger):
    """Fails at its third loss call, like a logger whose network goes away."""

    name = "flaky"

    def __init__(self):
        self.calls = 0
        self.closed = False

    def losses(self, step, values):
        self.calls += 1
        if self.calls == 3:
            raise ConnectionError("no network\nsecond line")

    def close(self):
        self.closed = True


def execute(tmp_path, loggers, flaky=None):
    flaky = flaky or Flaky()
    module = types.SimpleNamespace(register_models=hookimpl(lambda register: register(Line())),
                                   register_loggers=hookimpl(lambda register: (register(Missing()), register(flaky))))
    plugin_set = registry.build(extra_plugins=[module])
    sets = parse_set([a for a in TINY_DATA if a != "--set"] + ["samples=2"])
    flags = {"models": ["line-model"], "profile": "smoke", "data_root": tmp_path / "d",
             "output_root": tmp_path / "o", "eval": {"metrics": ["psnr"]}, "loggers": loggers}
    lines = []
    reporter = Reporter(quiet=True)
    reporter.log = reporter.plain = lines.append
    records = Execution.from_layers(Layers.from_sources({}, sets, flags), reporter, plugin_set).run()
    return records, lines


def test_tensorboard_events_read_back_the_losses_of_losses_csv(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (record,), _ = execute(tmp_path, ["tensorboard"])
    run = Path(record.run_dir)
    with open(run / "losses.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0}).Reload()
    for name in ("loss", "half"):
        logged = [(e.step, e.value) for e in events.Scalars(f"loss/{name}")]
        expected = [(int(r["step"]), float(r[name])) for r in rows]
        assert [s for s, _ in logged] == [s for s, _ in expected]
        assert np.allclose([v for _, v in logged], [v for _, v in expected], rtol=1e-6, atol=0)
    assert [v for _, v in expected][-1] < [v for _, v in expected][0]  # the losses do change
    psnr = events.Scalars("metric/PSNR")
    assert [e.step for e in psnr] == [6] and abs(psnr[0].value - record.metrics["PSNR"].value) < 1e-4
    assert len(events.Images("samples")) == 2 and "plan" in str(events.Tags())


def test_a_missing_package_and_a_failing_logger_are_one_line_each_and_the_run_finishes(tmp_path):
    flaky = Flaky()
    (record,), lines = execute(tmp_path, ["missing-package", "flaky"], flaky)
    assert record.status == "ok" and record.metrics["PSNR"].value is not None
    warnings = [line for line in lines if "logger" in line]
    assert len(warnings) == 2, lines
    missing, failing = warnings
    assert "'missing-package'" in missing and "bench_no_such_package" in missing
    assert "pip install 'bench[missing-extra]'" in missing
    assert "'flaky'" in failing and "no network second line" in failing and "\n" not in failing
    assert flaky.calls == 3 and flaky.closed  # switched off after its failure, closed once


def test_an_unknown_logger_stops_before_training(tmp_path):
    sets = parse_set([a for a in TINY_DATA if a != "--set"] + ['loggers=["tensorbord"]'])
    flags = {"models": ["pix2pix"], "profile": "smoke", "data_root": tmp_path / "d", "output_root": tmp_path / "o"}
    with pytest.raises(ConfigError) as err:
        build_plan(Layers.from_sources({}, sets, flags))
    assert "unknown logger (loggers) 'tensorbord'" in str(err.value) and "tensorboard" in str(err.value)
    assert "bench list loggers" in str(err.value)


def test_the_fan_out_never_raises_and_drops_only_the_failed_logger():
    seen = []

    class Good(Logger):
        name = "good"

        def metrics(self, step, values):
            seen.append((step, values))

    class Bad(Logger):
        name = "bad"

        def metrics(self, step, values):
            raise RuntimeError("disk full")

    said = []
    fan = Loggers([Bad(), Good()], say=said.append)
    fan.metrics(1, {"FID": 3, "note": "text", "flag": True})
    fan.metrics(2, {"FID": 2.5})
    assert seen == [(1, {"FID": 3.0}), (2, {"FID": 2.5})]
    assert said == ["warning: logger 'bad' is off: metrics failed: disk full; the run goes on without it"]


def test_the_line_reaches_the_console_whole_with_its_brackets():
    """Printed by the run's reporter: one line however narrow the console, ``bench[extra]`` not taken for markup."""
    import io

    from rich.console import Console

    from benchmark.pipeline.loggers import Loggers

    out = io.StringIO()
    Loggers([Missing()], say=Reporter(Console(file=out, width=40)).plain).start(None)
    assert out.getvalue().count("\n") == 1 and "pip install 'bench[missing-extra]'" in out.getvalue()
