"""DataLoaders over a :class:`benchmark.data.transforms.PairDataset`: how many worker processes,
pinned memory, and a bad file met in a worker as a value instead of a worker's traceback.

The items are read in worker processes (``num_workers``; 0: the process itself). A file that
turns out bad there (:class:`benchmark.data.dataset.BadFile`) comes back inside the batch, and
the process that trains raises it as the file's one line (:func:`problems`): no traceback of
a worker, no hang. With ``--skip-bad`` a training item whose file is bad is replaced by the
next readable item of the split (with that item's own augmentation, so the batch keeps its
size and a resumed run the same data), an evaluation item is left out; either way the file
is counted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset
from torch.utils.data import default_collate

from benchmark.data.dataset import BadFile
from benchmark.data.transforms import PairDataset
from benchmark.util.errors import DataError

#: at most this many loader workers per training process (more gains little: decoding 256 px
#: pairs outpaces a GPU step long before, see benchmarks/data_scale.py)
MAX_WORKERS = 8
#: the keys of an item or batch that carry problems, not tensors
PROBLEM_KEYS = ("bad", "skipped")


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def local_processes() -> int:
    """Training processes on this machine: a launcher's LOCAL_WORLD_SIZE, else 1."""
    return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))


def default_num_workers(device_type: str, processes: int | None = None) -> int:
    """Loader worker processes per training process when the run does not set ``num_workers``.

    The cores of this machine are shared by its ``processes`` training processes (default: the
    launcher's count). On CUDA each process keeps one core and gives the rest of its share to its
    loader, at most :data:`MAX_WORKERS`. On the CPU the loader's workers take cores from the
    training's own threads, so a quarter of the share (0, the process reads the items itself, on a
    machine with fewer than 4 cores per process). The thread count of a run reads this too
    (:func:`resolve_num_workers`), so that workers and threads do not oversubscribe the cores."""
    share = usable_cores() // (processes or local_processes())
    if device_type == "cuda":
        return max(0, min(MAX_WORKERS, share - 1))
    return max(0, min(MAX_WORKERS, share // 4))


def resolve_num_workers(setting: int | None, device_type: str) -> int:
    """A run's ``num_workers``: the setting, else :func:`default_num_workers`."""
    return default_num_workers(device_type) if setting is None else int(setting)


class LoaderItems(TorchDataset):
    """A PairDataset's items as a loader's worker hands them back: a bad file is a value.

    ``substitute``: under ``skip_bad``, a bad item is replaced by the next readable one of the
    split (training); otherwise it is left out of its batch (evaluation)."""

    def __init__(self, data: PairDataset, skip_bad: bool, substitute: bool):
        self.data = data
        self.skip_bad = skip_bad
        self.substitute = substitute

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        epoch, index = key if isinstance(key, tuple) else (None, key)
        n = len(self.data)
        skipped: list[tuple[str, str]] = []
        for offset in range(n):
            j = (index + offset) % n
            try:
                item = self.data[j if epoch is None else (epoch, j)]
            except BadFile as exc:
                if not self.skip_bad:
                    return {"bad": str(exc)}
                skipped.append((str(exc.path), exc.problem))
                if not self.substitute:
                    return {"skipped": skipped}
                continue
            item["skipped"] = skipped
            return item
        return {"bad": f"every one of the {n} items of the split has a bad file (the first: {skipped[0][0]}: "
                       f"{skipped[0][1]}); re-import the dataset"}


def collate(items: list[dict]) -> dict:
    """The items' tensors stacked as the default collate does, plus ``bad`` (the one-line errors)
    and ``skipped`` ((file, problem) pairs) of the batch; a left-out item adds no row."""
    bad = [it["bad"] for it in items if "bad" in it]
    skipped = [s for it in items for s in it.get("skipped", ())]
    rows = [{k: v for k, v in it.items() if k not in PROBLEM_KEYS} for it in items if "image" in it]
    batch = default_collate(rows) if rows else {}
    return {**batch, "bad": bad, "skipped": skipped}


def problems(batch: dict) -> tuple[dict, list[tuple[str, str]]]:
    """(the batch's tensors, its skipped files); a bad file stops here with its one line."""
    if batch.get("bad"):
        raise DataError(batch["bad"][0])
    return {k: v for k, v in batch.items() if k not in PROBLEM_KEYS}, list(batch.get("skipped", ()))


def loader(data: PairDataset, batches: Iterable[list], *, num_workers: int, pin: bool, skip_bad: bool,
           substitute: bool, own_seed: bool = False) -> DataLoader:
    """A DataLoader over ``data`` taking the given batches of keys (indices or (epoch, index)); its
    workers live as long as it does (one loader serves every epoch of a training). Each pass draws
    a seed from torch's random state, as every DataLoader does; ``own_seed``: from a generator of
    its own instead, leaving the models' random state as it was (evaluation)."""
    return DataLoader(LoaderItems(data, skip_bad, substitute), batch_sampler=batches, num_workers=num_workers,
                      pin_memory=pin, persistent_workers=num_workers > 0, collate_fn=collate,
                      generator=torch.Generator().manual_seed(0) if own_seed else None)


@dataclass
class Reading:
    """How evaluation reads a split: in batches of given indices, with ``num_workers`` loader
    processes; under ``skip_bad`` a bad file's item is left out and the file kept in ``skipped``."""

    num_workers: int = 0
    skip_bad: bool = False
    #: file -> problem, every file left out so far
    skipped: dict[str, str] = field(default_factory=dict)

    def batches(self, data: PairDataset, batches: list[list[int]]) -> Iterator[dict]:
        """The batches' tensors in order (``index`` says which items they hold); a bad file stops
        with its line unless skipped."""
        if not batches:
            return
        for batch in loader(data, batches, num_workers=min(self.num_workers, len(batches)), pin=False,
                            skip_bad=self.skip_bad, substitute=False, own_seed=True):
            tensors, skipped = problems(batch)
            self.skipped.update(skipped)
            if tensors:
                yield tensors
