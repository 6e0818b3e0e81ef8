"""Leaderboards: the latest successful run of every label, one column per metric.

Rows are only ranked against rows measured the same way. Every shown row is
placed in a table whose dataset, run-level protocol and per-metric protocols
(and metric directions) agree with its own; rows that disagree get a table of
their own, and the output says so. The best value of each metric column is
marked within its table only: bold in md/tex/html/console, a separate boolean in
csv/json.

Formats: ``md``, ``csv``, ``json``, ``tex``, ``html`` (one self-contained file
with embedded sample grid and loss curves) and a rich console view.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tabulate import tabulate

from benchmark.errors import BenchError
from benchmark.records import MetricValue, RunRecord, is_reference, newest_key, row_key

FORMATS = ("md", "csv", "json", "tex", "html")
DASH = "—"
ARROWS = {"up": "↑", "down": "↓"}
SPLIT_NOTE = (
    "rows measured under different protocols are shown in separate tables "
    "and not ranked against each other"
)
NOT_EVALUATED = "not evaluated for this run"
GRID_ROWS = 6
GRID_TILE = 128
TAIL_COLUMNS = ("Profile", "Seed", "Run")
_MISSING = object()


# -- building the tables -----------------------------------------------------------


@dataclass
class Cell:
    """One metric value of one row, formatted."""

    value: float | None
    text: str  # the number, or the dash when missing
    best: bool = False
    note: str = ""  # why the value is missing


@dataclass
class Board:
    """Rows that share a dataset and protocol, and so may be ranked together."""

    dataset: str
    protocol: dict
    directions: dict[str, str] = field(default_factory=dict)  # metric -> direction, first-seen order
    metric_protocols: dict[str, dict] = field(default_factory=dict)
    records: list[RunRecord] = field(default_factory=list)

    @property
    def metrics(self) -> list[str]:
        return list(self.directions)

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

    def add(self, record: RunRecord) -> None:
        for name, metric in record.metrics.items():
            self.directions.setdefault(name, metric.direction)
            if metric.value is not None and not is_reference(record):
                self.metric_protocols.setdefault(name, metric.protocol)
        if is_reference(record):  # the reference row comes first and is never ranked
            self.records.insert(sum(is_reference(r) for r in self.records), record)
        else:
            self.records.append(record)

    def accepts_reference(self, record: RunRecord) -> bool:
        """A reference row joins every table measured on its dataset under its run protocol."""
        return record.dataset == self.dataset and record.protocol == self.protocol

    def cells(self, record: RunRecord) -> list[Cell]:
        """The row's metric cells, in column order, with the best ones marked (never in a reference row)."""
        best = {name: None if is_reference(record) else self._best_value(name) for name in self.metrics}
        return [_cell(record.metrics.get(name), best[name]) for name in self.metrics]

    def notes(self) -> dict[str, int]:
        """Footnote number of every distinct missing-value note, in reading order."""
        numbers: dict[str, int] = {}
        for record in self.records:
            for cell in self.cells(record):
                if cell.note and cell.note not in numbers:
                    numbers[cell.note] = len(numbers) + 1
        return numbers

    def _best_value(self, metric: str) -> float | None:
        pick = {"up": max, "down": min}.get(self.directions[metric])
        values = [_finite(r.metrics.get(metric)) for r in self.records if not is_reference(r)]
        values = [v for v in values if v is not None]
        return pick(values) if pick and values else None


@dataclass
class Leaderboard:
    tables: list[Board]
    failed: list[RunRecord]
    title: str = ""

    @property
    def split_note(self) -> str:
        return SPLIT_NOTE if len(self.tables) > 1 else ""

    @property
    def shown(self) -> list[RunRecord]:
        """The model rows shown (reference rows excluded: they have no generated images)."""
        return [r for board in self.tables for r in board.records if not is_reference(r)]


