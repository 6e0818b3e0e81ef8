"""Leaderboards: the latest successful run of every row, one column per metric.

One module per idea: ``leaderboard`` (choosing rows, grouping by protocol, ranking,
best marks), ``markdown``, ``data`` (JSON and CSV, see docs/leaderboard-schema.md),
``latex``, ``html`` (with ``samples``, the sample grid) and ``console``. This module
turns a format name into text and writes files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from benchmark.report.console import print_console
from benchmark.report.data import SCHEMA_VERSION, render_csv, render_json
from benchmark.report.headline import dataset_headlines
from benchmark.report.html import render_html
from benchmark.report.latex import render_tex
from benchmark.report.leaderboard import Leaderboard, build_leaderboard, format_value
from benchmark.report.protocol import protocol_text
from benchmark.report.markdown import render_md
from benchmark.report.samples import GRID_TILE, sample_grid
from benchmark.results.records import RunRecord
from benchmark.util.atomic import atomic_write
from benchmark.util.errors import BenchError

__all__ = [
    "FORMATS", "GRID_TILE", "SCHEMA_VERSION", "build_leaderboard", "format_value", "leaderboard_of",
    "print_console", "protocol_text", "render", "sample_grid", "write_leaderboards", "write_output",
]

RENDERERS: dict[str, Callable[[Leaderboard], str]] = {
    "md": render_md, "csv": render_csv, "json": render_json, "tex": render_tex, "html": render_html,
}
FORMATS = tuple(RENDERERS)
#: the formats that go into a paper: the dataset's headline columns, fractions in percent
PAPER_FORMATS = ("md", "tex")


def leaderboard_of(records: list[RunRecord], *, title: str = "", columns: list[str] | None = None) -> Leaderboard:
    """:func:`build_leaderboard` with the headline columns of the installed datasets."""
    return build_leaderboard(records, title=title, columns=columns,
                             headlines=dataset_headlines(r.dataset for r in records))


def render_board(board_set: Leaderboard, fmt: str) -> str:
    renderer = RENDERERS.get(fmt)
    if renderer is None:
        raise BenchError(f"unknown leaderboard format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    return renderer(board_set.for_paper() if fmt in PAPER_FORMATS else board_set)


def render(records: list[RunRecord], fmt: str, *, title: str = "", columns: list[str] | None = None) -> str:
    """The leaderboard of ``records`` as md, csv, json, tex or html text."""
    if fmt not in RENDERERS:
        raise BenchError(f"unknown leaderboard format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    return render_board(leaderboard_of(records, title=title, columns=columns), fmt)


def write_leaderboards(records: list[RunRecord], out_dir: Path,
                       formats: tuple[str, ...] = ("md", "csv", "json"), *,
                       title: str = "") -> list[Path]:
    """Write ``out_dir/leaderboard.<fmt>`` for every format, each file replaced atomically."""
    unknown = [f for f in formats if f not in RENDERERS]
    if unknown:
        raise BenchError(
            f"unknown leaderboard format(s) {', '.join(map(repr, unknown))}; choose from: {', '.join(FORMATS)}"
        )
    board_set = leaderboard_of(records, title=title)
    paths = []
    for fmt in formats:
        path = Path(out_dir) / f"leaderboard.{fmt}"
        with atomic_write(path, newline="") as fh:
            fh.write(render_board(board_set, fmt))
        paths.append(path)
    return paths


def write_output(path: Path, text: str, *, option: str = "-o") -> None:
    """Write ``bench report -o PATH``: a missing parent folder is created; a folder, or a parent
    that is a file, is refused with one line; the file is replaced atomically."""
    path = Path(path)
    if path.is_dir():
        raise BenchError(f"{option} {path}: is a folder; pass a file name, e.g. {option} {path / 'leaderboard.md'}")
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise BenchError(f"{option} {path}: {blocking} is a file, not a folder; pass a path under a folder")
    try:
        with atomic_write(path, newline="") as fh:
            fh.write(text)
    except PermissionError:
        raise BenchError(f"{option} {path}: permission denied; pass a path in a folder you can write") from None
