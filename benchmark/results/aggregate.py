"""Rows over several seeds: which runs of a row are its seeds, and their mean ± std (n).

A leaderboard row (:func:`benchmark.results.records.row_key`) may have been trained with several
seeds. Its **seed group** is chosen from the successful runs of the row: the newest run
fixes the training config (model options and run settings, except the seed, paths and
evaluation settings) and the protocol; of the runs with that config and protocol, the newest
one of each seed is kept. Runs with another config are not mixed in; every run stays in
the store.

A cell of a seed group is the **mean** of its seeds' values, the **sample standard
deviation** (divisor n - 1) and **n**, the number of seeds with a finite value. Two rows are
**tied** on a metric when their intervals ``mean ± std`` overlap (a single seed is an
interval of width zero); the best mean of a column is marked best, and every other row
whose interval overlaps the best row's is marked tied with it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from benchmark.results.records import RunRecord, is_reference, newest_key, row_key

#: run settings that do not change what is trained (as in Row.config_hash), and the seed
_NOT_TRAINING = frozenset({"data_root", "output_root", "eval", "models", "seeds", "seed"})

TIE_RULE = ("tied: the row's interval mean ± std overlaps the best row's "
            "(std: sample standard deviation over seeds, n - 1)")


def training_signature(record: RunRecord) -> str:
    """What was trained, without the seed: the model options and run settings, and the protocol."""
    run = record.config.get("run", {}) if isinstance(record.config, dict) else {}
    run = {k: v for k, v in run.items() if k not in _NOT_TRAINING} if isinstance(run, dict) else {}
    return json.dumps({"model": record.model, "preset": record.preset, "options": record.options, "run": run,
                       "dataset_options": record.config.get("dataset_options") if isinstance(record.config, dict)
                       else None, "protocol": record.protocol}, sort_keys=True, default=str)


def seed_groups(records: list[RunRecord]) -> dict[tuple, list[RunRecord]]:
    """The successful ``records`` as seed groups: row key -> runs sorted by seed, one per seed.
    A reference row is never grouped: its newest run stands alone."""
    newest_first = sorted((r for r in records if r.status == "ok"), key=newest_key, reverse=True)
    groups: dict[tuple, dict[int, RunRecord]] = {}
    signature: dict[tuple, str] = {}
    for record in newest_first:
        key = row_key(record)
        if key not in groups:
            groups[key], signature[key] = {record.seed: record}, training_signature(record)
        elif (not is_reference(record) and record.seed not in groups[key]
              and training_signature(record) == signature[key]):
            groups[key][record.seed] = record
    return {key: [by_seed[s] for s in sorted(by_seed)] for key, by_seed in groups.items()}


def newest(group: list[RunRecord]) -> RunRecord:
    """The newest run of a group: the one that represents the row (label, note, run id)."""
    return max(group, key=newest_key)


@dataclass(frozen=True)
class Stats:
    """One metric of one row over its seeds."""

    mean: float | None
    std: float | None  # None when n < 2
    values: tuple[float | None, ...]  # per seed, in seed order (None: missing or not finite)
    seeds: tuple[int, ...]

    @property
    def n(self) -> int:
        return sum(v is not None for v in self.values)

    def interval(self) -> tuple[float, float] | None:
        if self.mean is None:
            return None
        spread = self.std or 0.0
        return self.mean - spread, self.mean + spread


def stats(group: list[RunRecord], metric: str) -> Stats:
    values = tuple(_finite(r, metric) for r in group)
    present = [v for v in values if v is not None]
    mean = math.fsum(present) / len(present) if present else None
    std = None
    if len(present) > 1:
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in present) / (len(present) - 1))
    return Stats(mean, std, values, tuple(r.seed for r in group))


def overlaps(a: Stats, b: Stats) -> bool:
    """Whether the intervals mean ± std of two rows overlap (touching counts)."""
    ia, ib = a.interval(), b.interval()
    return ia is not None and ib is not None and ia[0] <= ib[1] and ib[0] <= ia[1]


def _finite(record: RunRecord, metric: str) -> float | None:
    value = record.metrics.get(metric)
    if value is None or value.value is None or not math.isfinite(value.value):
        return None
    return float(value.value)
