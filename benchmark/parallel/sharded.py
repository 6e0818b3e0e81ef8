"""Evaluation shared by the data-parallel workers: whole batches dealt out, rows gathered back in order.

The rule that keeps results identical to one process's: the work is cut into the batches one
process would run (``batch_size`` items each, in order), and each worker takes a contiguous run
of whole batches (worker 0 the first ones). Every batch is then exactly one process's batch, so a
network sees the same inputs in the same grouping and gives the same outputs bit for bit, and
gathering the workers' rows in rank order restores one process's order before any mean,
covariance or sum. Metrics reach this through :class:`benchmark.api.context.EvalContext`
(``ctx.shard``, ``ctx.gather``, ``ctx.all_workers``, ``ctx.main_first``), never through
``torch.distributed``; with one process every helper is a no-op.
"""

from __future__ import annotations

import contextlib
from typing import Sequence, TypeVar

import numpy as np
import torch
import torch.distributed as dist

from benchmark.parallel import workers as distributed

T = TypeVar("T")


def share_range(count: int, batch_size: int, rank: int, size: int) -> tuple[int, int]:
    """[start, stop) of worker ``rank``'s share of ``count`` items: a contiguous run of whole batches
    of ``batch_size`` (the last batch may be short), the batches split as evenly as they go."""
    batches = -(-count // batch_size)
    first, last = rank * batches // size, (rank + 1) * batches // size
    return min(count, first * batch_size), min(count, last * batch_size)


def shard(items: Sequence[T], batch_size: int) -> list[T]:
    """This worker's share of ``items`` (all of them in one process)."""
    world = distributed.current()
    if world is None:
        return list(items)
    start, stop = share_range(len(items), batch_size, world.rank, world.size)
    return list(items[start:stop])


def gather(rows):
    """Every worker's rows (a tensor or numpy array, rows along dim 0) concatenated in rank order, on
    every worker; the same type, dtype and device as given. One process: ``rows`` itself."""
    world = distributed.current()
    if world is None:
        return rows
    array = isinstance(rows, np.ndarray)
    x = torch.from_numpy(np.ascontiguousarray(rows)) if array else rows
    home = x.device
    x = x.to(world.device).contiguous()
    counts = torch.zeros(world.size, dtype=torch.int64, device=world.device)
    counts[world.rank] = x.shape[0]
    dist.all_reduce(counts)
    longest = int(counts.max())
    padded = torch.zeros((longest, *x.shape[1:]), dtype=x.dtype, device=world.device)
    padded[:x.shape[0]] = x
    parts = [torch.empty_like(padded) for _ in range(world.size)]
    dist.all_gather(parts, padded)
    out = torch.cat([p[:int(c)] for p, c in zip(parts, counts.tolist())]).to(home)
    return out.numpy() if array else out


def all_workers(flag: bool) -> bool:
    """True when ``flag`` is true on every worker: one decision for all (e.g. a cache hit), so that
    no worker skips a collective the others run."""
    world = distributed.current()
    if world is None:
        return bool(flag)
    t = torch.tensor([0 if flag else 1], dtype=torch.int64, device=world.device)
    dist.all_reduce(t)
    return int(t) == 0


@contextlib.contextmanager
def main_first():
    """Rank 0 runs the block first (filling a cache: a trained evaluation network, a fitted part of
    a model, the real split), the others run it once rank 0 is done (reading that cache)."""
    world = distributed.current()
    if world is None:
        yield
        return
    if not world.main:
        dist.barrier()
    try:
        yield
    finally:
        if world.main:
            dist.barrier()