def build_leaderboard(records: list[RunRecord], *, title: str = "") -> Leaderboard:
    """Pick the latest successful run per row, group them by protocol, and add each
    "real images" reference row to every table measured under its protocol."""
    shown, failed = _select(records)
    tables: list[Board] = []
    models = [r for r in shown if not is_reference(r)]
    for record in sorted(models, key=lambda r: (r.dataset, r.label)):
        board = next((b for b in tables if b.accepts(record)), None)
        if board is None:
            board = Board(record.dataset, record.protocol)
            tables.append(board)
        board.add(record)
    for record in (r for r in shown if is_reference(r)):
        boards = [b for b in tables if b.accepts_reference(record)]
        if not boards:
            boards = [Board(record.dataset, record.protocol)]
            tables.append(boards[0])
        for board in boards:
            board.add(record)
    return Leaderboard(tables, failed, title)


def _select(records: list[RunRecord]) -> tuple[list[RunRecord], list[RunRecord]]:
    """Latest ok run per row (see ``row_key``); failed runs newer than that (or with no ok run)."""
    ok: dict[tuple, RunRecord] = {}
    failed: dict[tuple, RunRecord] = {}
    for record in records:
        bucket = ok if record.status == "ok" else failed
        key = row_key(record)
        if key not in bucket or newest_key(record) > newest_key(bucket[key]):
            bucket[key] = record
    still_failing = [
        r for key, r in failed.items() if key not in ok or newest_key(r) > newest_key(ok[key])
    ]
    return list(ok.values()), sorted(still_failing, key=lambda r: (r.dataset, r.label))


def _finite(metric: MetricValue | None) -> float | None:
    if metric is None or metric.value is None or not math.isfinite(metric.value):
        return None
    return float(metric.value)


def _cell(metric: MetricValue | None, best: float | None) -> Cell:
    if metric is None:
        return Cell(None, DASH, note=NOT_EVALUATED)
    if metric.value is None:
        return Cell(None, DASH, note=metric.note)
    value = float(metric.value)
    return Cell(value, format_value(value), best=best is not None and value == best)


def format_value(value: float | None) -> str:
    """|v| >= 10: two decimals (PSNR 27.13); otherwise four (SSIM 0.8123)."""
    if value is None:
        return DASH
    if not math.isfinite(value):
        return str(value)
    return f"{value:.2f}" if abs(value) >= 10 else f"{value:.4f}"


def model_name(record: RunRecord) -> str:
    return f"{record.label} ({record.note})" if record.note else record.label


def protocol_text(board: Board) -> str:
    """E.g. "dataset facades; images=106, resolution=64; PSNR: window=gaussian 11/1.5"."""
    parts = [f"dataset {board.dataset}", _pairs(board.protocol) or "run protocol not recorded"]
    columns_of: dict[str, list[str]] = {}  # columns of one metric share its protocol: say it once
    for name in board.metrics:
        own = {
            k: v for k, v in board.metric_protocols.get(name, {}).items()
            if board.protocol.get(k, _MISSING) != v
        }
        if own:
            columns_of.setdefault(_pairs(own), []).append(name)
    parts += [f"{', '.join(names)}: {text}" for text, names in columns_of.items()]
    return "; ".join(parts)


def _pairs(mapping: dict) -> str:
    return ", ".join(f"{k}={_plain(v)}" for k, v in mapping.items())


def _plain(value: Any) -> str:
    return json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)


def _table_name(board_set: Leaderboard, number: int) -> str:
    board = board_set.tables[number - 1]
    count = len(board_set.tables)
    return f"{board.dataset} (table {number} of {count})" if count > 1 else board.dataset


def failed_line(record: RunRecord) -> str:
    reason = record.reason or "no reason recorded"
    run = f"run {record.id}, " if record.id is not None else ""
    return f"failed: {record.label} {DASH} {reason} ({run}{record.dataset})"


def _columns(board: Board) -> list[str]:
    return ["Model", "Input"] + [board.header(m) for m in board.metrics] + list(TAIL_COLUMNS)


def _tail(record: RunRecord) -> list[Any]:
    return [record.profile, record.seed, "" if record.id is None else record.id]


# -- text formats ------------------------------------------------------------------


