"""`bench zoo list`: the published checkpoints the installed plugins register; `bench zoo reproduce
NAME`: measure one under each protocol its paper and the known re-measurements used, beside their numbers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmark.util.errors import ConfigError


def add_parser(command) -> None:
    """Add `bench zoo` with ``command(name, help, **kw)``, the way cli.parser adds its commands."""
    p = command("zoo", "published checkpoints: file, source, licence and the paper's numbers; reproduce them")
    p.add_argument("action", choices=["list", "reproduce"],
                   help="list: the entries; reproduce NAME: measure NAME under each protocol of its paper and of "
                        "the known re-measurements, beside their numbers (docs/reproducing.md)")
    p.add_argument("name", nargs="?", help="reproduce: the entry (MODEL@TAG, see `bench zoo list`)")
    p.add_argument("--json", action="store_true", help="list: every entry with its options, as JSON")
    p.add_argument("--metrics", help="reproduce: only these metric plugins (default: those that give the "
                                      "entry's published numbers)")
    p.add_argument("--data-root", type=Path, dest="data_root", help="dataset folder (default: datasets)")
    p.add_argument("--output-root", type=Path, dest="output_root", help="output folder (default: results)")
    p.add_argument("--device", help="auto (default), cpu, mps, cuda, cuda:N")
    p.add_argument("--config", type=Path, help="a TOML file with run keys and [plugin] tables")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="sets",
                   help="set any option, e.g. eval.batch_size=8 (repeatable); a protocol's own settings win")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress, only errors and the final table")
    p.set_defaults(func=cmd_zoo)


def reported_text(reported: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in reported.items()) or "none reported"


def cmd_zoo(args) -> int:
    if args.action == "reproduce":
        return cmd_reproduce(args)
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
        numbers = reported_text(row["reported"]) + (f" (mIoU by {row['segmenter']})" if row["segmenter"] else "")
        table.add_row(row["name"], row["dataset"], numbers, row["eval_size"] or "-",
                      f"{row['weights']}: {row['status']}", row["licence"], where)
    Console(width=max(Console().width, 160)).print(table)
    return 0


def cmd_reproduce(args) -> int:
    from benchmark import workflow
    from benchmark.registry import plugins as registry
    from benchmark.registry import zoo
    from benchmark.report import side_by_side
    from benchmark.planning.config import merge
    from benchmark.util.progress import Reporter
    from benchmark.util.settings_text import load_toml, parse_set

    if not args.name:
        raise ConfigError("bench zoo reproduce: name the entry, e.g. `bench zoo reproduce spade@ade20k-official` "
                          "(entries: `bench zoo list`)")
    plugins = registry.default()
    entry = zoo.find(args.name, plugins)
    tree = merge(load_toml(args.config) if args.config else {}, parse_set(args.sets))
    keys = {k: v for k, v in tree.items() if not isinstance(v, dict) or k == "eval"}
    tables = {k: v for k, v in tree.items() if isinstance(v, dict) and k != "eval"}
    flags = {k: getattr(args, k) for k in ("data_root", "output_root", "device") if getattr(args, k) is not None}
    try:
        lines = workflow.reproduce(entry.name, metrics=args.metrics, tables=tables, plugins=plugins,
                                   reporter=Reporter(Console(stderr=True), quiet=args.quiet), **keys, **flags)
    except workflow.FilesMissing as missing:
        print(f"{entry.name} cannot be reproduced yet; first download and import:")
        for line in missing.lines:
            print(f"  - {line}")
        print("nothing was run or written", file=sys.stderr)
        return 2
    side_by_side.show(entry, lines, Console(width=max(Console().width, 160)))
    if not args.quiet:
        root = args.output_root or Path("results")
        Console(stderr=True).print(f"wrote {root / entry.dataset}/reproduce-{entry.name}.md, .csv and .json "
                                   f"(each protocol's run: results/runs, the store)", highlight=False)
    return 1 if any(line["status"] == "failed" for line in lines) else 0
