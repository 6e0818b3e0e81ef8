"""The leaderboard for programs: JSON (schema in docs/leaderboard-schema.md) and CSV.

Keys are metric names ("FID"), never display headers ("FID ↓"). The JSON carries
``schema_version`` and a ``generated`` timestamp and holds each table's protocol;
CSV rows carry the table number instead of repeating the protocol, so the protocol
of a CSV row is ``tables[table - 1].protocol`` in the JSON written beside it.
A row over several seeds carries its mean in ``values`` and its spread and per-seed values
beside it (schema 2); the CSV gets those columns only when some row has several seeds.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import datetime, timezone
from typing import Any

from benchmark.report.leaderboard import Board, Leaderboard, model_name
from benchmark.report.protocol import protocol_text
from benchmark.results.aggregate import TIE_RULE
from benchmark.results.records import RunRecord, is_reference

SCHEMA_VERSION = 2
CSV_FIXED = ("table", "dataset", "label", "name", "input", "reference")
CSV_TAIL = ("profile", "seed", "run", "notes")


def generated_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


# ---------------------------------------------------------------- JSON

def render_json(board_set: Leaderboard) -> str:
    data = {
        "schema_version": SCHEMA_VERSION,
        "generated": generated_now(),
        "title": board_set.title,
        "note": board_set.split_note,
        "tables": [_table(number, board) for number, board in enumerate(board_set.tables, start=1)],
        "failed": [_failed(r) for r in board_set.failed],
    }
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def _table(number: int, board: Board) -> dict:
    return {
        "table": number,
        "dataset": board.dataset,
        "protocol": {"run": board.protocol, "metrics": board.metric_protocols},
        "protocol_text": protocol_text(board),
        "metrics": [
            {"name": m, "direction": board.directions[m], "header": board.header(m)} for m in board.all_metrics
        ],
        "not_separating": {m: value for m in board.all_metrics if (value := board.flat(m)) is not None},
        "rows": [_row(board, record) for record in board.records],
        "n_differs": board.n_differs,
        "tie_rule": TIE_RULE,
    }


def _row(board: Board, record: RunRecord) -> dict:
    values: dict[str, float | None] = {}
    std: dict[str, float | None] = {}
    per_seed: dict[str, list[float | None]] = {}
    ci: dict[str, list[list[float] | None]] = {}
    best, tied, notes = [], [], {}
    group = board.group(record)
    for metric, cell in zip(board.all_metrics, board.cells(record, board.all_metrics)):
        finite = cell.value is not None and math.isfinite(cell.value)
        values[metric] = cell.value if finite else None
        std[metric] = cell.stats.std if cell.stats else None
        per_seed[metric] = list(cell.stats.values) if cell.stats else [None] * len(group)
        ci[metric] = [_ci(r, metric) for r in group]
        if cell.best:
            best.append(metric)
        if cell.tied:
            tied.append(metric)
        if cell.note or (cell.value is not None and not finite):
            notes[metric] = cell.note or f"value was {cell.value}"
    return {
        "label": record.label, "name": model_name(record), "model": record.model, "input": record.input_kind,
        "reference": is_reference(record), "profile": record.profile, "seed": record.seed, "run": record.id,
        "run_dir": record.run_dir, "values": values, "best": best, "notes": notes,
        "n": len(group), "seeds": [r.seed for r in group], "runs": [r.id for r in group],
        "run_dirs": [r.run_dir for r in group], "std": std, "per_seed": per_seed, "tied": tied,
        "ci": ci,
    }


def _ci(record: RunRecord, metric: str) -> list[float] | None:
    value = record.metrics.get(metric)
    return None if value is None or value.ci is None else list(value.ci)


def _failed(record: RunRecord) -> dict:
    return {"label": record.label, "dataset": record.dataset, "run": record.id,
            "reason": record.reason, "run_dir": record.run_dir}


# ---------------------------------------------------------------- CSV

def render_csv(board_set: Leaderboard) -> str:
    metrics = list(dict.fromkeys(m for board in board_set.tables for m in board.all_metrics))
    seeds = any(board.multi_seed for board in board_set.tables)
    header = list(CSV_FIXED)
    for metric in metrics:
        header += [metric, f"{metric} best"]
        header += [f"{metric} std", f"{metric} n", f"{metric} tied", f"{metric} per seed"] if seeds else []
    header += list(CSV_TAIL) + (["n"] if seeds else [])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for number, board in enumerate(board_set.tables, start=1):
        for record in board.records:
            writer.writerow(_csv_row(number, board, record, metrics, seeds))
    return buffer.getvalue()


def _csv_row(number: int, board: Board, record: RunRecord, metrics: list[str], seeds: bool) -> list[Any]:
    cells = dict(zip(board.all_metrics, board.cells(record, board.all_metrics)))
    row: list[Any] = [number, board.dataset, record.label, model_name(record), record.input_kind,
                      str(is_reference(record)).lower()]
    for metric in metrics:
        cell = cells.get(metric)
        row += ["", ""] if cell is None or cell.value is None else [repr(cell.value), str(cell.best).lower()]
        if seeds:
            row += _csv_spread(cell)
    notes = [f"{metric}: {cell.note}" for metric, cell in cells.items() if cell.note]
    seed = ";".join(str(r.seed) for r in board.group(record)) if seeds else record.seed
    return row + [record.profile, seed, "" if record.id is None else record.id, "; ".join(notes)] + (
        [len(board.group(record))] if seeds else [])


def _csv_spread(cell) -> list[Any]:
    """``<metric> std``, ``n``, ``tied`` and ``per seed`` (values in seed order, ``;``-separated)."""
    if cell is None or cell.stats is None:
        return ["", "", "", ""]
    st = cell.stats
    per_seed = ";".join("" if v is None else repr(v) for v in st.values)
    return ["" if st.std is None else repr(st.std), st.n, str(cell.tied).lower(), per_seed]