def render(records: list[RunRecord], fmt: str, *, title: str = "") -> str:
    """The leaderboard of ``records`` as md, csv, json, tex or html text."""
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise BenchError(f"unknown leaderboard format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    return renderer(build_leaderboard(records, title=title))


def _render_md(board_set: Leaderboard) -> str:
    lines = [f"# {board_set.title}", ""] if board_set.title else []
    if board_set.split_note:
        lines += [f"> Note: {board_set.split_note}.", ""]
    if not board_set.tables:
        lines += ["_No successful runs._", ""]
    for number, board in enumerate(board_set.tables, start=1):
        lines += [f"**{_table_name(board_set, number)}** {DASH} protocol: {_md_escape(protocol_text(board))}",
                  "", _md_table(board), ""]
        lines += [f"[{n}] {_md_escape(note)}  " for note, n in board.notes().items()]
        lines += [""] if board.notes() else []
    if board_set.failed:
        lines += ["Failed runs (not ranked):", ""]
        lines += [f"- {_md_escape(failed_line(r))}" for r in board_set.failed] + [""]
    return "\n".join(lines).rstrip() + "\n"


def _md_table(board: Board) -> str:
    numbers = board.notes()
    rows = []
    for record in board.records:
        metric_cells = [_md_cell(c, numbers) for c in board.cells(record)]
        fixed = [_md_escape(model_name(record)), _md_escape(record.input_kind)]
        rows.append(fixed + metric_cells + [str(v) for v in _tail(record)])
    align = ["left", "left"] + ["right"] * len(board.metrics) + ["left", "right", "right"]
    return tabulate(rows, headers=_columns(board), tablefmt="github",
                    disable_numparse=True, colalign=align)


def _md_cell(cell: Cell, numbers: dict[str, int]) -> str:
    if cell.note:
        return f"{DASH} [{numbers[cell.note]}]"
    return f"**{cell.text}**" if cell.best else cell.text


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _render_csv(board_set: Leaderboard) -> str:
    metrics = _all_metric_headers(board_set)
    header = ["Table", "Dataset", "Protocol", "Model", "Input"]
    for column in metrics:
        header += [column, f"{column} best"]
    header += list(TAIL_COLUMNS) + ["Notes"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for number, board in enumerate(board_set.tables, start=1):
        for record in board.records:
            writer.writerow(_csv_row(number, board, record, metrics))
    return buffer.getvalue()


def _csv_row(number: int, board: Board, record: RunRecord, metrics: list[str]) -> list[Any]:
    cells = dict(zip((board.header(m) for m in board.metrics), board.cells(record)))
    row: list[Any] = [number, board.dataset, protocol_text(board), model_name(record), record.input_kind]
    for column in metrics:
        cell = cells.get(column)
        row += ["", ""] if cell is None or cell.value is None else [repr(cell.value), str(cell.best).lower()]
    notes = [f"{column}: {cell.note}" for column, cell in cells.items() if cell.note]
    return row + _tail(record) + ["; ".join(notes)]


def _all_metric_headers(board_set: Leaderboard) -> list[str]:
    seen: dict[str, None] = {}
    for board in board_set.tables:
        seen.update((board.header(m), None) for m in board.metrics)
    return list(seen)


def _render_json(board_set: Leaderboard) -> str:
    data = {
        "title": board_set.title,
        "note": board_set.split_note,
        "tables": [_json_table(board) for board in board_set.tables],
        "failed": [_json_failed(r) for r in board_set.failed],
    }
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def _json_table(board: Board) -> dict:
    return {
        "dataset": board.dataset,
        "protocol": {"run": board.protocol, "metrics": board.metric_protocols},
        "protocol_text": protocol_text(board),
        "columns": _columns(board),
        "metrics": [
            {"name": m, "direction": board.directions[m], "column": board.header(m)}
            for m in board.metrics
        ],
        "rows": [_json_row(board, record) for record in board.records],
    }


def _json_row(board: Board, record: RunRecord) -> dict:
    row: dict[str, Any] = {"Model": model_name(record), "Input": record.input_kind}
    best, notes = [], {}
    for metric, cell in zip(board.metrics, board.cells(record)):
        column = board.header(metric)
        finite = cell.value is not None and math.isfinite(cell.value)
        row[column] = cell.value if finite else None
        if cell.best:
            best.append(column)
        if cell.note or (cell.value is not None and not finite):
            notes[column] = cell.note or f"value was {cell.value}"
    row.update(zip(list(TAIL_COLUMNS), _tail(record)))
    row["Run"] = record.id
    row.update(best=best, notes=notes, label=record.label, run_dir=record.run_dir)
    return row


def _json_failed(record: RunRecord) -> dict:
    return {"label": record.label, "dataset": record.dataset, "run": record.id,
            "reason": record.reason, "run_dir": record.run_dir}


# -- LaTeX -------------------------------------------------------------------------

# Control characters survive tabulate's escaping and become raw LaTeX afterwards.
_TEX_TOKENS = {
    "\x02": "\\textbf{", "\x03": "}", "\x04": "$\\uparrow$", "\x05": "$\\downarrow$",
}
_TEX_ESCAPES = {
    "\\": "\\textbackslash{}", "&": "\\&", "%": "\\%", "$": "\\$", "#": "\\#", "_": "\\_",
    "{": "\\{", "}": "\\}", "~": "\\textasciitilde{}", "^": "\\textasciicircum{}",
    "<": "\\textless{}", ">": "\\textgreater{}", DASH: "---", "↑": "$\\uparrow$",
    "↓": "$\\downarrow$",
}


def _render_tex(board_set: Leaderboard) -> str:
    lines = ["% requires \\usepackage{booktabs}"]
    if board_set.split_note:
        lines.append(f"% Note: {board_set.split_note}.")
    for board in board_set.tables:
        lines += _tex_table(board, board_set.title)
    lines += [f"% {_tex_escape(failed_line(r))}" for r in board_set.failed]
    return "\n".join(lines) + "\n"


def _tex_table(board: Board, title: str) -> list[str]:
    headers = ["Model", "Input"] + [_tex_header(board, m) for m in board.metrics] + list(TAIL_COLUMNS)
    rows = []
    for record in board.records:
        metric_cells = [_tex_cell(c) for c in board.cells(record)]
        rows.append([model_name(record), record.input_kind] + metric_cells + [str(v) for v in _tail(record)])
    body = tabulate(rows, headers=headers, tablefmt="latex_booktabs", disable_numparse=True)
    for token, latex in _TEX_TOKENS.items():
        body = body.replace(token, latex)
    caption = f"{title} ({board.dataset})" if title else f"Leaderboard ({board.dataset})"
    return [
        "\\begin{table}[t]", "\\centering", f"\\caption{{{_tex_escape(caption)}}}", body,
        f"\\par\\smallskip{{\\footnotesize Protocol: {_tex_escape(protocol_text(board))}}}",
        "\\end{table}",
    ]


def _tex_header(board: Board, metric: str) -> str:
    token = {"up": "\x04", "down": "\x05"}.get(board.directions[metric], "")
    return f"{metric} {token}".strip()


def _tex_cell(cell: Cell) -> str:
    if cell.value is None:
        return "---"
    return f"\x02{cell.text}\x03" if cell.best else cell.text


def _tex_escape(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in text)


# -- HTML --------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border-bottom: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.protocol, .notes, .skip { color: #555; font-size: 0.9em; }
.split { background: #fff6d6; padding: 0.5em; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; }
img { max-width: 100%; }
"""


def _render_html(board_set: Leaderboard) -> str:
    title = board_set.title or "Leaderboard"
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{_h(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        f"<h1>{_h(title)}</h1>",
    ]
    if board_set.split_note:
        parts.append(f'<p class="split">Note: {_h(board_set.split_note)}.</p>')
    if not board_set.tables:
        parts.append("<p>No successful runs.</p>")
    parts += [_html_board(board, _table_name(board_set, n)) for n, board in enumerate(board_set.tables, 1)]
    parts += _html_failed(board_set.failed)
    parts += _html_samples(board_set.shown)
    parts += _html_loss_curves(board_set.shown)
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _h(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _html_board(board: Board, name: str) -> str:
    numbers = board.notes()
    head = "".join(f"<th>{_h(c)}</th>" for c in _columns(board))
    body = "\n".join(_html_row(board, record, numbers) for record in board.records)
    notes = "".join(f"<li>{_h(note)}</li>" for note in numbers)
    return (
        f"<section>\n<h2>{_h(name)}</h2>\n"
        f'<p class="protocol">Protocol: {_h(protocol_text(board))}</p>\n'
        f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>\n"
        + (f'<ol class="notes">{notes}</ol>\n' if notes else "")
        + "</section>"
    )


def _html_row(board: Board, record: RunRecord, numbers: dict[str, int]) -> str:
    cells = [f"<td>{_h(model_name(record))}</td>", f"<td>{_h(record.input_kind)}</td>"]
    for cell in board.cells(record):
        if cell.note:
            text = f"{DASH}<sup>{numbers[cell.note]}</sup>"
        else:
            text = f"<strong>{_h(cell.text)}</strong>" if cell.best else _h(cell.text)
        cells.append(f'<td class="num">{text}</td>')
    profile, seed, run = _tail(record)
    cells += [f"<td>{_h(profile)}</td>", f'<td class="num">{_h(seed)}</td>', f'<td class="num">{_h(run)}</td>']
    return f"<tr>{''.join(cells)}</tr>"


def _html_failed(failed: list[RunRecord]) -> list[str]:
    if not failed:
        return []
    items = "".join(f"<li>{_h(failed_line(r))}</li>" for r in failed)
    return [f"<section>\n<h2>Failed runs (not ranked)</h2>\n<ul>{items}</ul>\n</section>"]


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _html_samples(shown: list[RunRecord]) -> list[str]:
    parts = ["<section>", "<h2>Samples</h2>"]
    for dataset in sorted({r.dataset for r in shown}):
        group = [r for r in shown if r.dataset == dataset]
        png, note = sample_grid(group)
        columns = ", ".join(["label", "real"] + [r.label for r in group])
        if png is None:
            parts.append(f'<p class="skip">{_h(note)}</p>')
        else:
            parts.append(
                f'<figure><img alt="sample grid, {_h(dataset)}" src="{_data_uri(png)}">'
                f"<figcaption>{_h(dataset)}: columns {_h(columns)}</figcaption></figure>"
            )
    if len(parts) == 2:
        parts.append('<p class="skip">No successful runs, so no samples.</p>')
    return parts + ["</section>"]


def _html_loss_curves(shown: list[RunRecord]) -> list[str]:
    figures = []
    for record in shown:
        path = Path(record.run_dir) / "loss_curve.png"
        if path.is_file():
            figures.append(
                f'<figure><img alt="loss curve of {_h(record.label)}" src="{_data_uri(path.read_bytes())}">'
                f"<figcaption>{_h(record.label)} ({_h(record.dataset)})</figcaption></figure>"
            )
    if not figures:
        figures = ['<p class="skip">No loss curves were recorded for these runs.</p>']
    return ["<section>", "<h2>Loss curves</h2>", *figures, "</section>"]


# -- sample grid -------------------------------------------------------------------


def sample_grid(records: list[RunRecord], max_rows: int = GRID_ROWS,
                tile: int = GRID_TILE) -> tuple[bytes | None, str]:
    """PNG bytes of a grid (rows: test images; columns: label | real | each run), or (None, why)."""
    if not records:
        return None, "sample grid skipped: no runs to show"
    folders = _grid_folders(records)
    missing = list(dict.fromkeys(str(f) for f in folders if not f.is_dir()))
    if missing:
        return None, f"sample grid skipped: missing image folder(s) {', '.join(missing)}"
    stems = set.intersection(*({p.stem for p in f.glob("*.png")} for f in folders))
    if not stems:
        return None, "sample grid skipped: no test image is present in every run's images folders"
    headers = ["label", "real"] + [r.label for r in records]
    rows = [_grid_row(folders, stem) for stem in sorted(stems)[:max_rows]]
    return _compose(headers, rows, tile), ""


def _grid_folders(records: list[RunRecord]) -> list[Path]:
    first = Path(records[0].run_dir) / "images"
    return [first / "label", first / "real"] + [Path(r.run_dir) / "images" / "fake" for r in records]


def _grid_row(folders: list[Path], stem: str) -> list:
    from PIL import Image

    row = []
    for index, folder in enumerate(folders):
        with Image.open(folder / f"{stem}.png") as im:
            im.load()
            row.append(_label_to_rgb(im) if index == 0 else im.convert("RGB"))
    return row


def _label_to_rgb(im):
    """Label maps stored as small class ids (mode L/I) are false-coloured so they are visible."""
    import numpy as np
    from PIL import Image

    if im.mode not in ("L", "I", "I;16"):
        return im.convert("RGB")
    ids = np.asarray(im).astype(np.int64)
    if ids.max(initial=0) > 64:  # already an image (e.g. a sketch), not class ids
        return im.convert("RGB")
    palette = _palette(int(ids.max(initial=0)) + 1)
    return Image.fromarray(palette[ids])


def _palette(count: int):
    """Distinct, deterministic colours: hues spread by the golden ratio."""
    import colorsys

    import numpy as np

    colours = [colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.65, 0.95) for i in range(count)]
    return (np.asarray(colours) * 255).round().astype(np.uint8)


def _compose(headers: list[str], rows: list[list], tile: int) -> bytes:
    from PIL import Image, ImageDraw

    gap, header_h = 2, 16
    width = len(headers) * (tile + gap) + gap
    height = header_h + len(rows) * (tile + gap) + gap
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    max_chars = max(1, tile // 6)
    for col, text in enumerate(headers):
        draw.text((gap + col * (tile + gap), 2), text[:max_chars], fill="black")
    for r, row in enumerate(rows):
        for col, image in enumerate(row):
            resample = Image.NEAREST if col == 0 else Image.BICUBIC
            canvas.paste(image.resize((tile, tile), resample),
                         (gap + col * (tile + gap), header_h + gap + r * (tile + gap)))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


# -- console and files -------------------------------------------------------------


def print_console(records: list[RunRecord], console, *, title: str = "") -> None:
    """The leaderboard as rich tables, best values in bold."""
    from rich.table import Table
    from rich.text import Text

    board_set = build_leaderboard(records, title=title)
    if board_set.split_note:
        console.print(Text(f"Note: {board_set.split_note}.", style="yellow"))
    if not board_set.tables:
        console.print(Text("No successful runs."))
    for number, board in enumerate(board_set.tables, start=1):
        name = _table_name(board_set, number)
        heading = f"{title} {DASH} {name}" if title else name
        table = Table(title=Text(heading), caption=Text(f"Protocol: {protocol_text(board)}"))
        for column in _columns(board):
            numeric = column not in ("Model", "Input", "Profile")
            table.add_column(Text(column), justify="right" if numeric else "left")
        numbers = board.notes()
        for record in board.records:
            table.add_row(*_console_row(board, record, numbers))
        console.print(table)
        for note, number in numbers.items():
            console.print(Text(f"[{number}] {note}", style="dim"))
    for record in board_set.failed:
        console.print(Text(failed_line(record), style="red"))


def _console_row(board: Board, record: RunRecord, numbers: dict[str, int]) -> list:
    from rich.text import Text

    cells = [Text(model_name(record)), Text(record.input_kind)]
    for cell in board.cells(record):
        if cell.note:
            cells.append(Text(f"{DASH} [{numbers[cell.note]}]"))
        else:
            cells.append(Text(cell.text, style="bold green" if cell.best else ""))
    return cells + [Text(str(v)) for v in _tail(record)]


def write_leaderboards(records: list[RunRecord], out_dir: Path,
                       formats: tuple[str, ...] = ("md", "csv", "json"), *,
                       title: str = "") -> list[Path]:
    """Write ``out_dir/leaderboard.<fmt>`` for every format, each file replaced atomically."""
    unknown = [f for f in formats if f not in _RENDERERS]
    if unknown:
        raise BenchError(
            f"unknown leaderboard format(s) {', '.join(map(repr, unknown))}; choose from: {', '.join(FORMATS)}"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    board_set = build_leaderboard(records, title=title)
    paths = []
    for fmt in formats:
        path = out_dir / f"leaderboard.{fmt}"
        _write_atomic(path, _RENDERERS[fmt](board_set))
        paths.append(path)
    return paths


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_RENDERERS: dict[str, Callable[[Leaderboard], str]] = {
    "md": _render_md, "csv": _render_csv, "json": _render_json,
    "tex": _render_tex, "html": _render_html,
}
