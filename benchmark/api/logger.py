"""The logger contract: what a logger plugin (TensorBoard, W&B, MLflow, ...) receives during a run.

A logger is chosen with ``--set loggers=["tensorboard"]`` and registered through the
``register_loggers`` hook. The harness calls ``start`` once per trained row with the run
folder and the row's resolved plan, then ``losses`` every step, ``metrics`` whenever
metrics are measured (evaluation during training, and the final evaluation at the last
step), ``image`` for each sample grid, and ``close`` at the end. A logger that raises
(its package missing, no network) is switched off with one line on the console; the
training never stops for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class LogRun:
    """What a logger knows of the run it follows."""

    folder: Path  # the run folder (loggers keep their files under it: offline by default)
    label: str  # the row label, e.g. "pix2pix" or "spade+vae"
    plan: dict[str, Any] = field(default_factory=dict)  # the row's resolved plan (plan.json)


class Logger:
    """Base class of logger plugins; every method but ``start`` may be left as it is (does nothing)."""

    name: str = ""
    summary: str = ""
    #: the pip extra that installs the logger's package (named in the line shown when it is missing)
    extra: str | None = None

    def start(self, run: LogRun) -> None:
        """Open the log (import the package here, so that a missing one only switches this logger off)."""

    def losses(self, step: int, values: dict[str, float]) -> None:
        """The training losses of ``step`` (as written to losses.csv)."""

    def metrics(self, step: int, values: dict[str, float]) -> None:
        """Metric values measured at ``step`` (column name -> number)."""

    def image(self, step: int, tag: str, array: np.ndarray) -> None:
        """An (H, W, 3) uint8 image, e.g. the sample grid label | real | fake."""

    def close(self) -> None:
        """Flush and close; called once, also after a failed step."""
