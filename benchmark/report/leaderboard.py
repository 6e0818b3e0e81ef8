"""The ranking model: the latest successful run of every row, grouped by protocol, best values marked.

A row trained with several seeds shows mean ± std (n) over its seeds (see
:mod:`benchmark.results.aggregate`: which runs are its seeds, and when rows are tied).

Rows are only ranked against rows measured the same way. Every shown row is
placed in a table whose dataset, run-level protocol and per-metric protocols
(and metric directions) agree with its own; rows that disagree get a table of
their own, and the output says so. The best value of each metric column is
marked within its table only. The "real images" reference row joins every table
measured under its run protocol, comes first and is never marked best.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from benchmark.results.aggregate import (
    TIE_RULE,
    Stats,
    newest,
    overlaps,
    seed_groups,
    stats,
)
from benchmark.results.records import (
    MetricValue,
    RunRecord,
    is_reference,
    newest_key,
    row_key,
)
from benchmark.util.errors import ConfigError

DASH = "—"
ARROWS = {"up": "↑", "down": "↓"}
SPLIT_NOTE = (
    "rows measured under different protocols are shown in separate tables "
    "and not ranked against each other"
)
NOT_EVALUATED = "not evaluated for this run"
TAIL_COLUMNS = ("Profile", "Seed", "Run")
_MISSING = object()


@dataclass
class Cell:
    """One metric value of one row, formatted."""

    value: float | None
    text: str  # the number, or the dash when missing
    best: bool = False
    note: str = ""  # why the value is missing
    tied: bool = False  # not the best, but its mean ± std overlaps the best row's
    stats: Stats | None = None  # the value over the row's seeds (value is their mean)


#: run-protocol keys that say how the generated images were written (a reference row's real photos were not)
GENERATION_KEYS = ("quantization",)


@dataclass
class Board:
    """Rows that share a dataset and protocol, and so may be ranked together."""

    dataset: str
    protocol: dict
    directions: dict[str, str] = field(default_factory=dict)  # metric -> direction, first-seen order
    metric_protocols: dict[str, dict] = field(default_factory=dict)
    records: list[RunRecord] = field(default_factory=list)
    selected: list[str] | None = None  # the metric columns asked for (``--columns``); None: all
    groups: dict[tuple, list[RunRecord]] = field(default_factory=dict)  # row key -> its seed runs

    def group(self, record: RunRecord) -> list[RunRecord]:
        return self.groups.get(row_key(record), [record])

    @property
    def multi_seed(self) -> bool:
        """Whether any row has several seeds: then every cell says mean ± std (n)."""
        return any(len(self.group(r)) > 1 for r in self.records)

    @property
    def n_differs(self) -> bool:
        """Whether the model rows were trained with different numbers of seeds."""
        return len({len(self.group(r)) for r in self.records if not is_reference(r)}) > 1

    def seeds_text(self, record: RunRecord) -> str:
        return ",".join(str(r.seed) for r in self.group(record))

    @property
    def metrics(self) -> list[str]:
        """The metric columns shown, in order: the selected ones this table has, or all."""
        if self.selected is None:
            return list(self.directions)
        return [m for m in self.selected if m in self.directions]

    def header(self, metric: str) -> str:
        arrow = ARROWS.get(self.directions[metric], "")
        return f"{metric} {arrow}".strip()

    def accepts(self, record: RunRecord) -> bool:
        if record.dataset != self.dataset or record.protocol != self.protocol:
            return False
        for name, metric in record.metrics.items():
            if name in self.directions and self.directions[name] != metric.direction:
                return False
            known = self.metric_protocols.get(name)
            if metric.value is not None and known is not None and known != metric.protocol:
                return False
        return True

    def add(self, record: RunRecord, group: list[RunRecord] | None = None) -> None:
        self.groups[row_key(record)] = group or [record]
        for name, metric in record.metrics.items():
            self.directions.setdefault(name, metric.direction)
            if metric.value is not None and not is_reference(record):
                self.metric_protocols.setdefault(name, metric.protocol)
        if is_reference(record):  # the reference row comes first and is never ranked
            self.records.insert(sum(is_reference(r) for r in self.records), record)
        else:
            self.records.append(record)

    def accepts_reference(self, record: RunRecord) -> bool:
        """A reference row joins every table measured on its dataset under its run protocol (the keys
        that say how generated images were written, which real photos have not, aside)."""
        own = {k: v for k, v in self.protocol.items() if k not in GENERATION_KEYS}
        return record.dataset == self.dataset and record.protocol == own

    def cells(self, record: RunRecord, metrics: list[str] | None = None) -> list[Cell]:
        """The row's metric cells, in column order, with the best ones marked (never in a reference row)."""
        metrics = self.metrics if metrics is None else metrics
        return [self._cell(record, name) for name in metrics]

    def _cell(self, record: RunRecord, metric: str) -> Cell:
        own = stats(self.group(record), metric)
        best = None if is_reference(record) else self._best(metric)
        cell = _cell(record.metrics.get(metric) if own.mean is None else MetricValue(own.mean, "", {}),
                     None if best is None else best.mean)
        if own.mean is None:
            return cell
        cell.stats = own
        if self.multi_seed:
            cell.text = format_stats(own)
        cell.tied = best is not None and not cell.best and overlaps(own, best)
        return cell

    def notes(self) -> dict[str, int]:
        """Footnote number of every distinct missing-value note, in reading order."""
        numbers: dict[str, int] = {}
        for record in self.records:
            for cell in self.cells(record):
                if cell.note and cell.note not in numbers:
                    numbers[cell.note] = len(numbers) + 1
        return numbers

    def _best(self, metric: str) -> Stats | None:
        """The stats of the row with the best mean (the first of equal ones), or None."""
        pick = {"up": max, "down": min}.get(self.directions[metric])
        found = [stats(self.group(r), metric) for r in self.records if not is_reference(r)]
        found = [s for s in found if s.mean is not None]
        return pick(found, key=lambda s: s.mean) if pick and found else None


