"""The record types every stage shares: a metric value with its protocol, a run record, what
"the same leaderboard row" means, and the "real images" reference row.

The store (:mod:`benchmark.results.store`) persists them; the plugin API and the reports read them
without knowing how they are stored.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone


@dataclass
class MetricValue:
    value: float | None  # None: not computed, ``note`` says why
    direction: str  # a benchmark.api.contract.Direction: "up" (higher is better), "down" or "none" (never ranked)
    protocol: dict  # e.g. {"images": 106, "resolution": 64, "window": "gaussian 11/1.5"}
    note: str = ""
    #: [low, high]: 95% bootstrap interval over the test images of a per-image mean (benchmark.results.bootstrap)
    ci: list[float] | None = None


@dataclass
class RunRecord:
    label: str  # leaderboard row name, e.g. "pix2pix" or "pix2pix+kl"
    model: str
    preset: str
    dataset: str
    profile: str
    seed: int
    options: dict  # resolved model options
    config: dict  # fully resolved run config
    protocol: dict  # run-level evaluation protocol
    versions: dict  # {"bench": ..., "torch": ..., "python": ...}
    device: str
    wall_time_s: float
    status: str  # "ok" or "failed"
    reason: str | None  # failure reason
    run_dir: str
    input_kind: str = "label-map"
    note: str = ""  # shown with the row, e.g. "no VGG loss"
    metrics: dict[str, MetricValue] = field(default_factory=dict)
    created: str = ""  # ISO timestamp (UTC), filled by the store if empty
    id: int | None = None


#: ``RunRecord.model`` of the "real images" reference row: the real test photos evaluated as if
#: generated (distribution metrics against the real training split). It is a ceiling to read the
#: other rows against, never ranked.
REFERENCE_MODEL = "real-images"
REFERENCE_LABEL = "real images"


def is_reference(record: RunRecord) -> bool:
    return record.model == REFERENCE_MODEL


def row_key(record: RunRecord) -> tuple:
    """What "the same leaderboard row" means: dataset and label; a reference row exists once
    per protocol (e.g. per resolution), so that every table keeps its own."""
    key: tuple = (record.dataset, record.label)
    if is_reference(record):
        key += (json.dumps(record.protocol, sort_keys=True, default=str),)
    return key


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def newest_key(record: RunRecord) -> tuple[str, int]:
    """Sort key, larger is newer: ``created``, then the id for runs created at the same time."""
    return record.created, record.id if record.id is not None else -1


def record_to_dict(record: RunRecord) -> dict:
    """A record as plain JSON data (what a run folder keeps in ``record.json``)."""
    return asdict(record)


def record_from_dict(data: dict) -> RunRecord:
    """The inverse of :func:`record_to_dict`."""
    metrics = {name: MetricValue(**value) for name, value in data.get("metrics", {}).items()}
    return RunRecord(**{**data, "metrics": metrics})
