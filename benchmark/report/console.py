"""The leaderboard on the console: rich tables in a terminal, full-width plain text otherwise.

When stdout is a pipe or a file, rich would squeeze the table into 80 columns and
cut names (``pix2…``); a program or a log wants every character, so the plain view
prints each table at its natural width, best values marked with ``*``.
"""

from __future__ import annotations

from tabulate import tabulate

from benchmark.report.leaderboard import (
    DASH,
    Board,
    Cell,
    Leaderboard,
    build_leaderboard,
    columns,
    failed_line,
    model_name,
    seed_lines,
    tail,
)
from benchmark.report.protocol import protocol_text
from benchmark.results.records import RunRecord

BEST_MARK = "*"
TIE_MARK = "~"


def print_console(records: list[RunRecord], console, *, title: str = "",
                  columns: list[str] | None = None) -> None:
    """The leaderboard as rich tables (best values bold) or, off a terminal, plain full-width text."""
    from benchmark.report.headline import dataset_headlines

    board_set = build_leaderboard(records, title=title, columns=columns,
                                  headlines=dataset_headlines(r.dataset for r in records))
    if console.is_terminal:
        _print_rich(board_set, console)
    else:
        console.out(plain_text(board_set).rstrip("\n"), highlight=False)


def plain_text(board_set: Leaderboard) -> str:
    lines = [f"Note: {board_set.split_note}.", ""] if board_set.split_note else []
    if not board_set.tables:
        lines += ["No successful runs.", ""]
    for number, board in enumerate(board_set.tables, start=1):
        lines += [_heading(board_set, number), ""]
        numbers = board.notes()
        rows = [_cells(board, record, numbers, rich=False) for record in board.records]
        align = ["left", "left"] + ["right"] * len(board.metrics) + ["left", "right", "right"]
        lines += [tabulate(rows, headers=columns(board), tablefmt="simple", disable_numparse=True,
                           colalign=align), ""]
        if any(c.best for r in board.records for c in board.cells(r)):
            lines.append(f"{BEST_MARK} best in its column")
        if any(c.tied for r in board.records for c in board.cells(r)):
            lines.append(f"{TIE_MARK} tied with the best")
        lines += seed_lines(board)
        lines += [f"[{n}] {note}" for note, n in numbers.items()]
        lines += board.remarks()
        lines += [f"Protocol: {protocol_text(board)}", ""]
    lines += [failed_line(r) for r in board_set.failed]
    return "\n".join(lines).rstrip() + "\n"


def _heading(board_set: Leaderboard, number: int) -> str:
    name = board_set.table_name(number)
    return f"{board_set.title} {DASH} {name}" if board_set.title else name


def _print_rich(board_set: Leaderboard, console) -> None:
    from rich.table import Table
    from rich.text import Text

    if board_set.split_note:
        console.print(Text(f"Note: {board_set.split_note}.", style="yellow"))
    if not board_set.tables:
        console.print(Text("No successful runs."))
    for number, board in enumerate(board_set.tables, start=1):
        table = Table(title=Text(_heading(board_set, number)), caption=Text(f"Protocol: {protocol_text(board)}"))
        for column in columns(board):
            numeric = column not in ("Model", "Input", "Profile")
            table.add_column(Text(column), justify="right" if numeric else "left")
        numbers = board.notes()
        for record in board.records:
            table.add_row(*_cells(board, record, numbers, rich=True))
        console.print(table)
        for note, n in numbers.items():
            console.print(Text(f"[{n}] {note}", style="dim"))
        for remark in board.remarks():
            console.print(Text(remark, style="dim"))
        for line in seed_lines(board):
            console.print(Text(line + ("; bold: best, underlined: tied with the best" if "tied" in line else ""),
                               style="dim"))
    for record in board_set.failed:
        console.print(Text(failed_line(record), style="red"))


def _cells(board: Board, record: RunRecord, numbers: dict[str, int], *, rich: bool) -> list:
    texts = [model_name(record), record.input_kind]
    texts += [_metric_text(cell, numbers, rich) for cell in board.cells(record)]
    texts += [str(v) for v in tail(record, board)]
    if not rich:
        return texts
    from rich.text import Text

    styles = [""] * 2 + ["bold green" if c.best else "underline" if c.tied else ""
                         for c in board.cells(record)] + [""] * 3
    return [Text(text, style=style) for text, style in zip(texts, styles)]


def _metric_text(cell: Cell, numbers: dict[str, int], rich: bool) -> str:
    if cell.note:
        return f"{DASH} [{numbers[cell.note]}]"
    if rich:
        return cell.text
    return cell.text + (BEST_MARK if cell.best else TIE_MARK if cell.tied else " ")  # the space keeps the digits of a column aligned
