"""Decode many image files on a few threads, keeping the order and the bad-file rules.

Pillow releases the interpreter lock while it decodes, so threads speed up
reading thousands of JPEG and PNG files. Workers never touch :class:`BadFiles`:
they return a :class:`benchmark.Problem`, and the calling thread reports problems in file
order, so the first bad file named (or the list of skipped ones) is the same on
every run and with any number of threads.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

import numpy as np

from benchmark import BadFiles, DataError, LazySplit, Problem, Sample, read_image

T = TypeVar("T")
R = TypeVar("R")

#: at most this many decoding threads (more gains little: file reads and memory bandwidth limit it)
MAX_WORKERS = 8


def workers() -> int:
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


@contextmanager
def _pool() -> Iterator[ThreadPoolExecutor]:
    """A thread pool whose pending work is cancelled when the caller stops with an error."""
    pool = ThreadPoolExecutor(workers())
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def ordered_map(func: Callable[[T], R], items: Iterable[T], on_result: Callable[[int], None] | None = None) -> list[R]:
    """``[func(x) for x in items]`` on a thread pool; the first exception (in item order) stops it.

    ``on_result(n)`` is called in the calling thread once the first n results are in.
    """
    out: list[R] = []
    with _pool() as pool:
        for result in pool.map(func, items):
            out.append(result)
            if on_result is not None:
                on_result(len(out))
    return out


def read_all(func: Callable[[T], R | Problem | None], items: Iterable[T], bad: BadFiles) -> list[R]:
    """Results of ``func`` over ``items`` in order. A :class:`Problem` is reported to ``bad`` as it
    arrives (which stops everything unless the user chose --skip-bad); ``None`` is dropped."""
    out: list[R] = []
    with _pool() as pool:
        for result in pool.map(func, items):
            if isinstance(result, Problem):
                bad.report(result.path, result.problem, result.fix)
            elif result is not None:
                out.append(result)
    return out


def decode_split(split: LazySplit, bad: BadFiles) -> list[Sample]:
    """Every sample of a lazily read split, decoded on the thread pool (what an import checks)."""
    return read_all(split.read, split.items, bad)


def try_read(path: Path, mode: str | None = None) -> np.ndarray | Problem:
    """Decode ``path`` fully (see :func:`benchmark.data.dataset.read_image`); a bad file becomes a Problem."""
    if not path.is_file():
        return Problem(path, "file missing", "restore it from the release (re-import the dataset)")
    try:
        return read_image(path, mode)
    except DataError as exc:  # the problem and fix read_image names (unreadable, or not 8-bit)
        return Problem(path, getattr(exc, "problem", "not a readable image (corrupt, truncated or not an image)"),
                       getattr(exc, "fix", "replace the file or remove it"))
