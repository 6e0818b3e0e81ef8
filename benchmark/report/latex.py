"""The leaderboard as LaTeX tables that compile in a one- or two-column paper without edits.

Needs ``booktabs`` and ``graphicx`` only (no siunitx): every number is split at its
decimal point into an ``r@{}l`` column pair, so a column lines up on the point
whatever its decimals. The best value of a column is bold. A table wider than
``\\linewidth`` is scaled down to it (never up). Each table has a ``\\label``
(``tab:leaderboard-<dataset>``); the protocol is a short note below it (the full
protocol is in leaderboard.json / leaderboard.md). Profile, seed and run ids are
left out. Default columns: the ranked metrics (direction up or down); choose
others with ``bench report --format tex --columns FID,mIoU``.
"""

from __future__ import annotations

import re

from benchmark.report.leaderboard import (
    Board,
    Cell,
    Leaderboard,
    failed_line,
    model_name,
    seed_lines,
    short_protocol,
)
from benchmark.results.records import RunRecord

BOX = "\\benchtablebox"
_ESCAPES = {
    "\\": "\\textbackslash{}", "&": "\\&", "%": "\\%", "$": "\\$", "#": "\\#", "_": "\\_",
    "{": "\\{", "}": "\\}", "~": "\\textasciitilde{}", "^": "\\textasciicircum{}",
    "<": "\\textless{}", ">": "\\textgreater{}", "—": "---", "↑": "$\\uparrow$", "↓": "$\\downarrow$", "±": "$\\pm$",
}
# scale the table down to the column when it is wider, never up
FIT = f"\\ifdim\\wd{BOX}>\\linewidth\\resizebox{{\\linewidth}}{{!}}{{\\usebox{{{BOX}}}}}\\else\\usebox{{{BOX}}}\\fi"
_ARROWS = {"up": " $\\uparrow$", "down": " $\\downarrow$"}


def render_tex(board_set: Leaderboard) -> str:
    lines = [
        "% bench leaderboard: needs \\usepackage{booktabs} and \\usepackage{graphicx} (no siunitx).",
        "% Numbers align on the decimal point (r@{}l column pairs); best values are bold;",
        "% a table wider than the column is scaled down to \\linewidth.",
        "% Choose the metric columns with: bench report --format tex --columns NAME,NAME",
    ]
    if board_set.split_note:
        lines.append(f"% Note: {board_set.split_note}.")
    for number, board in enumerate(board_set.tables, start=1):
        lines += _table(board, board_set, number)
    lines += [f"% {escape(failed_line(r))}" for r in board_set.failed]
    return "\n".join(lines) + "\n"


def tex_metrics(board: Board, board_set: Leaderboard) -> list[str]:
    """The metric columns of a table: those asked for, or every ranked one."""
    if board_set.columns is not None:
        return board.metrics
    return [m for m in board.metrics if board.directions[m] in ("up", "down")]


def _table(board: Board, board_set: Leaderboard, number: int) -> list[str]:
    metrics = tex_metrics(board, board_set)
    with_input = len({r.input_kind for r in board.records}) > 1
    notes: dict[str, int] = {}
    rows = [_row(board, record, metrics, with_input, notes) for record in board.records]
    spec = "l" + ("l" if with_input else "") + "r@{}l" * len(metrics)
    header = ["Model"] + (["Input"] if with_input else [])
    header += [f"\\multicolumn{{2}}{{c}}{{{escape(m)}{_ARROWS.get(board.directions[m], '')}}}" for m in metrics]
    title = board_set.title or "Leaderboard"
    suffix = f"-{number}" if len(board_set.tables) > 1 else ""
    note = f"Protocol: {escape(short_protocol(board))}. Full protocol: leaderboard.json or leaderboard.md."
    note += "".join(f" $^{{{n}}}${escape(text)}." for text, n in notes.items())
    note += "".join(f" {escape(line)}." for line in seed_lines(board))
    note += " Bold: best; underlined: tied with the best." if board.multi_seed else ""
    hidden = [m for m in board.metrics if m not in metrics]
    return [
        *([f"% not shown: {', '.join(hidden)} (pass --columns to include)"] if hidden else []),
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{{escape(title)} ({escape(board_set.table_name(number))})}}",
        f"\\label{{tab:leaderboard-{_label(board.dataset)}{suffix}}}",
        f"\\ifdefined{BOX}\\else\\newsavebox{{{BOX}}}\\fi",
        f"\\sbox{{{BOX}}}{{%",
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
        " & ".join(header) + " \\\\",
        "\\midrule",
        *rows,
        "\\bottomrule",
        "\\end{tabular}}%",
        FIT,
        "\\par\\smallskip",
        f"{{\\footnotesize {note}\\par}}",
        "\\end{table}",
    ]


def _row(board: Board, record: RunRecord, metrics: list[str], with_input: bool, notes: dict[str, int]) -> str:
    cells = [escape(model_name(record))] + ([escape(record.input_kind)] if with_input else [])
    for cell in board.cells(record, metrics):
        cells.append(_number(cell, notes))
    return " & ".join(cells) + " \\\\"


def _number(cell: Cell, notes: dict[str, int]) -> str:
    """Two cells: the integer part (right-aligned) and the point with the decimals (left-aligned)."""
    if cell.value is None:
        mark = ""
        if cell.note:
            mark = f"$^{{{notes.setdefault(cell.note, len(notes) + 1)}}}$"
        return f"\\multicolumn{{2}}{{c}}{{---{mark}}}"
    whole, point, decimals = cell.text.partition(".")
    if not point:  # inf, nan
        return f"\\multicolumn{{2}}{{c}}{{{escape(cell.text)}}}"
    whole, decimals = whole.replace("-", "$-$"), escape(decimals)
    if cell.best:
        return f"\\textbf{{{whole}}} & \\textbf{{.{decimals}}}"
    if cell.tied:
        return f"\\underline{{{whole}}} & \\underline{{.{decimals}}}"
    return f"{whole} & .{decimals}"


def escape(text: str) -> str:
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def _label(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]+", "-", text).strip("-") or "table"
