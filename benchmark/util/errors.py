"""Errors a user can cause. The CLI prints them as one line and exits non-zero."""


class BenchError(Exception):
    """A problem the user can fix: bad option, missing data, corrupt file, ...

    The message must name the thing (option, file, plugin) and say how to fix it.
    """

    exit_code = 2


class ConfigError(BenchError):
    """An invalid option value or an unknown option."""


class DataError(BenchError):
    """Missing, corrupt or inconsistent dataset files."""


class PluginError(BenchError):
    """Unknown plugin name, duplicate registration, broken plugin."""


class WeightsError(BenchError):
    """A pretrained file that is missing or fails its checksum."""


class TrainingDiverged(Exception):
    """A loss became NaN or infinite; the model's run is recorded as failed."""


class DiskFull(BenchError):
    """The disk filled up: the command stopped cleanly and can be run again once space is freed."""


def disk_full(exc: BaseException, folder: object = None) -> DiskFull | None:
    """A :class:`DiskFull` naming the folder when ``exc`` or anything it was raised from or while
    handling is a full disk (ENOSPC/EDQUOT, SQLite's "database or disk is full", or a SQLite
    "disk I/O error" on an almost full disk); None otherwise. ``folder`` is named when the error
    itself names no file."""
    import errno
    import shutil
    from pathlib import Path

    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, DiskFull):
            return e
        where = Path(e.filename).parent if isinstance(e, OSError) and e.filename else folder
        text = str(e)
        full = (isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)) or "disk is full" in text
        if not full and "disk I/O error" in text and where is not None:
            try:
                full = shutil.disk_usage(_existing(Path(where))).free < (1 << 20)
            except OSError:
                full = False
        if full:
            return DiskFull(_full_message(Path(where) if where is not None else Path.cwd()))
        stack.extend([e.__cause__, e.__context__])
    return None


def _existing(path):
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _full_message(folder) -> str:
    import shutil

    try:
        free = shutil.disk_usage(_existing(folder)).free
        left = f", {free / 1e6:.1f} MB free"
    except OSError:
        left = ""
    return (f"{folder}: no space left on the disk holding it{left}; free some space there (or choose another "
            f"folder with --output-root/--data-root) and run the command again (`bench run ... --resume` "
            f"continues a run from its last checkpoint)")


class Terminated(KeyboardInterrupt):
    """SIGTERM reached a single-process run (a scheduler's time limit or preemption, `kill PID`): it
    unwinds like Ctrl-C, so the run folder says "interrupted" and `--resume` continues it."""

    exit_code = 143  # 128 + SIGTERM, what a process killed by SIGTERM reports
