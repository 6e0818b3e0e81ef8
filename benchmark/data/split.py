"""A split read one sample at a time: its index (stems, and what to read for each) and a reader.

A dataset plugin's ``Dataset.index`` returns a :class:`LazySplit` so that training and
evaluation take the samples one by one (in DataLoader worker processes) and memory does not
grow with the split: COCO-Stuff's 118,287 training pairs cost their stems and file names,
not their pixels. A bad file is found when its sample is read, as a
:class:`benchmark.data.dataset.BadFile` naming it.

The reader and the items travel to worker processes, so both must pickle: a module-level
function (or a ``functools.partial`` of one) over strings, paths and numbers.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

from benchmark.data.dataset import Problem, Sample


class LazySplit(Sequence[Sample]):
    """``read(item)`` gives the :class:`Sample` of one item of ``items`` (or a :class:`Problem`);
    ``stems[i]`` is item i's stem, known without reading anything. A slice is a LazySplit too."""

    def __init__(self, read: Callable[[Any], Sample | Problem], items: Sequence, stems: Sequence[str]):
        if len(items) != len(stems):
            raise ValueError(f"{len(items)} items but {len(stems)} stems")
        self.read = read
        self.items = list(items)
        self.stems = list(stems)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return LazySplit(self.read, self.items[index], self.stems[index])
        found = self.read(self.items[index])
        if isinstance(found, Problem):
            raise found.error()
        return found

    def select(self, keep: Iterable[int]) -> "LazySplit":
        """The items at the positions ``keep``, in that order."""
        keep = list(keep)
        return LazySplit(self.read, [self.items[i] for i in keep], [self.stems[i] for i in keep])


def stems_of(samples: Sequence[Sample]) -> list[str]:
    """The stems of a split without decoding it (a LazySplit knows them; a list holds its samples)."""
    stems = getattr(samples, "stems", None)
    return list(stems) if stems is not None else [s.stem for s in samples]