@dataclass
class Leaderboard:
    tables: list[Board]
    failed: list[RunRecord]
    title: str = ""
    columns: list[str] | None = None  # the metric columns asked for, or None for the format's default

    @property
    def split_note(self) -> str:
        return SPLIT_NOTE if len(self.tables) > 1 else ""

    @property
    def shown(self) -> list[RunRecord]:
        """The model rows shown (reference rows excluded: they have no generated images)."""
        return [r for board in self.tables for r in board.records if not is_reference(r)]

    def table_name(self, number: int) -> str:
        board = self.tables[number - 1]
        count = len(self.tables)
        return f"{board.dataset} (table {number} of {count})" if count > 1 else board.dataset


def build_leaderboard(records: list[RunRecord], *, title: str = "",
                      columns: list[str] | None = None) -> Leaderboard:
    """Pick the latest successful run per row, group them by protocol, and add each
    "real images" reference row to every table measured under its protocol. ``columns``
    (metric names) limits and orders the metric columns; an unknown name is refused."""
    shown, failed, groups = _select(records)
    tables: list[Board] = []
    models = [r for r in shown if not is_reference(r)]
    for record in sorted(models, key=lambda r: (r.dataset, r.label)):
        board = next((b for b in tables if b.accepts(record)), None)
        if board is None:
            board = Board(record.dataset, record.protocol)
            tables.append(board)
        board.add(record, groups.get(row_key(record)))
    for record in (r for r in shown if is_reference(r)):
        boards = [b for b in tables if b.accepts_reference(record)]
        if not boards:
            boards = [Board(record.dataset, record.protocol)]
            tables.append(boards[0])
        for board in boards:
            board.add(record)
    if columns is not None:
        _check_columns(columns, tables)
        for board in tables:
            board.selected = list(columns)
    return Leaderboard(tables, failed, title, None if columns is None else list(columns))


def _check_columns(columns: list[str], tables: list[Board]) -> None:
    known = list(dict.fromkeys(m for board in tables for m in board.directions))
    if not columns:
        raise ConfigError(f"--columns is empty; name metric columns, e.g. --columns {','.join(known[:2]) or 'FID'}")
    unknown = [c for c in columns if c not in known]
    if unknown and tables:
        raise ConfigError(f"--columns {','.join(columns)}: no metric column {unknown[0]!r} in these results; "
                          f"choose from: {', '.join(known)}")


def _select(records: list[RunRecord]) -> tuple[list[RunRecord], list[RunRecord], dict[tuple, list[RunRecord]]]:
    """Latest ok run per row (see ``row_key``) with the row's seed runs; failed runs newer than
    that (or with no ok run)."""
    groups = seed_groups(records)
    ok = {key: newest(group) for key, group in groups.items()}
    failed: dict[tuple, RunRecord] = {}
    for record in records:
        key = row_key(record)
        if record.status != "ok" and (key not in failed or newest_key(record) > newest_key(failed[key])):
            failed[key] = record
    still_failing = [
        r for key, r in failed.items() if key not in ok or newest_key(r) > newest_key(ok[key])
    ]
    return list(ok.values()), sorted(still_failing, key=lambda r: (r.dataset, r.label)), groups


