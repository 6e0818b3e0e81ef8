"""The ranking model: the latest successful run of every row, grouped by protocol, best values marked.

A row trained with several seeds shows mean ± std (n) over its seeds (see
:mod:`benchmark.results.aggregate`: which runs are its seeds, and when rows are tied).

Rows are only ranked against rows measured the same way. Every shown row is
placed in a table whose dataset, run-level protocol and per-metric protocols
(and metric directions) agree with its own; rows that disagree get a table of
their own, and the output says so. The best value of each metric column is
marked within its table only. The "real images" reference row joins every table
measured under its run protocol, comes first and is never marked best.

What a reader sees (Markdown, LaTeX, HTML, console) leaves out the metric columns no row of a
table has (one remark says why) and does not crown a column whose values cannot separate the
rows (every model row reads the same); the paper formats (Markdown, LaTeX) show the dataset's
headline columns (see ``Dataset.headline_columns``) unless ``--columns`` names others (``all``:
every column), in percent where the dataset says so. JSON and CSV keep every column.
The protocol printed with a table is written by :mod:`benchmark.report.protocol`.
"""

from __future__ import annotations

import dataclasses
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
from benchmark.report.numbers import DASH, is_number, format_stats, format_value
from benchmark.util.errors import ConfigError

ARROWS = {"up": "↑", "down": "↓"}
SPLIT_NOTE = (
    "rows measured under different protocols are shown in separate tables "
    "and not ranked against each other"
)
NOT_EVALUATED = "not evaluated for this run"
ALL_COLUMNS = "all"  # ``--columns all``: every metric column
TAIL_COLUMNS = ("Profile", "Seed", "Run")


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
    headline: tuple[str, ...] = ()  # the dataset's headline columns (the paper view's default)
    percent: tuple[str, ...] = ()  # columns of fractions the paper view prints in percent
    paper: bool = False  # the paper view (Markdown, LaTeX): headline columns, percent
    every: bool = False  # ``--columns all``: every column, headline or not

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
    def all_metrics(self) -> list[str]:
        """Every metric column, in order (the selected ones this table has): what JSON and CSV hold."""
        if self.selected is None:
            return list(self.directions)
        return [m for m in self.selected if m in self.directions]

    @property
    def metrics(self) -> list[str]:
        """The metric columns a reader sees: those selected, else (in the paper view) the headline
        columns this table has, else all; less the columns no row has a value in (unless named)."""
        if self.selected is not None:
            return self.all_metrics
        return [m for m in self._candidates() if m not in self.empty]

    def _candidates(self) -> list[str]:
        """The columns this view would show before empty ones are left out."""
        shown = list(self.directions)
        if self.paper and not self.every:
            shown = [m for m in self.headline if m in self.directions] or shown
        return shown

    @property
    def empty(self) -> list[str]:
        """Metric columns no row of this table has a value in (e.g. IS without its network file)."""
        return [m for m in self.directions
                if all(c.value is None for r in self.records for c in [self._raw_cell(r, m)])]

    def flat(self, metric: str) -> str | None:
        """The one value every model row shows when a ranked column cannot separate the rows (two
        or more rows, all the same as printed), else None: such a column is flagged, not crowned."""
        if self.directions.get(metric) not in ("up", "down"):
            return None
        texts = {format_value(s.mean) for r in self.records if not is_reference(r)
                 for s in [stats(self.group(r), metric)] if s.mean is not None}
        rows = sum(stats(self.group(r), metric).mean is not None for r in self.records if not is_reference(r))
        return texts.pop() if rows > 1 and len(texts) == 1 else None

    def remarks(self) -> list[str]:
        """What a reader is told under the table: columns left out (and why), flagged columns."""
        return self.left_out() + self.flagged()

    def left_out(self) -> list[str]:
        """One line naming the columns no row has a value in and why (the first row's note)."""
        hidden = [m for m in self._candidates() if m in self.empty] if self.selected is None else []
        if not hidden:
            return []
        why = next((c.note for r in self.records for c in [self._raw_cell(r, hidden[0])] if c.note), "")
        return [f"{', '.join(hidden)} left out: no row has a value" + (f" ({why})" if why else "")]

    def flagged(self) -> list[str]:
        """A line for each shown column that cannot separate the rows (see :meth:`flat`)."""
        return [f"{metric} cannot separate these rows (every row reads {self.scaled_text(metric, value)}): not ranked"
                for metric in self.metrics if (value := self.flat(metric)) is not None]

    def in_percent(self, metric: str) -> bool:
        return self.paper and metric in self.percent

    def scaled_text(self, metric: str, text: str) -> str:
        return format_value(float(text), 100.0) if self.in_percent(metric) and is_number(text) else text

    def header(self, metric: str) -> str:
        arrow = ARROWS.get(self.directions[metric], "")
        unit = " (%)" if self.in_percent(metric) else ""
        return f"{metric}{unit} {arrow}".strip()

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

    def _raw_cell(self, record: RunRecord, metric: str) -> Cell:
        own = stats(self.group(record), metric)
        return _cell(record.metrics.get(metric) if own.mean is None else MetricValue(own.mean, "", {}), None)

    def _cell(self, record: RunRecord, metric: str) -> Cell:
        own = stats(self.group(record), metric)
        best = None if is_reference(record) or self.flat(metric) is not None else self._best(metric)
        cell = _cell(record.metrics.get(metric) if own.mean is None else MetricValue(own.mean, "", {}),
                     None if best is None else best.mean)
        if own.mean is None:
            return cell
        cell.stats = own
        scale = 100.0 if self.in_percent(metric) else 1.0
        if self.multi_seed:
            cell.text = format_stats(own, scale)
        elif scale != 1.0:
            cell.text = format_value(own.mean, scale)
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

    def for_paper(self) -> "Leaderboard":
        """The same tables as Markdown and LaTeX show them: headline columns, percent."""
        return dataclasses.replace(self, tables=[dataclasses.replace(b, paper=True) for b in self.tables])

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


