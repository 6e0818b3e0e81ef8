"""Evaluation during training: chosen metrics on a fixed subset every ``eval_every`` steps, the curve
in the run folder (``eval_curve.csv``, ``eval_curve.png``) and, with ``keep_best``, the best checkpoint.

The subset is the first ``eval_images`` images of the test split (the same at every step and in
every run of the dataset); the final evaluation and the leaderboard do not change: the row records
the curve's settings and the best step (``config.during_training`` of its record).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from benchmark.planning.during_plan import Best
from benchmark.rundir.layout import RunDir
from benchmark.util.atomic import atomic_write

BEST_CHECKPOINT = "best.pt"
@dataclass
class DuringTraining:
    """Measures at the due steps, keeps the curve and the best step; ``measure(step)`` does the work."""

    every: int
    measure: Callable[[int], dict[str, float | None]]  # step -> column -> value (the model as trained so far)
    dir: RunDir
    best: Best | None = None
    rows: list[dict] = field(default_factory=list)
    best_step: int | None = None
    best_value: float | None = None

    def restore(self, up_to_step: int) -> None:
        """On resume: the curve's rows up to the checkpoint's step, and the best among them."""
        path = self.dir.eval_curve_csv
        self.rows = [r for r in read_curve(path) if r["step"] <= up_to_step] if path.exists() else []
        for row in self.rows:
            row["step"] = int(row["step"])
            if self.best is not None and self.best.better(row.get(self.best.column), self.best_value):
                self.best_step, self.best_value = row["step"], row[self.best.column]

    def due(self, step: int, total: int) -> bool:
        return step % self.every == 0 or step == total

    def run(self, step: int) -> tuple[dict[str, float | None], bool]:
        """Measure at ``step``; returns the values and whether they are the best so far."""
        values = self.measure(step)
        self.rows = [r for r in self.rows if r["step"] < step] + [{"step": step, **values}]
        improved = False
        if self.best is not None and self.best.better(values.get(self.best.column), self.best_value):
            self.best_step, self.best_value, improved = step, values[self.best.column], True
        self.write()
        return values, improved

    def write(self) -> None:
        names = list(dict.fromkeys(k for row in self.rows for k in row))
        with atomic_write(self.dir.eval_curve_csv, newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=names)
            writer.writeheader()
            for row in self.rows:
                writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
        plot_curve(self.rows, self.dir.eval_curve)

    def protocol(self, images: int, metrics: tuple) -> dict:
        out = {"eval_every": self.every, "images": images, "subset": f"the first {images} test images",
               "metrics": [m.name for m, _ in metrics], "curve": self.dir.eval_curve_csv.name}
        if self.best is not None:
            out["keep_best"] = {"metric": self.best.metric, "column": self.best.column, "step": self.best_step,
                                "value": self.best_value, "checkpoint": f"checkpoints/{BEST_CHECKPOINT}"}
        return out


def read_curve(path: Path) -> list[dict[str, float | None]]:
    """The rows of an ``eval_curve.csv`` (empty cells: None)."""
    with open(path, newline="") as fh:
        return [{k: (float(v) if v not in ("", None) else None) for k, v in row.items()} for row in csv.DictReader(fh)]


def plot_curve(rows: list[dict], out: Path) -> None:
    """One panel per column against the training step."""
    columns = [k for k in dict.fromkeys(k for r in rows for k in r) if k != "step"]
    if not rows or not columns:
        return
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 2.8), dpi=100, squeeze=False)
    steps = [r["step"] for r in rows]
    for ax, name in zip(axes[0], columns):
        values = np.array([np.nan if r.get(name) is None else r[name] for r in rows], dtype=float)
        ax.plot(steps, values, marker="o", linewidth=1)
        ax.set_xlabel("step")
        ax.set_title(name, fontsize=9)
    fig.tight_layout()
    with atomic_write(out, binary=True, durable=False) as fh:
        fig.savefig(fh, format="png")
    plt.close(fig)
