"""One process at a time in a run folder.

A process that trains or evaluates in a run folder holds an exclusive lock on the folder's
``.lock`` file for as long as it works there; a second process that wants the same folder (two
``bench run --resume`` of one run, say) stops with one line instead of training it twice. The
operating system releases the lock when the process ends, however it ends (even SIGKILL), so a
killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import os
from typing import IO

from benchmark.rundir.layout import RunDir
from benchmark.util.errors import BenchError

try:  # POSIX
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt


class RunLock:
    """``with RunLock(run): ...``, or :meth:`acquire` / :meth:`release` where the lock spans calls."""

    def __init__(self, run: RunDir):
        self.run = run
        self.handle: IO | None = None

    def acquire(self) -> "RunLock":
        handle = open(self.run.lock_file, "a+")
        try:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise BenchError(f"{self.run.root}: another bench process ({holder}) is working in this run "
                             f"folder; wait for it to end (or stop it), then run the command again") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self.handle = handle
        return self

    def release(self) -> None:
        if self.handle is not None:
            self.handle.close()  # closing the file releases the lock
            self.handle = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def mark_abandoned(runs: list[RunDir]) -> list[RunDir]:
    """Say ``interrupted`` in every folder of ``runs`` whose status is still ``running`` while no
    process holds its lock (its process was killed before it could say so); returns those folders.
    A folder another process works in keeps its status."""
    marked = []
    for run in runs:
        if run.read_status().get("status") != "running":
            continue
        try:
            lock = RunLock(run).acquire()
        except BenchError:
            continue  # alive: another process works there
        try:
            if run.read_status().get("status") == "running":
                run.write_status("interrupted", reason="its process ended without saying so (killed); "
                                                       "continue with --resume")
                marked.append(run)
        finally:
            lock.release()
    return marked
