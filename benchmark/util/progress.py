"""Progress for long work: a rich bar on a terminal, plain lines otherwise, nothing with --quiet;
both say how long the stage has taken and how long it will still take (ETA, from its rate so far)."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def format_losses(losses: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.3f}" for k, v in losses.items())


def duration(seconds: float) -> str:
    """``45s``, ``3m05s``, ``2h07m``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Reporter:
    """One progress display per stage: ``start``, ``update`` as work is done, ``stop``."""

    def __init__(self, console: Console | None = None, quiet: bool = False):
        self.console = console or Console(stderr=True)
        self.quiet = quiet
        self.rich = self.console.is_terminal and not quiet
        self._bar: Progress | None = None
        self._task = None
        self._total = 0
        self._done = 0
        self._label = ""
        self._last_line = 0.0

    def log(self, message: str) -> None:
        if not self.quiet:
            self.console.print(message, highlight=False)

    def plain(self, message: str) -> None:
        """``message`` as it is, on one line: no markup (``bench[wandb]`` stays), not wrapped at the width."""
        if not self.quiet:
            self.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def warn(self, message: str) -> None:
        """A warning: shown even with --quiet (something the user must know happened)."""
        self.console.print(f"[yellow]warning:[/] {message}", highlight=False)

    def start(self, label: str, total: int, done: int = 0) -> None:
        self._label, self._total, self._done = label, total, done
        self._t0, self._done0 = time.perf_counter(), done
        if self.rich:
            self._bar = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("ETA"),
                TimeRemainingColumn(), console=self.console, transient=False)
            self._bar.start()
            self._task = self._bar.add_task(label, total=total, completed=done, info="")

    def update(self, done: int, info: str = "") -> None:
        self._done = done
        if self._bar is not None:
            self._bar.update(self._task, completed=done, info=info)
            return
        if self.quiet:
            return
        now = time.perf_counter()
        every = max(1, self._total // 10)
        if done == self._total or done % every == 0 or now - self._last_line > 30:
            self._last_line = now
            timing = self.timing(now)
            print(f"{self._label}: {done}/{self._total} {info}".rstrip() + (f" ({timing})" if timing else ""),
                  file=sys.stderr, flush=True)

    def timing(self, now: float | None = None) -> str:
        """``12s elapsed, ETA 1m05s`` from the rate since ``start``; empty before any progress."""
        elapsed = (now or time.perf_counter()) - self._t0
        done = self._done - self._done0
        if done <= 0 or elapsed <= 0:
            return ""
        left = (self._total - self._done) * elapsed / done
        return f"{duration(elapsed)} elapsed" + (f", ETA {duration(left)}" if self._done < self._total else "")

    def rate(self, items_per_unit: int = 1) -> float:
        elapsed = time.perf_counter() - self._t0
        return (self._done - self._done0) * items_per_unit / elapsed if elapsed > 0 else 0.0

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
