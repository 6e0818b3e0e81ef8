"""Several seeds per leaderboard row: the ``seeds`` run key, one job per (row, seed), and reuse.

``--seeds 0,1,2`` (or ``seeds = [0, 1, 2]`` in a TOML file) trains each row once per listed
seed; ``--seeds 3`` is short for ``0,1,2`` (a count N means seeds 0..N-1; a list with one seed is
written ``5,``). Each (row, seed) is its own run with its own run folder, and every run is kept.
With ``seeds`` set, a (row, seed) whose run already finished with the same config is not trained
again: its finished run folder is reused (and stored again, idempotently), so ``--seeds 4`` after
``--seeds 3`` trains seed 3 only.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from pydantic import BeforeValidator

from benchmark.rundir.layout import RunDir

MAX_SEEDS = 1000


def normalize_seeds(value: Any) -> list[int] | None:
    """The ``seeds`` run key as a list: a count ``N`` (>= 1) means ``0..N-1``; a list is taken as
    given (distinct, each >= 0); a string is ``"3"`` or ``"0,1,2"`` as on the command line.
    Raises ValueError with the fix (pydantic turns it into one line naming ``seeds``)."""
    if value is None:
        return None
    if isinstance(value, str):
        return parse_seeds(value)
    if isinstance(value, bool):
        raise ValueError("give a count (3 means seeds 0,1,2) or a list of seeds, e.g. [0, 1, 2]")
    if isinstance(value, int):
        if not 1 <= value <= MAX_SEEDS:
            raise ValueError(f"a count of seeds must be 1..{MAX_SEEDS} (3 means seeds 0,1,2)")
        return list(range(value))
    if isinstance(value, (list, tuple)):
        seeds = list(value)
        if not seeds:
            raise ValueError("the list of seeds is empty; give at least one, e.g. [0, 1, 2]")
        if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
            raise ValueError(f"seeds must be whole numbers >= 0, got {seeds}")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"a seed is listed twice in {seeds}; list each once")
        return seeds
    raise ValueError("give a count (3 means seeds 0,1,2) or a list of seeds, e.g. [0, 1, 2]")


#: the type of the ``seeds`` run key: validated and normalised to a list (or None)
Seeds = Annotated["list[int] | None", BeforeValidator(lambda value: normalize_seeds(value))]


def parse_seeds(text: str) -> list[int]:
    """``"3"`` -> ``[0, 1, 2]``; ``"0,1,2"`` -> ``[0, 1, 2]``; ``"5,"`` -> ``[5]``."""
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() for p in parts if p) or not any(parts):
        raise ValueError(f"{text!r} is not a count or a comma-separated list of seeds; "
                         f"e.g. --seeds 3 (seeds 0,1,2) or --seeds 0,4,7")
    if len(parts) == 1:
        return normalize_seeds(int(parts[0]))  # type: ignore[return-value]
    return normalize_seeds([int(p) for p in parts if p])  # type: ignore[return-value]


def seed_jobs(plan) -> list:
    """The plan's (row, seed) jobs as model rows whose run settings carry the one seed; without
    ``seeds`` the plan's rows as they are (one run each, with ``seed``)."""
    seeds = plan.config.seeds
    if seeds is None:
        return list(plan.rows)
    return [with_seed(row, seed) for row in plan.rows for seed in seeds]


def with_seed(row, seed: int):
    """The same row trained with ``seed`` (its config hash then names the row and the seed)."""
    return replace(row, run=row.run.model_copy(update={"seed": seed, "seeds": None}))


def job_name(row) -> str:
    return f"{row.label} seed {row.run.seed}"


def finished_run(output_root, dataset: str, row) -> tuple[RunDir, dict] | None:
    """The newest run folder of this row that trained the same config with the same seed and
    finished ok (its ``record.json`` says so), with that record; None if there is none."""
    for run in RunDir.of_row(output_root, dataset, row.label):
        try:
            plan = run.read_plan()
        except Exception:  # a damaged or foreign folder is not a finished run
            continue
        if plan.get("config_hash") != row.config_hash():
            continue
        finished = run.read_record()
        if finished is not None and finished["record"].get("status") == "ok":
            return run, finished
    return None


def reuse_line(row, run: RunDir) -> str:
    return f"{job_name(row)}: reusing the finished run {run.root} (same config and seed); not training it again"
