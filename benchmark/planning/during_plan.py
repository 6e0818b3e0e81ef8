"""What evaluation during training measures (``eval_every``, ``eval_metrics``) and which step is best
(``keep_best``): resolved and checked with the plan, before any training."""

from __future__ import annotations

import math
from dataclasses import dataclass

from benchmark.api import Metric
from benchmark.util.errors import ConfigError

#: what eval_metrics measures when it is not set: the run's first metric of each of these kinds
#: (with bench's plugins, FID and mIoU)
DEFAULT_KINDS = ("distribution", "segmentation")


@dataclass(frozen=True)
class Best:
    """``keep_best``: the column chosen and whether lower is better."""

    metric: str
    column: str
    lower: bool

    def better(self, value: float | None, than: float | None) -> bool:
        if value is None or not math.isfinite(value):
            return False
        return than is None or (value < than if self.lower else value > than)


def choose_metrics(wanted: list[str] | None, measured: tuple[tuple[Metric, object], ...],
                   best: str | None = None) -> tuple:
    """The (metric, options) pairs of ``eval_metrics``. Default: the run's first distribution metric and
    first segmentation metric among those that measure while training by default
    (``Metric.watch_by_default``), i.e. FID and mIoU, and the metric ``best`` (``keep_best``) names
    when it is another of the run's; else the run's first metric."""
    by_name = {m.name: (m, o) for m, o in measured}
    if wanted is None:
        watched = [pair for pair in measured if pair[0].watch_by_default]
        chosen = [next(pair for pair in watched if pair[0].kind == kind) for kind in DEFAULT_KINDS
                  if any(m.kind == kind for m, _ in watched)]
        named = [pair for pair in measured if best is not None and column_named(pair[0], best)]
        chosen += [pair for pair in named[:1] if pair not in chosen]
        return tuple(chosen or measured[:1])
    for name in wanted:
        if name not in by_name:
            raise ConfigError(f"invalid value for 'eval_metrics': '{name}' is not among the run's metrics "
                              f"({', '.join(by_name) or 'none'}); add it with --metrics or drop it")
    return tuple(by_name[n] for n in dict.fromkeys(wanted))


def column_named(metric: Metric, name: str) -> tuple[str, str] | None:
    """(column, direction) of ``metric`` that ``name`` names: a column (or its lower case), or the
    metric's name for its first column; None when it names none."""
    columns = list(metric.columns.items())
    for column, direction in columns:
        if name in (column, column.lower()) or (name == metric.name and column == columns[0][0]):
            return column, direction
    return None


def choose_best(name: str | None, metrics: tuple) -> Best | None:
    """``keep_best=NAME``: a metric name (its first column) or a column name of the chosen metrics."""
    if name is None:
        return None
    for metric, _ in metrics:
        if found := column_named(metric, name):
            return Best(metric.name, found[0], found[1] == "down")
    known = [c for m, _ in metrics for c in m.columns]
    raise ConfigError(f"invalid value for 'keep_best': '{name}' is not a column of the metrics measured during "
                      f"training ({', '.join(known) or 'none'}); set eval_metrics or choose one of these")
