"""The `bench` command line."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from rich.console import Console

from benchmark.util.errors import BenchError, ConfigError, disk_full
from benchmark.util.version import __version__

EPILOG = """\
examples:
  bench run                                         the default benchmark: spade against pix2pix and
                                                    pix2pix+kl on synthetic-facades (nothing to download;
                                                    without the VGG19 file spade trains without its VGG loss)
  bench run --models spade,pix2pix --dataset facades --profile paper
  bench run --models pix2pix --set pix2pix.lambda_l1=50 --config bench.toml
  bench run --models pix2pix --resume               continue the last unfinished run
  bench report --dataset facades --format tex -o table.tex
  bench score --dataset facades --images out/ --label "my-method"   a row from your own images
  bench list models          bench info pix2pix     bench datasets import facades facades.tar.gz

Options are combined as: defaults < --profile < --config FILE.toml < --set KEY=VALUE and flags.
Plugin options are NAME.KEY (`bench info NAME` lists them); a row label such as pix2pix+kl
can be used as NAME to set an option for that row only.
"""


def add_run_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("what to run")
    g.add_argument("--models", help="comma-separated rows: NAME or NAME+PRESET (default: the installed default run, "
                                      "spade,pix2pix,pix2pix+kl)")
    g.add_argument("--dataset", help="a registered dataset (default: the installed default run's, synthetic-facades)")
    g.add_argument("--profile", help="smoke (seconds), quick (minutes on a CPU; default), paper (the source's)")
    g.add_argument("--metrics", help="comma-separated metric plugins (default: all)")
    g = p.add_argument_group("how to run")
    g.add_argument("--seed", type=int, help="seed for Python, NumPy, torch and the data order (default 0)")
    g.add_argument("--seeds", help="train each row once per seed: N (seeds 0..N-1) or a list, e.g. 0,1,2; "
                                   "finished (row, seed) runs are reused; cells show mean ± std (n)")
    g.add_argument("--device", help="auto (default), cpu, mps, cuda, cuda:N")
    g.add_argument("--precision", help="auto (bf16 on CUDA, fp32 elsewhere), fp32, bf16, fp16")
    g.add_argument("--steps", type=int, help="training steps (default: the model's for the profile)")
    g.add_argument("--epochs", type=int, help="training epochs, instead of steps")
    g.add_argument("--batch-size", type=int, dest="batch_size", help="training batch size")
    g.add_argument("--image-size", type=int, dest="image_size",
                   help="training and evaluation height in pixels (the width is image_size * aspect_ratio)")
    g.add_argument("--data-root", type=Path, dest="data_root", help="dataset folder (default: datasets)")
    g.add_argument("--output-root", type=Path, dest="output_root", help="output folder (default: results)")
    g.add_argument("--skip-bad", action="store_true", default=None, dest="skip_bad",
                   help="skip unreadable or inconsistent data files instead of stopping (counted in a warning)")
    g = p.add_argument_group("configuration")
    g.add_argument("--config", type=Path, help="a TOML file with run keys and [plugin] tables")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="sets",
                   help="set any option, e.g. seed=3, eval.batch_size=8, pix2pix.lambda_l1=50 (repeatable)")
    g.add_argument("--quiet", "-q", action="store_true", help="no progress, only errors and the final table")
    from benchmark.parallel.launcher import add_launch_options

    add_launch_options(p)


def layers_from(args):
    from benchmark.planning.config import Layers
    from benchmark.util.errors import ConfigError
    from benchmark.util.settings_text import load_toml, parse_set

    if getattr(args, "seed", None) is not None and getattr(args, "seeds", None):
        raise ConfigError("pass --seed S (one run) or --seeds N|A,B,C (one run per seed), not both")

    flags = {k: getattr(args, k, None) for k in ("dataset", "profile", "seed", "seeds", "device", "precision", "steps",
                                                 "epochs", "batch_size", "image_size", "data_root",
                                                 "output_root", "skip_bad")}
    if getattr(args, "models", None):
        flags["models"] = [m.strip() for m in args.models.split(",") if m.strip()]
    if getattr(args, "metrics", None):
        flags["eval"] = {"metrics": [m.strip() for m in args.metrics.split(",") if m.strip()]}
    file_tree = load_toml(args.config) if getattr(args, "config", None) else {}
    return Layers.from_sources(file_tree, parse_set(getattr(args, "sets", [])), flags)


def reporter_for(args):
    from benchmark.util.progress import Reporter

    return Reporter(Console(stderr=True), quiet=getattr(args, "quiet", False))


def publish(store, dataset: str, output_root: Path, quiet: bool) -> None:
    from benchmark.report import print_console, write_leaderboards

    records = [r for r in store.latest(dataset)]
    failed = [r for r in store.runs(dataset, status="failed")]
    paths = write_leaderboards(records + failed, output_root / dataset)
    print_console(records + failed, Console(), title="Leaderboard")
    if not quiet:
        Console(stderr=True).print("wrote " + ", ".join(str(p) for p in paths), highlight=False)


def cmd_run(args, train_only: bool = False) -> int:
    from benchmark import workflow as pyapi
    from benchmark.cli import sweep as sweep_cli
    from benchmark.parallel import launcher as launch
    from benchmark.parallel import workers as distributed
    from benchmark.planning.plan import build_plan

    layers = layers_from(args)
    plan = build_plan(layers, checkpoint=args.checkpoint)
    if getattr(args, "dry_run", False):
        from benchmark.cli.dry_run import plan_json, plan_lines

        print(plan_json(plan) if args.json else "\n".join(plan_lines(plan)))
        return 0
    if (args.nproc_per_node or distributed.launched()) and sweep_cli.uses_executor(args):
        raise ConfigError(f"--executor {args.executor} does not combine with data-parallel workers "
                          f"(--nproc-per-node, torchrun): a sweep runs each (row, seed) as one job of one process; "
                          f"drop --nproc-per-node to sweep, or drop --executor to train one row on N workers")
    if args.nproc_per_node and not distributed.launched():
        launch.check(args, plan)
        return launch.launch(args, args.argv)
    if sweep_cli.uses_executor(args):
        return sweep_cli.run_with_executor(args, plan, layers, reporter_for(args), publish)
    if args.resume is None and launch.restarted():
        args.resume = True  # the elastic launcher restarted the workers: continue from the checkpoint
    resume = Path(args.resume) if args.resume not in (None, True) else bool(args.resume)
    records = pyapi.run_plan(plan, reporter_for(args), resume=resume, checkpoint=args.checkpoint,
                             train_only=train_only, write_leaderboard=False)  # the same call as benchmark.run
    if distributed.is_follower():
        return 0  # rank 0 reports
    if train_only:
        for r in records:
            print(f"{r.label}: {r.status} {r.run_dir}")
    else:
        from benchmark.results.store import ResultsStore

        publish(ResultsStore(plan.config.output_root / "bench.sqlite"), plan.dataset.name, plan.config.output_root,
                args.quiet)
    return 0 if all(r.status == "ok" for r in records) else 1


def cmd_evaluate(args) -> int:
    from benchmark.scoring.run_folder import evaluate_run

    layers = layers_from(args)
    record = evaluate_run(Path(args.run_dir), layers, reporter_for(args))
    from benchmark.results.store import ResultsStore

    output_root = Path(record.config.get("run", {}).get("output_root", "results"))
    publish(ResultsStore(output_root / "bench.sqlite"), record.dataset, output_root, args.quiet)
    return 0


def cmd_report(args) -> int:
    from benchmark.report import print_console, render, write_output
    from benchmark.workflow import report_records

    records = report_records(args.dataset, args.output_root, args.failed)  # what benchmark.leaderboard ranks
    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns is not None else None
    if args.format == "console" and not args.output:
        print_console(records, Console(), title="Leaderboard", columns=columns)
        return 0
    fmt = "md" if args.format == "console" else args.format
    text = render(records, fmt, title="Leaderboard", columns=columns)  # one document, one table per dataset
    if args.output:
        write_output(args.output, text)
        print(f"wrote {args.output}")
    else:
        print(text, end="")
    return 0


def cmd_list(args) -> int:
    from rich.table import Table

    from benchmark.registry.plugins import KINDS, default

    plugins = default()
    for kind in ([args.kind] if args.kind else KINDS):
        registry = plugins.registry(kind)
        table = Table(title=kind)
        for col in ("name", "summary", "provided by"):
            table.add_column(col)
        for entry in registry:
            table.add_row(entry.name, entry.summary, entry.provider)
            if kind == "models":
                for preset in entry.obj.presets:
                    if preset != entry.obj.default_preset:
                        table.add_row(f"  {entry.name}+{preset}", entry.obj.presets[preset].summary, entry.provider)
        Console().print(table)
    return 0


def cmd_info(args) -> int:
    from benchmark.cli.info import describe

    Console().print(describe(args.name))
    return 0


def cmd_datasets(args) -> int:
    from benchmark.cli import datasets as datasets_cli

    return datasets_cli.dispatch(args)


def cmd_weights(args) -> int:
    from benchmark.registry import weights
    from benchmark.util.errors import ConfigError

    if args.action == "import":
        if not args.name or not args.file:
            raise ConfigError("bench weights import: pass the weights name and the file, e.g. "
                              "`bench weights import vgg19-imagenet vgg19-dcbb9e9d.pth` (names: `bench weights list`)")
        path = weights.import_file(weights.get(args.name), Path(args.file))
        print(f"imported {args.name} -> {path} (sha256 {weights.recorded_sha256(args.name)})")
        return 0
    rows = []
    for name, spec in weights.registered().items():
        state = weights.status(spec)
        sha = weights.recorded_sha256(spec) if state != weights.MISSING else spec.sha256
        pinned = "" if spec.sha256 else " (recorded)" if sha else ""
        rows.append([name, state, spec.filename, (sha or "-") + pinned, spec.summary])
    print_rows(f"pretrained files (cache: {weights.cache_dir()}; import one: bench weights import NAME FILE)",
               ["name", "status", "file", "sha256", "used for"], rows)
    return 0


def print_rows(title: str, headers: list[str], rows: list[list[str]]) -> None:
    """A list as a table: rich in a terminal; off a terminal (a pipe, a file) plain text at its
    natural width, so that no sha256 or path is cut or wrapped."""
    console = Console(highlight=False)
    if console.is_terminal:
        from rich.table import Table

        table = Table(title=title, title_justify="left")
        for header in headers:
            table.add_column(header, overflow="fold")
        for row in rows:
            table.add_row(*row)
        console.print(table, markup=False)
        return
    from tabulate import tabulate

    print(title)
    print(tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Train, evaluate and rank conditional image synthesis models (label map or sketch -> photo) "
                    "under one recorded protocol.")
    p.add_argument("--version", action="version", version=f"bench {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def command(name, help_text, **kw):
        return sub.add_parser(name, help=help_text, description=help_text,
                              formatter_class=argparse.RawDescriptionHelpFormatter, **kw)

    run = command("run", "train (or load) each model, evaluate all, store results, print the leaderboard",
                  epilog=EPILOG)
    add_run_options(run)
    run.add_argument("--resume", nargs="?", const=True, default=None, metavar="RUN_DIR",
                     help="continue the newest unfinished run with the same config (or RUN_DIR) from its checkpoint")
    run.add_argument("--checkpoint", type=Path, help="evaluate this checkpoint instead of training (one model): one bench wrote, "
                     "or one of the model's official code that its plugin reads (e.g. SPADE's "
                     "latest_net_G.pth)")
    run.add_argument("--dry-run", action="store_true", dest="dry_run",
                     help="print the resolved plan (rows, options, protocol, training steps) and exit")
    run.add_argument("--json", action="store_true", help="with --dry-run: the plan as JSON")
    from benchmark.cli import sweep as sweep_cli
    sweep_cli.add_executor_options(run)
    run.set_defaults(func=cmd_run)

    train = command("train", "train each model and keep its checkpoints, without evaluating")
    add_run_options(train)
    train.add_argument("--resume", nargs="?", const=True, default=None, metavar="RUN_DIR")
    train.set_defaults(func=lambda a: cmd_run(a, train_only=True), checkpoint=None)

    ev = command("evaluate", "regenerate a run's test images from its last checkpoint and re-measure")
    ev.add_argument("run_dir", help="a run folder, e.g. results/runs/20260101-...-pix2pix")
    ev.add_argument("--set", action="append", default=[], dest="sets", metavar="KEY=VALUE")
    ev.add_argument("--device")
    ev.add_argument("--quiet", "-q", action="store_true")
    ev.set_defaults(func=cmd_evaluate)

    rep = command("report", "print or write the leaderboard from the results store")
    rep.add_argument("--dataset", help="only this dataset (default: every dataset in the store)")
    rep.add_argument("--format", default="console", choices=["console", "md", "csv", "json", "tex", "html"])
    rep.add_argument("-o", "--output", type=Path,
                     help="write to this file instead of the terminal (a missing folder is created)")
    rep.add_argument("--columns", metavar="NAME,NAME",
                     help="only these metric columns, in this order (e.g. FID,mIoU); tex default: ranked metrics")
    rep.add_argument("--output-root", type=Path, default=Path("results"), dest="output_root",
                     help="where bench.sqlite is (default: results)")
    rep.add_argument("--failed", action="store_true", help="also list failed runs")
    rep.set_defaults(func=cmd_report)

    ls = command("list", "list the installed plugins: name, summary, providing package")
    ls.add_argument("kind", nargs="?", choices=["models", "metrics", "datasets", "segmenters", "loggers"])
    ls.set_defaults(func=cmd_list)

    info = command("info", "options (types, defaults, docs), presets and profiles of a plugin")
    info.add_argument("name")
    info.set_defaults(func=cmd_info)

    ds = command("datasets", "list, describe, import, verify and preview datasets")
    ds.add_argument("action", choices=["list", "info", "import", "verify", "preview"])
    ds.add_argument("name", nargs="?")
    ds.add_argument("path", nargs="*", type=Path,
                    help="import: archive(s) or folder; preview: output PNG")
    ds.add_argument("--data-root", type=Path, default=Path("datasets"), dest="data_root")
    ds.add_argument("--set", action="append", default=[], dest="sets", metavar="KEY=VALUE")
    ds.add_argument("--count", type=int, default=8, help="preview: number of pairs")
    ds.add_argument("--skip-bad", action="store_true", dest="skip_bad",
                    help="import: leave unreadable or inconsistent files out of the copy (counted in a warning)")
    ds.add_argument("--max-unpacked-gb", type=float, dest="max_unpacked_gb", metavar="N",
                    help="import: refuse an archive that unpacks to more than N GB (default: the dataset's "
                         "declared size, else 50x the archive, at least 0.25 GB)")
    ds.set_defaults(func=cmd_datasets)

    sweep_cli.add_commands(command)

    wt = command("weights", "list pretrained files, or import one for offline use")
    wt.add_argument("action", choices=["list", "import"])
    wt.add_argument("name", nargs="?")
    wt.add_argument("file", nargs="?")
    wt.set_defaults(func=cmd_weights)

    from benchmark.cli import score as score_cli
    from benchmark.cli import zoo as zoo_cli

    score_cli.add_parser(command)
    zoo_cli.add_parser(command)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if not getattr(args, "func", None):
        p.print_help()
        return 0
    if args.command in ("run", "train", "evaluate", "score") and not os.environ.get("WORLD_SIZE"):
        # a single process unwinds on SIGTERM as on Ctrl-C (the workers of a data-parallel run keep
        # the default: the launcher stops them with SIGTERM and must not wait on a collective)
        signal.signal(signal.SIGTERM, _terminate)
    try:
        return args.func(args)
    except Exception as exc:
        error = disk_full(exc, _folder_of(args)) or (exc if isinstance(exc, BenchError) else None)
        if error is None:
            raise
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt as exc:
        print(interrupted_message(args), file=sys.stderr)
        return getattr(exc, "exit_code", 130)


def _terminate(signum, frame):
    from benchmark.util.errors import Terminated

    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM kills at once
    raise Terminated()


def _folder_of(args) -> Path | None:
    """The folder a command writes to, named when a full disk's error names no file."""
    for key in ("output_root", "data_root", "run_dir"):
        if getattr(args, key, None):
            return Path(getattr(args, key))
    return None


def interrupted_message(args) -> str:
    """What an interrupt (Ctrl-C) left behind, and how to go on, for the command that was running."""
    command = getattr(args, "command", None)
    if command in ("run", "train"):
        return f"interrupted; continue with `bench {command} ... --resume`"
    if command == "datasets" and getattr(args, "action", None) == "import":
        return (f"interrupted; the import of {getattr(args, 'name', 'the dataset')} was abandoned and nothing "
                f"in {getattr(args, 'data_root', 'the data root')} was changed; run the same import again")
    if command == "evaluate":
        return f"interrupted; measure again with `bench evaluate {args.run_dir}`"
    return "interrupted; run the command again"

