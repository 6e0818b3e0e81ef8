"""Weights & Biases, offline by default: the run is kept in ``<run>/wandb/`` and uploaded later with
``wandb sync <run>/wandb/offline-run-*`` (W&B's own offline convention).

``WANDB_MODE=online`` (with ``wandb login`` done) sends it live instead; ``WANDB_PROJECT`` names the
project (default "bench"). Needs ``pip install 'bench[wandb]'``.
"""

from __future__ import annotations

import os

from benchmark import Logger, hookimpl


class WandB(Logger):
    """Losses, metrics, sample grids and the resolved plan (as the run's config) in a W&B run."""

    name = "wandb"
    summary = "Weights & Biases run, offline in the run folder unless WANDB_MODE says otherwise"
    extra = "wandb"

    def __init__(self):
        self.run = None
        self.wandb = None

    def start(self, run):
        import wandb

        self.wandb = wandb
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "bench"), name=run.label, dir=str(run.folder),
                              config=run.plan, mode=os.environ.get("WANDB_MODE", "offline"), reinit=True)

    def losses(self, step, values):
        self.run.log({f"loss/{k}": v for k, v in values.items()}, step=step)

    def metrics(self, step, values):
        self.run.log({f"metric/{k}": v for k, v in values.items()}, step=step)

    def image(self, step, tag, array):
        self.run.log({tag: self.wandb.Image(array)}, step=step)

    def close(self):
        if self.run is not None:
            self.run.finish()
            self.run = None


@hookimpl
def register_loggers(register):
    register(WandB())
