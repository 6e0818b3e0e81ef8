"""`bench datasets import` builds the new copy in a staging folder and checks all of it before it
replaces anything, so a failed or interrupted import leaves the copy already there as it was.

A staging folder is ``DATA_ROOT/.staging-NAME-PID-START`` (START: the process's start time), so the
next import can tell a folder whose process is gone (a SIGKILL) from a concurrent import's.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

PREFIX = ".staging-"
_NAME = re.compile(r"^\.staging-(?P<name>.+)-(?P<pid>\d+)-(?P<start>\d+)$")
PREVIOUS = "previous"   # inside a staging folder: the old copy while it is being replaced


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot) on Linux, "0" elsewhere; None: no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return "0"
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(pid: int, start: str) -> bool:
    if Path("/proc/self/stat").exists():
        return _start_time(pid) == start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def staging_folder(root: Path, name: str) -> Path:
    """This process's staging folder for dataset ``name`` (not created)."""
    pid = os.getpid()
    return Path(root) / f"{PREFIX}{name}-{pid}-{_start_time(pid) or '0'}"


def remove_stale(root: Path) -> list[Path]:
    """Delete staging folders whose import process is gone; returns them. A copy caught half-way
    through being replaced (its old version in ``previous/``, no new one in place) is put back."""
    removed = []
    root = Path(root)
    if not root.is_dir():
        return removed
    for folder in root.iterdir():
        match = _NAME.match(folder.name)
        if not match or not folder.is_dir() or _alive(int(match["pid"]), match["start"]):
            continue
        dest = root / match["name"]
        if (folder / PREVIOUS).is_dir() and not dest.exists():
            os.replace(folder / PREVIOUS, dest)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def install(new: Path, dest: Path, stage: Path) -> None:
    """Move the checked copy ``new`` to ``dest``; an old ``dest`` is kept in ``stage`` until then."""
    if dest.exists() or dest.is_symlink():
        os.replace(dest, stage / PREVIOUS)
    try:
        os.replace(new, dest)
    except BaseException:
        if (stage / PREVIOUS).exists():
            os.replace(stage / PREVIOUS, dest)
        raise
