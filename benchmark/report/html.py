"""The leaderboard as one self-contained HTML page (embedded sample grid and loss curves, no scripts).

Readable on a phone: a viewport meta tag, each table in its own horizontally
scrollable box (the page itself never scrolls sideways), long words such as
sha256 digests break, and the protocol sits in a collapsible block below its table.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from benchmark.report.leaderboard import (
    DASH,
    Board,
    Leaderboard,
    columns,
    failed_line,
    model_name,
    seed_lines,
    tail,
)
from benchmark.report.protocol import protocol_lines
from benchmark.report.samples import sample_grid
from benchmark.results.records import RunRecord
from benchmark.rundir.layout import RunDir

CSS = """
body { font-family: system-ui, sans-serif; margin: 1em auto; padding: 0 1em; max-width: 80em; color: #222;
       overflow-wrap: anywhere; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border-bottom: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th:first-child, td:first-child { position: sticky; left: 0; background: #fff; white-space: normal;
                                 min-width: 8em; max-width: 14em; }
details { margin: 0.5em 0 1.5em; }
details li, .notes, .skip { color: #555; font-size: 0.9em; }
summary { cursor: pointer; }
.split { background: #fff6d6; padding: 0.5em; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; max-width: 100%; }
img { max-width: 100%; height: auto; }
"""


def render_html(board_set: Leaderboard) -> str:
    title = board_set.title or "Leaderboard"
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
        f"<h1>{_h(title)}</h1>",
    ]
    if board_set.split_note:
        parts.append(f'<p class="split">Note: {_h(board_set.split_note)}.</p>')
    if not board_set.tables:
        parts.append("<p>No successful runs.</p>")
    parts += [_board(board, board_set.table_name(n)) for n, board in enumerate(board_set.tables, 1)]
    parts += _failed(board_set.failed)
    parts += _samples(board_set.shown)
    parts += _loss_curves(board_set.shown)
    parts += _eval_curves(board_set.shown)
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _h(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _board(board: Board, name: str) -> str:
    numbers = board.notes()
    head = "".join(f"<th>{_h(c)}</th>" for c in columns(board))
    body = "\n".join(_row(board, record, numbers) for record in board.records)
    notes = "".join(f"<li>{_h(note)}</li>" for note in numbers)
    protocol = "".join(f"<li>{_h(line)}</li>" for line in protocol_lines(board))
    return (
        f"<section>\n<h2>{_h(name)}</h2>\n"
        f'<div class="scroll" role="region" aria-label="{_h(name)} table" tabindex="0">\n'
        f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>\n</div>\n"
        + (f'<ol class="notes">{notes}</ol>\n' if notes else "")
        + "".join(f'<p class="notes">{_h(line)}</p>\n' for line in seed_lines(board) + board.remarks())
        + f'<details class="protocol">\n<summary>Protocol</summary>\n<ul>{protocol}</ul>\n</details>\n'
        + "</section>"
    )


def _row(board: Board, record: RunRecord, numbers: dict[str, int]) -> str:
    cells = [f"<td>{_h(model_name(record))}</td>", f"<td>{_h(record.input_kind)}</td>"]
    for cell in board.cells(record):
        if cell.note:
            text = f"{DASH}<sup>{numbers[cell.note]}</sup>"
        else:
            text = (f"<strong>{_h(cell.text)}</strong>" if cell.best else
                    f'<em title="tied with the best">{_h(cell.text)}</em>' if cell.tied else _h(cell.text))
        cells.append(f'<td class="num">{text}</td>')
    profile, seed, run = tail(record, board)
    cells += [f"<td>{_h(profile)}</td>", f'<td class="num">{_h(seed)}</td>', f'<td class="num">{_h(run)}</td>']
    return f"<tr>{''.join(cells)}</tr>"


def _failed(failed: list[RunRecord]) -> list[str]:
    if not failed:
        return []
    items = "".join(f"<li>{_h(failed_line(r))}</li>" for r in failed)
    return [f"<section>\n<h2>Failed runs (not ranked)</h2>\n<ul>{items}</ul>\n</section>"]


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _samples(shown: list[RunRecord]) -> list[str]:
    parts = ["<section>", "<h2>Samples</h2>"]
    for dataset in sorted({r.dataset for r in shown}):
        group = [r for r in shown if r.dataset == dataset]
        png, note = sample_grid(group)
        names = ", ".join(["label", "real"] + [r.label for r in group])
        if png is None:
            parts.append(f'<p class="skip">{_h(note)}</p>')
        else:
            parts.append(
                f'<figure><img alt="sample grid, {_h(dataset)}" src="{_data_uri(png)}">'
                f"<figcaption>{_h(dataset)}: columns {_h(names)}</figcaption></figure>"
            )
    if len(parts) == 2:
        parts.append('<p class="skip">No successful runs, so no samples.</p>')
    return parts + ["</section>"]


def _loss_curves(shown: list[RunRecord]) -> list[str]:
    return _curves(shown, "loss_curve", "loss curve", "Loss curves", "No loss curves were recorded for these runs.")


def _eval_curves(shown: list[RunRecord]) -> list[str]:
    """The metric-vs-step curves of runs trained with ``eval_every`` (no section when none was)."""
    return _curves(shown, "eval_curve", "metrics during training", "Metrics during training", None)


def _curves(shown: list[RunRecord], attribute: str, alt: str, title: str, none: str | None) -> list[str]:
    figures = []
    for record in shown:
        path = getattr(RunDir(Path(record.run_dir)), attribute)
        if path.is_file():
            best = (record.config or {}).get("during_training", {}).get("keep_best") if attribute == "eval_curve" \
                else None
            note = f"; best {best['column']} at step {best['step']}" if best and best.get("step") is not None else ""
            figures.append(
                f'<figure><img alt="{alt} of {_h(record.label)}" src="{_data_uri(path.read_bytes())}">'
                f"<figcaption>{_h(record.label)} ({_h(record.dataset)}){_h(note)}</figcaption></figure>"
            )
    if not figures:
        if none is None:
            return []
        figures = [f'<p class="skip">{none}</p>']
    return ["<section>", f"<h2>{title}</h2>", *figures, "</section>"]
