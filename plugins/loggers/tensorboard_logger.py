"""TensorBoard event files in the run folder (``<run>/tensorboard/``), written offline.

Losses go under ``loss/NAME``, metrics under ``metric/COLUMN``, sample grids under
``samples`` and the row's resolved plan as text under ``plan``; view them with
``tensorboard --logdir results/runs``. Needs the ``tensorboard`` package
(``pip install 'bench[tensorboard]'``).
"""

from __future__ import annotations

import json

from benchmark import Logger, hookimpl

FOLDER = "tensorboard"


class TensorBoard(Logger):
    """Event files read by TensorBoard (torch.utils.tensorboard's writer) in the run folder."""

    name = "tensorboard"
    summary = "TensorBoard event files in the run folder (offline)"
    extra = "tensorboard"

    def __init__(self):
        self.writer = None

    def start(self, run):
        import tensorboard  # noqa: F401 - named in the line when it is missing
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run.folder / FOLDER))
        self.writer.add_text("plan", "```\n" + json.dumps(run.plan, indent=1, default=str) + "\n```", 0)

    def losses(self, step, values):
        for name, value in values.items():
            self.writer.add_scalar(f"loss/{name}", value, step)

    def metrics(self, step, values):
        for name, value in values.items():
            self.writer.add_scalar(f"metric/{name}", value, step)
        self.writer.flush()

    def image(self, step, tag, array):
        self.writer.add_image(tag, array, step, dataformats="HWC")

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


@hookimpl
def register_loggers(register):
    register(TensorBoard())
