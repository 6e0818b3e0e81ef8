"""Tutorial steps 3 to 5: the tiny model grown up, with options, presets and profiles."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from benchmark import Model, Options, Preset, Trainable, TrainLength, hookimpl


class PaintOptions(Options):
    """What a user may change: typed, checked, and listed by `bench info paint`."""

    width: int = Field(32, ge=1, description="channels of each hidden convolution")
    depth: int = Field(2, ge=1, le=8, description="hidden 3x3 convolutions (each one widens the view by 2 px)")
    loss: Literal["l1", "l2"] = Field("l1", description="pixel loss between the fake and the real photo")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")


class PaintNet(Trainable):
    """``depth`` 3x3 convolutions of ``width`` channels, then one to RGB."""

    def __init__(self, options: PaintOptions, num_classes: int):
        super().__init__()
        self.options = options
        layers, channels = [], num_classes
        for _ in range(options.depth):
            layers += [nn.Conv2d(channels, options.width, kernel_size=3, padding=1), nn.ReLU()]
            channels = options.width
        layers += [nn.Conv2d(channels, 3, kernel_size=3, padding=1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def configure_optimizers(self):
        self.optimizers = {"net": torch.optim.Adam(self.net.parameters(), lr=self.options.lr)}
        return self.optimizers

    def train_step(self, batch, ctx):
        with ctx.autocast():
            fake = self.net(batch["onehot"])
        error = fake.float() - batch["image"]
        loss = error.abs().mean() if self.options.loss == "l1" else error.pow(2).mean()
        ctx.optimize(loss, self.optimizers["net"])
        return {self.options.loss.upper(): loss.detach()}

    @torch.no_grad()
    def generate(self, batch):
        return self.net(batch["onehot"]).float()


class Paint(Model):
    name = "paint"
    summary = "a small conv net from the one-hot label map to RGB, L1 or L2 loss (tutorial steps 3-5)"
    Options = PaintOptions

    # Each preset is its own leaderboard row: paint, paint+wide, paint+l2.
    default_preset = "official"
    presets = {
        "official": Preset("width 32, depth 2, L1 loss"),
        "wide": Preset("width 64, depth 4", {"width": 64, "depth": 4}),
        "l2": Preset("L2 loss instead of L1", {"loss": "l2"}),
    }

    # Per --profile: run settings and option overrides.
    profiles = {
        "smoke": {"run": {"image_size": 32}, "options": {"width": 16}},
        "quick": {"run": {"image_size": 64}},
        "paper": {"run": {"image_size": 256}},
    }

    def train_length(self, options, profile):
        if profile == "smoke":
            return TrainLength(steps=100, batch_size=4)
        if profile == "quick":
            return TrainLength(steps=600, batch_size=8)
        return TrainLength(epochs=20, batch_size=16)

    def build(self, options, num_classes, image_size):
        return PaintNet(options, num_classes)


@hookimpl
def register_models(register):
    register(Paint())
