"""Data-parallel training on PyTorch's own machinery: a process group, DistributedDataParallel
over the trainable's networks, synchronized batch norm, and the rank-0-writes protocol.

A worker is distributed when a launcher (``torchrun``, or ``bench run --nproc-per-node N``
through :mod:`benchmark.parallel.launcher`) set ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``. Then:

- the process group uses NCCL on CUDA (device ``cuda:LOCAL_RANK``), gloo on the CPU;
- every global batch of the single-process order (the same ``(seed, epoch, index)``
  permutation and augmentation) is split into equal contiguous shards, one per rank, so
  every training sample is seen exactly once per epoch across the ranks;
- each child module of the Trainable that holds optimised parameters is wrapped in
  :class:`~torch.nn.parallel.DistributedDataParallel` for the training loop only (checkpoints
  and generation see the plain modules), its batch norms synchronized across ranks;
- rank 0 alone writes (run folder, checkpoints, losses, samples, store, leaderboard); the
  other ranks train in lockstep, then evaluate alongside it (:mod:`benchmark.parallel.sharded`:
  each generates and measures a share of the test split), then wait for rank 0's next announcement.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

from benchmark.util.errors import ConfigError

# torch 2.9+ marks these as deprecated; their replacements lack the behaviour used here (no buffer
# sync at all; a collective that autograd differentiates)
warnings.filterwarnings("ignore", message=r".*broadcast_buffers. is deprecated", category=FutureWarning)
warnings.filterwarnings("ignore", message=r".*distributed.nn.functional.all_reduce is deprecated", category=FutureWarning)

#: how long a rank waits for the others (rank 0 runs metrics that are not sharded alone while the others wait)
TIMEOUT = timedelta(hours=6)


@dataclass(frozen=True)
class World:
    rank: int
    size: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


_world: World | None = None


def launched() -> bool:
    """Whether a launcher started this process as one of several workers."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK")) and int(os.environ["WORLD_SIZE"]) > 1


def setup(device: torch.device) -> World | None:
    """Join the process group when launched as a worker; ``None`` for a single process."""
    global _world
    if _world is not None or not launched():
        return _world
    rank, size, local = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
        backend = "nccl"
    elif device.type == "cpu":
        backend = "gloo"
    else:
        raise ConfigError(f"invalid value for 'device': {str(device)!r}: data-parallel workers run on CUDA "
                          f"(NCCL) or the CPU (gloo); use --device cuda or cpu")
    if not dist.is_initialized():
        dist.init_process_group(backend, store=_store(rank, size), rank=rank, world_size=size, timeout=TIMEOUT,
                                device_id=device if backend == "nccl" else None)
    _world = World(rank, size, local, device)
    return _world


def _store(rank: int, size: int) -> dist.Store:
    """The launcher's store, its keys prefixed by the restart count: workers restarted by the elastic
    launcher may share the store of the failed attempt, whose stale addresses must not be read."""
    agent = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), size,
                          is_master=not agent and rank == 0, timeout=timedelta(minutes=5))
    return dist.PrefixStore(f"bench/attempt_{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}", store)


def current() -> World | None:
    return _world


def is_follower() -> bool:
    return _world is not None and not _world.main


def barrier() -> None:
    if _world is not None:
        dist.barrier()


def finish() -> None:
    """The end of a data-parallel run's work: every worker waits until all are done, then leaves the
    process group, so that none disconnects while another still uses it and NCCL's resources are
    released before exit. The rank stays known (rank 0 alone goes on to write the leaderboard)."""
    if _world is not None and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def announce(message):
    """Rank 0 sends ``message`` (any picklable object) to every rank; every rank returns it."""
    if _world is None:
        return message
    box = [message]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def per_rank_batch(batch_size: int, label: str = "") -> int:
    """The global batch split over the ranks; a batch that does not divide is a ConfigError."""
    if _world is None:
        return batch_size
    if batch_size % _world.size:
        fits = [b for b in range(_world.size, 4 * _world.size + 1, _world.size)]
        raise ConfigError(f"invalid value for 'batch_size': {batch_size}{f' ({label})' if label else ''} does "
                          f"not divide over {_world.size} workers; use a multiple of {_world.size} "
                          f"(e.g. --batch-size {', '.join(map(str, fits[:3]))})")
    return batch_size // _world.size


def shard(indices: list[int]) -> list[int]:
    """This rank's contiguous share of one global batch."""
    if _world is None:
        return indices
    n = len(indices) // _world.size
    return indices[_world.rank * n:(_world.rank + 1) * n]


def union(items: list) -> list:
    """Every rank's ``items`` (picklable), concatenated in rank order, on every rank; one process: ``items``."""
    if _world is None:
        return items
    parts: list = [None] * _world.size
    dist.all_gather_object(parts, items)
    return [x for part in parts for x in part]


