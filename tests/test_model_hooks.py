"""General mechanisms for composite models: embedded options, the test split before generation,
and numbers a model measures itself while generating."""

from __future__ import annotations

import types

import pytest
import torch

from benchmark import hookimpl
from benchmark.registry import plugins as registry
from benchmark.api import Model, Options, Trainable, TrainLength
from benchmark.planning.config import Layers, resolve_model
from benchmark.util.settings_text import parse_set
from benchmark.util.errors import ConfigError
from benchmark.util.progress import Reporter
from benchmark.results.records import MetricValue
from benchmark.pipeline.execute import Execution
from benchmark.testing import TINY_DATA


class InnerOptions(Options):
    width: int = 1
    lr: float = 1e-3


class OuterOptions(Options):
    inner: InnerOptions = InnerOptions()
    strength: float = 0.5


class Constant(Trainable):
    """Predicts one learned colour everywhere; remembers the split it was shown."""

    def __init__(self):
        super().__init__()
        self.colour = torch.nn.Parameter(torch.zeros(3))
        self.seen: list[str] = []

    def configure_optimizers(self):
        return {"G": torch.optim.SGD(self.parameters(), lr=0.1)}

    def train_step(self, batch, ctx):
        loss = (batch["image"] - self.colour.view(1, 3, 1, 1)).abs().mean()
        ctx.optimize(loss, self.optimizers["G"])
        return {"L1": loss.detach()}

    def generate(self, batch):
        n, _, h, w = batch["onehot"].shape
        return self.colour.view(1, 3, 1, 1).expand(n, 3, h, w).clamp(-1, 1)

    def before_generation(self, split):
        self.seen = list(split.stems)

    def generation_metrics(self):
        return {"SEEN": MetricValue(float(len(self.seen)), "none", {"what": "test images shown"})}


class Inner(Model):
    name = "inner"
    Options = InnerOptions
    profiles = {"smoke": {"options": {"width": 2}}}

    def train_length(self, options, profile):
        return TrainLength(steps=3, batch_size=2)

    def build(self, options, num_classes, image_size):
        return Constant()


class Outer(Inner):
    name = "outer"
    Options = OuterOptions
    profiles = {}
    embeds = {"inner": "inner"}


def toy_plugins():
    module = types.ModuleType("toy_models")
    module.register_models = hookimpl(lambda register: (register(Inner()), register(Outer())))
    return registry.build([module])


def resolve(*sets: str):
    layers = Layers.from_sources({}, parse_set(list(sets)), {"profile": "smoke"})
    return resolve_model("outer", layers, toy_plugins().models).options


def test_embedded_options_follow_the_inner_model_and_its_profile():
    assert resolve().inner == InnerOptions(width=2)  # the inner model's smoke profile applies
    assert resolve("inner.lr=0.5").inner.lr == 0.5  # the inner model's own table
    assert resolve("inner.lr=0.5", "outer.inner.lr=0.25").inner.lr == 0.25  # nested keys win
    assert resolve("outer.strength=0.1").strength == 0.1


def test_invalid_embedded_option_names_the_key():
    with pytest.raises(ConfigError, match=r"outer\.inner\.width"):
        resolve("inner.width=wide")


def test_split_is_shown_before_generation_and_own_numbers_reach_the_row(tmp_path):
    sets = parse_set([a for a in TINY_DATA if a != "--set"] + ["samples=0"])
    flags = {"models": ["outer"], "profile": "smoke", "data_root": tmp_path / "data",
             "output_root": tmp_path / "out", "eval": {"metrics": ["psnr"]}}
    bench = Execution.from_layers(Layers.from_sources({}, sets, flags), Reporter(quiet=True), toy_plugins())
    (row,) = bench.run()
    assert row.status == "ok"
    assert row.metrics["SEEN"].value == 8.0 and row.metrics["SEEN"].direction == "none"
    assert row.metrics["PSNR"].value is not None
