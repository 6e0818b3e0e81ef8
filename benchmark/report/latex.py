"""The leaderboard as LaTeX tables that compile in a one- or two-column paper without edits.

Needs ``booktabs`` and ``graphicx`` only (no siunitx): every number is split at its
decimal point into an ``r@{}l`` column pair, so a column lines up on the point
whatever its decimals. The best value of a column is bold. A table wider than
``\\linewidth`` is scaled down to it (never up). Each table has a ``\\label``
(``tab:leaderboard-<dataset>``); the protocol is a short note below it, at most three
lines (images and resolution, the FID implementation, the segmenter: what a reviewer
checks first; checksums, URLs and commands stay in leaderboard.json). Profile, seed and
run ids are left out. Default columns: the dataset's headline columns (else the ranked
metrics), fractions in percent where the dataset says so; ``--columns all`` or
``--columns FID,mIoU`` choose others.
"""

from __future__ import annotations

import re

from benchmark.report.leaderboard import Board, Cell, Leaderboard, failed_line, model_name, seed_lines
from benchmark.report.protocol import paper_protocol
from benchmark.results.records import RunRecord, is_reference

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
        "% Other metric columns: --columns NAME,NAME or --columns all; the full protocol is in leaderboard.json.",
    ]
    if board_set.split_note:
        lines.append(f"% Note: {board_set.split_note}.")
    for number, board in enumerate(board_set.tables, start=1):
        lines += _table(board, board_set, number)
    lines += [f"% {escape(failed_line(r))}" for r in board_set.failed]
    return "\n".join(lines) + "\n"


def tex_metrics(board: Board, board_set: Leaderboard) -> list[str]:
    """The metric columns of a table: those asked for, the dataset's headline ones, or every ranked one."""
    if board_set.columns is not None or any(m in board.directions for m in board.headline):
        return board.metrics
    return [m for m in board.metrics if board.directions[m] in ("up", "down")]


def _table(board: Board, board_set: Leaderboard, number: int) -> list[str]:
    metrics = tex_metrics(board, board_set)
    with_input = len({r.input_kind for r in board.records if not is_reference(r)}) > 1
    notes: dict[str, int] = {}
    rows = [_row(board, record, metrics, with_input, notes) for record in board.records]
    spec = "l" + ("l" if with_input else "") + "r@{}l" * len(metrics)
    header = ["Model"] + (["Input"] if with_input else [])
    header += [f"\\multicolumn{{2}}{{c}}{{{escape(m)}{escape(' (%)') if board.in_percent(m) else ''}"
               f"{_ARROWS.get(board.directions[m], '')}}}" for m in metrics]
    title = board_set.title or "Leaderboard"
    suffix = f"-{number}" if len(board_set.tables) > 1 else ""
    protocol = [escape(line) + "." for line in paper_protocol(board)]
    protocol[0] = "Protocol: " + protocol[0]
    extra = "".join(f" $^{{{n}}}${escape(text)}." for text, n in notes.items())
    extra += "".join(f" {escape(line)}." for line in seed_lines(board))
    extra += " Bold: best; underlined: tied with the best." if board.multi_seed else ""
    extra += "".join(f" {escape(line)}." for line in board.flagged())
    protocol[-1] += extra
    note = "\n".join(protocol)
    hidden = [m for m in board.all_metrics if m not in metrics and m not in board.empty]
    return [
        *([f"% not shown: {', '.join(hidden)} (--columns all includes them)"] if hidden else []),
        *[f"% {escape(line)}" for line in board.left_out()],
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
