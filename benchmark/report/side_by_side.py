"""The table of `bench zoo reproduce`: each published number beside bench's measurement of the same
checkpoint under the same protocol, and the difference (measured - published).

One line per (measurement, column): the protocol's label and source, the settings bench measured
under, the published number, bench's, the difference, and a note (what the thread says of its
protocol, or why bench did not measure the column under it). Columns that a paper gives in percent
(``Measurement.percent``) are compared in percent. Written as Markdown, CSV and JSON in the dataset's
output folder (``reproduce-MODEL@TAG.md`` / ``.csv`` / ``.json``) and printed to the terminal.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmark.registry.zoo_entry import ZooEntry
from benchmark.results.records import RunRecord
from benchmark.planning.reproduction import Protocol
from benchmark.util.atomic import write_text

HEADER = ("protocol", "settings", "metric", "published", "measured", "difference", "note")


def comparison(entry: ZooEntry, results: list[tuple[Protocol, RunRecord | None]],
               column_owner: dict[str, str]) -> list[dict[str, Any]]:
    """The lines of the table for ``entry``'s measurements; ``column_owner`` maps a column to its metric plugin."""
    lines = []
    for protocol, record in results:
        for measurement in protocol.measurements:
            for column, published in measurement.values.items():
                scale = 100.0 if column in measurement.percent else 1.0
                owner = column_owner.get(column)
                value = None
                note = measurement.note
                if owner in protocol.unavailable:
                    note = f"not measured: {protocol.unavailable[owner]}"
                elif owner not in protocol.metrics:
                    note = "not measured: its metric was not run (--metrics)"
                elif record is None or column not in record.metrics:
                    note = f"not measured: {record.reason if record is not None else 'no run'}"
                else:
                    cell = record.metrics[column]
                    value = None if cell.value is None else cell.value * scale
                    if cell.value is None:
                        note = f"not measured: {cell.note}"
                lines.append({"protocol": measurement.label, "source": measurement.source,
                              "settings": protocol.text(), "metric": column, "published": published,
                              "measured": value, "difference": None if value is None else value - published,
                              "note": note, "status": record.status if record is not None else None,
                              "run_dir": record.run_dir if record is not None else None})
    return lines


def _cell(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def cells(line: dict[str, Any]) -> list[str]:
    return [line["protocol"], line["settings"], line["metric"], _cell(line["published"]), _cell(line["measured"]),
            _cell(line["difference"], signed=True), line["note"]]


def markdown(entry: ZooEntry, lines: list[dict[str, Any]]) -> str:
    out = [f"# {entry.name}: published and measured", "", f"{entry.paper}; file {entry.weights.filename}.", "",
           "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(c.replace("|", "/") for c in cells(line)) + " |" for line in lines]
    sources = dict.fromkeys(f"- {line['protocol']}: {line['source']}" for line in lines)
    return "\n".join(out + ["", "Sources:", *sources, ""])


def csv_text(lines: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*HEADER, "source", "run_dir"])
    for line in lines:
        writer.writerow([*cells(line), line["source"], line["run_dir"] or ""])
    return out.getvalue()


def write(entry: ZooEntry, lines: list[dict[str, Any]], folder: Path) -> list[Path]:
    stem = f"reproduce-{entry.name}"
    paths = [folder / f"{stem}.md", folder / f"{stem}.csv", folder / f"{stem}.json"]
    texts = [markdown(entry, lines), csv_text(lines),
             json.dumps({"entry": entry.name, "paper": entry.paper, "lines": lines}, indent=2) + "\n"]
    for path, text in zip(paths, texts):
        write_text(path, text)
    return paths


def show(entry: ZooEntry, lines: list[dict[str, Any]], console: Console) -> None:
    table = Table(title=f"{entry.name}: published vs measured (difference = measured - published)")
    for column in HEADER:
        table.add_column(column, overflow="fold")
    for line in lines:
        table.add_row(*cells(line))
    console.print(table)
