"""The command line of sweeps: `bench run --executor ...`, `bench status` and `bench job`."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.util.errors import ConfigError

EXECUTORS = ("inline", "local", "slurm", "submitit-local")  # as benchmark.sweep.executors.SweepOptions


def add_executor_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("sweeps (one job per row and seed; see `bench status`)")
    g.add_argument("--executor", choices=EXECUTORS,
                   help="inline: in this process (default); local: one child process per (row, seed); "
                        "slurm: one Slurm job per (row, seed) through submitit (pip install 'sis-bench[slurm]'); "
                        "submitit-local: submitit's local executor")
    g.add_argument("--max-parallel", "--slurm-array-parallelism", type=int, dest="max_parallel", metavar="K",
                   help="jobs running at once (default 2)")
    g.add_argument("--slurm-partition", dest="slurm_partition", metavar="P", help="Slurm partition")
    g.add_argument("--gpus-per-job", type=int, dest="gpus_per_job", metavar="G", help="GPUs of each Slurm job")
    g.add_argument("--cpus-per-job", type=int, dest="cpus_per_job", metavar="C", help="CPU cores of each Slurm job")
    g.add_argument("--timeout-min", type=int, dest="timeout_min", metavar="M",
                   help="time limit of each Slurm job in minutes (default 240)")


def uses_executor(args) -> bool:
    return getattr(args, "executor", None) not in (None, "inline")


def run_with_executor(args, plan, layers, reporter, publish) -> int:
    from benchmark.sweep.executors import run_sweep, sweep_options

    if args.resume is not None or args.checkpoint is not None:
        raise ConfigError(f"--executor {args.executor} resumes stopped jobs by itself: run the same command "
                          "again without --resume or --checkpoint")
    options = sweep_options({k: getattr(args, k, None) for k in ("executor", "max_parallel", "slurm_partition",
                                                                 "gpus_per_job", "cpus_per_job", "timeout_min")})
    records = run_sweep(plan, layers, options, reporter)
    from benchmark.results.store import ResultsStore

    store = ResultsStore(plan.config.output_root / "bench.sqlite")
    publish(store, plan.dataset.name, plan.config.output_root, args.quiet)
    return 0 if all(r.status == "ok" for r in records) else 1


def cmd_status(args) -> int:
    from benchmark.results.store import ResultsStore
    from benchmark.rundir.layout import RunDir
    from benchmark.sweep.jobs import ingest, status_json, status_rows, status_text

    rows = status_rows(args.output_root)
    if not rows:
        print(f"no sweep jobs under {args.output_root}; start some with `bench run --seeds N --executor local`")
        return 0
    done = [r for r in rows if r["state"] in ("done", "failed")]
    if done and not args.no_ingest:  # finished folders into the store, once each
        store = ResultsStore(Path(args.output_root) / "bench.sqlite")
        for row in done:
            ingest(store, RunDir(Path(row["run_dir"])))
    print(status_json(rows) if args.json else status_text(rows), end="")
    return 0


def cmd_job(args) -> int:
    from benchmark.sweep.jobs import execute_job
    from benchmark.util.progress import Reporter

    record = execute_job(Path(args.run_dir), Reporter(quiet=args.quiet))
    print(f"{record.label} seed {record.seed}: {record.status} {record.run_dir}")
    return 0 if record.status == "ok" else 1


def add_commands(command) -> None:
    st = command("status", "list the sweep jobs (pending, running, done, failed) and store finished ones")
    st.add_argument("--output-root", type=Path, default=Path("results"), dest="output_root",
                    help="where the runs are (default: results)")
    st.add_argument("--json", action="store_true", help="print the jobs as JSON")
    st.add_argument("--no-ingest", action="store_true", dest="no_ingest",
                    help="only list; do not store finished jobs' results")
    st.set_defaults(func=cmd_status)
    job = command("job", "run one sweep job in its run folder (what the executors start)")
    job.add_argument("run_dir", help="the job's run folder (it holds job.json)")
    job.add_argument("--quiet", "-q", action="store_true")
    job.set_defaults(func=cmd_job)