def _cell(metric: MetricValue | None, best: float | None) -> Cell:
    if metric is None:
        return Cell(None, DASH, note=NOT_EVALUATED)
    if metric.value is None:
        return Cell(None, DASH, note=metric.note)
    value = float(metric.value)
    return Cell(value, format_value(value), best=best is not None and value == best)


def format_stats(own: Stats) -> str:
    """``12.93 ± 0.05 (n=3)``: the std with the mean's decimals; one seed: ``12.93 (n=1)``."""
    mean = format_value(own.mean)
    if own.std is None:
        return f"{mean} (n={own.n})"
    decimals = len(mean.partition(".")[2])
    return f"{mean} ± {own.std:.{decimals}f} (n={own.n})"


def format_value(value: float | None) -> str:
    """|v| >= 10: two decimals (PSNR 27.13); otherwise four (SSIM 0.8123)."""
    if value is None:
        return DASH
    if not math.isfinite(value):
        return str(value)
    return f"{value:.2f}" if abs(value) >= 10 else f"{value:.4f}"


def model_name(record: RunRecord) -> str:
    return f"{record.label} ({record.note})" if record.note else record.label


def protocol_lines(board: Board) -> list[str]:
    """The protocol, one statement per line: the dataset, the run protocol, then the settings
    of each group of metric columns that differ from the run protocol (stated once per group)."""
    lines = [f"dataset: {board.dataset}",
             f"run: {_pairs(board.protocol)}" if board.protocol else "run: protocol not recorded"]
    columns_of: dict[str, list[str]] = {}  # columns of one metric share its protocol: say it once
    for name in board.metrics:
        own = {
            k: v for k, v in board.metric_protocols.get(name, {}).items()
            if board.protocol.get(k, _MISSING) != v
        }
        if own:
            columns_of.setdefault(_pairs(own), []).append(name)
    return lines + [f"{', '.join(names)}: {text}" for text, names in columns_of.items()]


def protocol_text(board: Board) -> str:
    """The protocol on one line, e.g. "dataset facades; images=106, resolution=64; PSNR: window=..."."""
    first, run, *metrics = protocol_lines(board)
    return "; ".join([first.replace(": ", " ", 1), run.removeprefix("run: "), *metrics])


def short_protocol(board: Board) -> str:
    """The run protocol's plain values only (no nested options, no metric settings)."""
    plain = {k: v for k, v in board.protocol.items() if k != "dataset" and not isinstance(v, (dict, list))}
    return f"dataset {board.dataset}" + (f"; {_pairs(plain)}" if plain else "")


def _pairs(mapping: dict) -> str:
    return ", ".join(f"{k}={_plain(v)}" for k, v in mapping.items())


def _plain(value: Any) -> str:
    return json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)


def failed_line(record: RunRecord) -> str:
    reason = record.reason or "no reason recorded"
    run = f"run {record.id}, " if record.id is not None else ""
    return f"failed: {record.label} {DASH} {reason} ({run}{record.dataset})"


def columns(board: Board) -> list[str]:
    """The display headers of a table: model, input, metrics (with arrows), profile, seed, run."""
    return ["Model", "Input"] + [board.header(m) for m in board.metrics] + list(TAIL_COLUMNS)


def tail(record: RunRecord, board: Board | None = None) -> list[Any]:
    """Profile, seed (the seeds of a row over several, e.g. ``0,1,2``) and run id (the newest)."""
    seed = board.seeds_text(record) if board is not None and board.multi_seed else record.seed
    return [record.profile, seed, "" if record.id is None else record.id]


def seed_lines(board: Board) -> list[str]:
    """What a table over several seeds says under it: how cells read, ties, and different n."""
    if not board.multi_seed:
        return []
    lines = ["cells: mean ± std (n) over seeds; " + TIE_RULE]
    if board.n_differs:
        counts = ", ".join(f"{r.label} n={len(board.group(r))}" for r in board.records if not is_reference(r))
        lines.append(f"rows differ in the number of seeds ({counts}): compare them with care")
    return lines
