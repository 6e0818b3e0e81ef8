"""`bench score`: the command line over :func:`benchmark.workflow.score`."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

EPILOG = """\
examples:
  bench score --dataset facades --images out/ --label "my-method"
        a leaderboard row from out/<stem>.png, one per test image, measured like trained rows
  bench score --dataset facades --images out/ --label "my-method" --profile paper --resize
        at 256 px; other sizes resized bicubic as the real photos are (recorded in the row)
  bench score --real real/ --fake fake/ --metrics fid,kid,ssim [--json]
        two folders, no dataset: FID equals clean-fid's compute_fid(fake, real)
"""


def add_parser(command) -> argparse.ArgumentParser:
    """Add `bench score` with ``command(name, help, **kw)``, the way cli.parser adds its commands."""
    p = command("score", "score images generated outside bench: a leaderboard row, or two folders", epilog=EPILOG)
    g = p.add_argument_group("a leaderboard row")
    g.add_argument("--dataset", help="the dataset whose test split the images were generated for")
    g.add_argument("--images", type=Path, help="folder with one image per test image, named by its stem")
    g.add_argument("--label", help="the row's name in the leaderboard")
    g.add_argument("--resize", action="store_true",
                   help="resize images of another size bicubic to the evaluation side (recorded in the row); "
                        "default: a wrong size is an error")
    g.add_argument("--profile", help="the protocol of the rows to rank with: smoke, quick (default), paper")
    g.add_argument("--image-size", type=int, dest="image_size", help="evaluation side (default: the profile's)")
    g.add_argument("--data-root", type=Path, dest="data_root", help="dataset folder (default: datasets)")
    g.add_argument("--config", type=Path, help="a TOML file with run keys and [plugin] tables")
    g = p.add_argument_group("two folders")
    g.add_argument("--real", type=Path, help="folder of real images")
    g.add_argument("--fake", type=Path, help="folder of generated images")
    g = p.add_argument_group("both")
    g.add_argument("--json", action="store_true", help="print the numbers and their protocol (the row's record) as JSON")
    g.add_argument("--metrics", help="comma-separated metrics (default: all for a row, fid for two folders)")
    g.add_argument("--seed", type=int, help="seed of seeded metrics such as KID (default 0)")
    g.add_argument("--device", help="auto (default), cpu, mps, cuda, cuda:N")
    g.add_argument("--output-root", type=Path, dest="output_root", help="output folder and cache (default: results)")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="sets",
                   help="set any option, e.g. eval.batch_size=8, kid.subsets=10 (repeatable)")
    g.add_argument("--quiet", "-q", action="store_true", help="no progress, only errors and the result")
    p.set_defaults(func=cmd_score)
    return p


def cmd_score(args) -> int:
    from benchmark import workflow as pyapi
    from benchmark.report import print_console
    from benchmark.util.settings_text import parse_set

    sets = parse_set(args.sets)
    tables = {k: v for k, v in sets.items() if isinstance(v, dict) and k != "eval"}
    keys = {k: v for k, v in sets.items() if not (isinstance(v, dict) and k != "eval")}
    keys.update({k: getattr(args, k) for k in ("seed", "device", "output_root") if getattr(args, k) is not None})
    if args.real is not None or args.fake is not None:
        result = pyapi.score(real=args.real, fake=args.fake, metrics=args.metrics, tables=tables,
                             config=args.config, quiet=args.quiet, dataset=args.dataset, images=args.images, **keys)
        if args.json:
            print(result.to_json())
        else:
            for name, metric in result.metrics.items():
                print(f"{name}\t{'-' if metric.value is None else f'{metric.value:.6g}'}"
                      + (f"\t{metric.note}" if metric.note else ""))
        return 0
    keys.update({k: getattr(args, k) for k in ("image_size", "data_root") if getattr(args, k) is not None})
    record = pyapi.score(args.images, dataset=args.dataset, label=args.label, metrics=args.metrics,
                         profile=args.profile, resize=args.resize, tables=tables, config=args.config,
                         quiet=args.quiet, **keys)
    if args.json:
        import json

        from benchmark.results.records import record_to_dict

        print(json.dumps(record_to_dict(record), indent=2, default=str))
        return 0
    from benchmark.results.store import ResultsStore

    store = ResultsStore(Path(record.config["run"]["output_root"]) / "bench.sqlite")
    print_console(store.latest(record.dataset) + store.runs(record.dataset, status="failed"), Console(),
                  title="Leaderboard")
    if not args.quiet:
        Console(stderr=True).print(f"scored {record.label}: {record.run_dir}", highlight=False)
    return 0