def mean_losses(values: dict[str, float]) -> dict[str, float]:
    """The global batch's losses: each rank's losses are means over equal shards, so their mean."""
    if _world is None or not values:
        return values
    names = list(values)
    t = torch.tensor([values[k] for k in names], dtype=torch.float64, device=_world.device)
    dist.all_reduce(t)
    return {k: float(v) / _world.size for k, v in zip(names, t.tolist())}


def protocol(batch_size: int | None) -> dict:
    """What the recorded protocol states about the workers (nothing for a single process)."""
    if _world is None:
        return {}
    return {"world_size": _world.size, "per_rank_batch": (batch_size or 1) // _world.size}


# ---------------------------------------------------------------- synchronized batch norm

class _GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm over the union of all ranks' batches, for the CPU (torch's SyncBatchNorm needs a
    GPU): per-channel sums and squared sums are all-reduced with the autograd-aware collective of
    ``torch.distributed.nn``, so the gradient flows through the statistics of every rank."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized()):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        dims = [0, *range(2, x.dim())]
        count = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype)
        stats = all_reduce(torch.cat([x.sum(dims), (x * x).sum(dims), count]))
        c = x.shape[1]
        n = stats[-1]
        mean = stats[:c] / n
        var = (stats[c:2 * c] / n - mean * mean).clamp_min(0)
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach() * m)
                self.running_var.mul_(1 - m).add_(var.detach() * (n / (n - 1)) * m)
        shape = [1, c] + [1] * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


_GLOBAL_NORMS: dict[type, type] = {}


def _global_norm(plain: type) -> type:
    if plain not in _GLOBAL_NORMS:
        _GLOBAL_NORMS[plain] = type(f"Global{plain.__name__}", (_GlobalBatchNorm, plain), {})
    return _GLOBAL_NORMS[plain]


def _sync_norms(module: nn.Module, device: torch.device) -> list[tuple[nn.Module, type, type]]:
    """Switch every batch norm to its synchronized form in place; returns what to switch back."""
    switched = []
    for m in module.modules():
        if type(m) in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d):
            plain = type(m)
            if device.type == "cuda":
                m.process_group = None
                synced = nn.SyncBatchNorm
            else:
                synced = _global_norm(plain)
            m.__class__ = synced
            switched.append((m, plain, synced))
    return switched


class _DDP(nn.parallel.DistributedDataParallel):
    """DDP that lends the wrapped network's attributes (a trainable may read ``self.G.depth``)."""

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.__dict__["_modules"]["module"], name)


def check_same_weights(module: nn.Module, label: str) -> None:
    """Every rank must hold the same weights; they drift apart only when a network was used outside
    its ``forward`` (DDP then does not synchronize its gradients)."""
    if _world is None:
        return
    with torch.no_grad():
        total = torch.stack([p.double().sum() for p in module.parameters()]).sum().reshape(1)
    found = [torch.zeros_like(total) for _ in range(_world.size)]
    dist.all_gather(found, total)
    if any(not torch.equal(f, found[0]) for f in found):
        from benchmark.util.errors import BenchError

        raise BenchError(f"{label}: the workers' weights differ after training; the model calls a network "
                         f"other than through its forward, which data-parallel training cannot synchronize; "
                         f"train it in one process (no --nproc-per-node)")


class Parallel:
    """The Trainable's networks wrapped for the training loop; :meth:`unwrap` restores them."""

    def __init__(self, trainable: nn.Module, optimizers: dict):
        world = _world
        self.trainable = trainable
        self.wrapped: list[tuple[str, nn.Module, nn.Module]] = []
        self.norms: list[tuple[nn.Module, type, type]] = []
        if world is None:
            return
        optimised = {id(p) for opt in optimizers.values() for g in opt.param_groups for p in g["params"]}
        for name, child in list(trainable.named_children()):
            if not any(id(p) in optimised for p in child.parameters()):
                continue  # frozen helpers (e.g. a perceptual-loss network) are not wrapped
            self.norms += _sync_norms(child, world.device)
            ids = [world.device.index] if world.device.type == "cuda" else None
            # broadcast_buffers off: synchronized norms keep running statistics equal on every rank;
            # find_unused_parameters off: a GAN step calls D with its parameters frozen (no gradient
            # at all), which DDP allows, and a network's parameters all get a gradient otherwise.
            ddp = _DDP(child, device_ids=ids, broadcast_buffers=False)
            trainable._modules[name] = ddp
            self.wrapped.append((name, child, ddp))

    def unwrap(self) -> None:
        self._swap(wrapped=False)
        self.wrapped, self.norms = [], []

    def _swap(self, wrapped: bool) -> None:
        for name, child, ddp in self.wrapped:
            self.trainable._modules[name] = ddp if wrapped else child
        for m, plain, synced in self.norms:
            m.__class__ = synced if wrapped else plain

    @contextlib.contextmanager
    def plain(self):
        """The plain networks for a while (checkpoints, samples on rank 0 alone: no collectives)."""
        self._swap(wrapped=False)
        try:
            yield
        finally:
            self._swap(wrapped=True)
