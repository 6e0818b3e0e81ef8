"""The core hook ``Trainable.before_training``: called once, before the first step, with the
training split and a context holding the device, the shared cache folder and the seed."""

from __future__ import annotations

import types

from benchmark import hookimpl
from benchmark.registry import plugins as registry
from benchmark.planning.config import Layers
from benchmark.util.settings_text import parse_set
from benchmark.util.progress import Reporter
from benchmark.pipeline.execute import Execution
from benchmark.testing import TINY_DATA
from tests.test_model_hooks import Constant, Inner


class Preparing(Constant):
    def __init__(self):
        super().__init__()
        self.calls = []
        self.steps_before = None

    def before_training(self, split, ctx):
        self.calls.append((len(split), tuple(split.photos.shape), ctx.cache_dir, ctx.seed, ctx.device.type))
        self.steps_before = self.steps_seen
        ctx.log("prepared")

    steps_seen = 0

    def train_step(self, batch, ctx):
        self.steps_seen += 1
        return super().train_step(batch, ctx)


class PreparingModel(Inner):
    name = "preparing"
    built: list = []

    def build(self, options, num_classes, image_size):
        model = Preparing()
        PreparingModel.built.append(model)
        return model


def test_before_training_sees_the_training_split_once_before_any_step(tmp_path):
    module = types.ModuleType("toy_preparing")
    module.register_models = hookimpl(lambda register: register(PreparingModel()))
    sets = parse_set([a for a in TINY_DATA if a != "--set"] + ["samples=0", "seed=7"])
    flags = {"models": ["preparing"], "profile": "smoke", "data_root": tmp_path / "data",
             "output_root": tmp_path / "out", "eval": {"metrics": ["psnr"]}}
    bench = Execution.from_layers(Layers.from_sources({}, sets, flags), Reporter(quiet=True), registry.build([module]))
    (row,) = bench.run()
    assert row.status == "ok"
    model = PreparingModel.built[-1]
    assert len(model.calls) == 1 and model.steps_before == 0 and model.steps_seen == 3
    count, shape, cache, seed, device = model.calls[0]
    assert count == 24 and shape[:2] == (24, 3) and cache == tmp_path / "out" / "cache" and seed == 7