def build_leaderboard(records: list[RunRecord], *, title: str = "", columns: list[str] | None = None,
                      headlines: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] | None = None) -> Leaderboard:
    """Pick the latest successful run per row, group them by protocol, and add each
    "real images" reference row to every table measured under its protocol. ``columns``
    (metric names, or ``["all"]``) limits and orders the metric columns; an unknown name is
    refused. ``headlines``: dataset -> (headline columns, percent columns), see
    :func:`benchmark.report.headline.dataset_headlines`."""
    shown, failed, groups = _select(records)
    tables: list[Board] = []
    models = [r for r in shown if not is_reference(r)]
    headlines = headlines or {}

    def new_board(record: RunRecord) -> Board:
        headline, percent = headlines.get(record.dataset, ((), ()))
        board = Board(record.dataset, record.protocol, headline=tuple(headline), percent=tuple(percent))
        tables.append(board)
        return board

    for record in sorted(models, key=lambda r: (r.dataset, r.label)):
        board = next((b for b in tables if b.accepts(record)), None) or new_board(record)
        board.add(record, groups.get(row_key(record)))
    for record in (r for r in shown if is_reference(r)):
        boards = [b for b in tables if b.accepts_reference(record)] or [new_board(record)]
        for board in boards:
            board.add(record)
    every = columns is not None and [c.strip().lower() for c in columns] == [ALL_COLUMNS]
    if every:
        columns = None
        for board in tables:
            board.every = True
    if columns is not None:
        _check_columns(columns, tables)
        for board in tables:
            board.selected = list(columns)
    return Leaderboard(tables, failed, title, [ALL_COLUMNS] if every else None if columns is None else list(columns))


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


def model_name(record: RunRecord) -> str:
    """A row's name as tables print it; the "real images" row says which split it is (the test
    photos) and which columns compare them with another split (FID against the train split)."""
    if is_reference(record):
        subset = (record.config or {}).get("run", {}).get("eval", {}).get("reference_images", "all") != "all"
        against: dict[str, list[str]] = {}
        for name, metric in record.metrics.items():
            split = metric.protocol.get("real_split") if metric.value is not None else None
            if split:
                count = metric.protocol.get("real_images") if subset and split == "train" else None
                where = f"the first {count} of the {split} split" if count else f"the {split} split"
                against.setdefault(where, []).append(name)
        versus = "".join(f"; {', '.join(names)} against {where}" for where, names in against.items())
        return f"{record.label} (test split{versus})"
    return f"{record.label} ({record.note})" if record.note else record.label


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
