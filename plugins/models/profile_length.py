"""A model family's training length under a profile, read from its ``profiles`` table."""

from __future__ import annotations

from typing import Any

from benchmark import TrainLength


def profile_length(profiles: dict[str, dict[str, Any]], profile: str, paper_batch: int | None = None) -> TrainLength:
    """The ``run`` entry of ``profiles[profile]`` (an unknown profile: ``paper``'s) as a
    :class:`TrainLength`; ``paper_batch``, when given, replaces the batch size of the paper profile
    (a family's ``batch_size`` option)."""
    run = profiles.get(profile, profiles["paper"])["run"]
    batch = paper_batch if profile == "paper" and paper_batch is not None else run["batch_size"]
    return TrainLength(epochs=run.get("epochs"), steps=run.get("steps"), batch_size=batch)
