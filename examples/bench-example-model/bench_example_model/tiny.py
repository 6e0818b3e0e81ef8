"""Tutorial step 1: the smallest model bench can train."""

from __future__ import annotations

import torch
from torch import nn

from benchmark import Model, Trainable, hookimpl


class TinyPaintNet(Trainable):
    """Two 3x3 convolutions from the one-hot label map to RGB, trained with an L1 loss."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(num_classes, 32, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 3, kernel_size=3, padding=1), nn.Tanh(),
        )

    def configure_optimizers(self):
        self.optimizers = {"net": torch.optim.Adam(self.net.parameters(), lr=1e-3)}
        return self.optimizers

    def train_step(self, batch, ctx):
        with ctx.autocast():
            fake = self.net(batch["onehot"])
        loss = (fake.float() - batch["image"]).abs().mean()
        ctx.optimize(loss, self.optimizers["net"])
        return {"L1": loss.detach()}

    @torch.no_grad()
    def generate(self, batch):
        return self.net(batch["onehot"]).float()


class TinyPaint(Model):
    name = "tiny-paint"
    summary = "two 3x3 convs from the one-hot label map to RGB, L1 loss (tutorial step 1)"

    def build(self, options, num_classes, image_size):
        return TinyPaintNet(num_classes)


@hookimpl
def register_models(register):
    register(TinyPaint())
