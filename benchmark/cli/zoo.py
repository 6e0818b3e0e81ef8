"""`bench zoo list`: the published checkpoints the installed plugins register."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table


def add_parser(command) -> None:
    """Add `bench zoo` with ``command(name, help, **kw)``, the way cli.parser adds its commands."""
    p = command("zoo", "published checkpoints: file, source, licence and the paper's numbers")
    p.add_argument("action", choices=["list"])
    p.add_argument("--json", action="store_true", help="every entry with its options, as JSON")
    p.set_defaults(func=cmd_zoo)


def reported_text(reported: dict) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in reported.items()) or "none reported"


def cmd_zoo(args) -> int:
    from benchmark.registry import plugins as registry
    from benchmark.registry import zoo

    rows = zoo.rows(registry.default())
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    table = Table(title="model zoo: `bench run --models MODEL@TAG --dataset D` (file: `bench weights import`)")
    for column in ("row", "dataset", "paper's numbers", "at", "file", "licence", "source"):
        table.add_column(column, overflow="fold")
    for row in rows:
        where = row["source"] + (f" ({row['member']})" if row["member"] else "")
        table.add_row(row["name"], row["dataset"], reported_text(row["reported"]), row["eval_size"] or "-",
                      f"{row['weights']}: {row['status']}", row["licence"], where)
    Console(width=max(Console().width, 160)).print(table)
    return 0
