"""The leaderboard as Markdown: each table first, then its protocol one statement per line."""

from __future__ import annotations

from tabulate import tabulate

from benchmark.report.leaderboard import (
    DASH,
    Board,
    Cell,
    Leaderboard,
    columns,
    failed_line,
    model_name,
    seed_lines,
    tail,
)
from benchmark.report.protocol import protocol_lines


def render_md(board_set: Leaderboard) -> str:
    lines = [f"# {board_set.title}", ""] if board_set.title else []
    if board_set.split_note:
        lines += [f"> Note: {board_set.split_note}.", ""]
    if not board_set.tables:
        lines += ["_No successful runs._", ""]
    for number, board in enumerate(board_set.tables, start=1):
        lines += [f"## {_escape(board_set.table_name(number))}", "", _table(board), ""]
        notes = board.notes()
        lines += [f"[{n}] {_escape(note)}  " for note, n in notes.items()]
        lines += [f"{_escape(remark)}  " for remark in board.remarks()]
        lines += [""] if notes or board.remarks() else []
        if board.multi_seed:
            lines += [f"{_escape(line)}; **bold**: best, _italic_: tied with the best  " for line in seed_lines(board)[:1]]
            lines += [f"{_escape(line)}  " for line in seed_lines(board)[1:]] + [""]
        lines += ["Protocol:", ""] + [f"- {_escape(line)}" for line in protocol_lines(board)] + [""]
    if board_set.failed:
        lines += ["Failed runs (not ranked):", ""]
        lines += [f"- {_escape(failed_line(r))}" for r in board_set.failed] + [""]
    return "\n".join(lines).rstrip() + "\n"


def _table(board: Board) -> str:
    numbers = board.notes()
    rows = []
    for record in board.records:
        metric_cells = [_cell(c, numbers) for c in board.cells(record)]
        fixed = [_escape(model_name(record)), _escape(record.input_kind)]
        rows.append(fixed + metric_cells + [str(v) for v in tail(record, board)])
    align = ["left", "left"] + ["right"] * len(board.metrics) + ["left", "right", "right"]
    return tabulate(rows, headers=columns(board), tablefmt="github", disable_numparse=True, colalign=align)


def _cell(cell: Cell, numbers: dict[str, int]) -> str:
    if cell.note:
        return f"{DASH} [{numbers[cell.note]}]"
    return f"**{cell.text}**" if cell.best else f"_{cell.text}_" if cell.tied else cell.text


def _escape(text: str) -> str:
    return text.replace("|", "\\|")
