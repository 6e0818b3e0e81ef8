"""`bench run/train --nproc-per-node N`: start N data-parallel workers through PyTorch's elastic
launcher (the engine of ``torchrun``), each running the same ``bench`` command.

One node: ``bench run ... --nproc-per-node 4`` (a local rendezvous on a free port). Several
nodes: the same command on every node with ``--nnodes K --rdzv-endpoint HOST:PORT`` (HOST one of
the nodes, reachable from all; the output folder on storage that every node shares), or
``torchrun --nnodes K --nproc-per-node N --rdzv-backend c10d --rdzv-endpoint HOST:PORT -m
benchmark.cli run ...`` as a cluster would launch it. A worker that dies stops the whole run
(exit within seconds); ``--max-restarts M`` lets the launcher restart all workers up to M times,
each time continuing from the newest checkpoint (``--resume``).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import uuid

from benchmark.util.errors import BenchError, ConfigError

#: the launch flags (and whether each takes a value): stripped from the workers' command line
FLAGS = {"--nproc-per-node": True, "--nnodes": True, "--rdzv-endpoint": True, "--rdzv-id": True,
         "--max-restarts": True}


def add_launch_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data-parallel workers (PyTorch elastic launch, as torchrun)")
    g.add_argument("--nproc-per-node", type=int, dest="nproc_per_node", metavar="N",
                   help="train and evaluate with N workers on this node (one per GPU; gloo processes on a CPU); the batch "
                        "size is global and must divide by the number of workers")
    g.add_argument("--nnodes", type=int, default=1, metavar="K", help="nodes taking part (default 1)")
    g.add_argument("--rdzv-endpoint", dest="rdzv_endpoint", metavar="HOST:PORT",
                   help="rendezvous address shared by all nodes (needed with --nnodes > 1)")
    g.add_argument("--rdzv-id", dest="rdzv_id", default="bench", metavar="ID",
                   help="rendezvous id, the same on every node of one run (default bench)")
    g.add_argument("--max-restarts", type=int, default=0, dest="max_restarts", metavar="M",
                   help="restart all workers up to M times when one fails, resuming from the last checkpoint")


def worker_argv(argv: list[str]) -> list[str]:
    """The command line each worker runs: the same, less the launch flags."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in FLAGS:
            skip = FLAGS[name] and "=" not in arg
            continue
        out.append(arg)
    return out


def check(args, plan) -> None:
    """Problems found before any worker starts: bad launch flags, a batch that does not divide."""
    n = args.nproc_per_node
    if n < 1 or args.nnodes < 1 or args.max_restarts < 0:
        raise ConfigError("--nproc-per-node and --nnodes must be >= 1 and --max-restarts >= 0")
    if args.nnodes > 1 and not args.rdzv_endpoint:
        raise ConfigError(f"--nnodes {args.nnodes} needs --rdzv-endpoint HOST:PORT (a node every node can reach)")
    if plan.device.type not in ("cpu", "cuda"):
        raise ConfigError(f"invalid value for 'device': {plan.device.type!r}: data-parallel workers run on CUDA "
                          f"(NCCL) or the CPU (gloo); use --device cuda or cpu")
    world = n * args.nnodes
    for row in plan.rows:
        batch = row.run.batch_size or 1
        if batch % world:
            raise ConfigError(f"invalid value for 'batch_size': {batch} ({row.label}) does not divide over "
                              f"{world} workers; use a multiple of {world}")


def launch(args, argv: list[str]) -> int:
    """Run the workers; the exit status of the run, or one error line about the worker that failed."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    for name in ("torch.distributed.elastic", "torch.distributed.launcher"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    single = args.nnodes == 1 and not args.rdzv_endpoint
    config = LaunchConfig(
        min_nodes=args.nnodes, max_nodes=args.nnodes, nproc_per_node=args.nproc_per_node,
        run_id=uuid.uuid4().hex if single else args.rdzv_id, rdzv_backend="c10d",
        rdzv_endpoint="localhost:0" if single else args.rdzv_endpoint,
        max_restarts=args.max_restarts, monitor_interval=0.1, start_method="spawn")
    entry = ["-m", "benchmark.cli", *worker_argv(argv)]
    try:
        elastic_launch(config, sys.executable)(*entry)
    except ChildFailedError as exc:
        # the launcher stops the other workers with SIGTERM: name the one that failed first
        first = [(r, f) for r, f in exc.failures.items() if f.exitcode != -signal.SIGTERM] or list(exc.failures.items())
        rank, failure = min(first, key=lambda item: (item[1].timestamp, item[0]))
        if failure.exitcode == BenchError.exit_code:
            return failure.exitcode  # the worker said why, in one line
        if failure.exitcode < 0:
            how = f"was killed by {signal.Signals(-failure.exitcode).name}"
        else:
            how = f"exited with code {failure.exitcode}"
        raise BenchError(f"worker rank {rank} (pid {failure.pid}) {how}; the run stopped (continue it with "
                         f"--resume, or pass --max-restarts M to restart the workers automatically)") from None
    return 0


def restarted() -> bool:
    """Whether the launcher restarted this worker after a failure (it then continues with --resume)."""
    import os

    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0) > 0
