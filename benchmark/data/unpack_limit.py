"""How much an archive may unpack to, so that a small hostile archive (a "bomb") cannot fill the disk.

The limit is checked twice: on the sizes the archive declares, before anything is written, and on
the bytes actually copied, for an archive that lies about its sizes.
"""

from __future__ import annotations

import contextlib
import contextvars
from pathlib import Path
from typing import Iterator

from benchmark.util.errors import DataError

#: without an explicit limit, an archive may unpack to this many times its own size, at least UNPACK_FLOOR bytes
UNPACK_RATIO = 50
UNPACK_FLOOR = 256 << 20
_LIMIT: contextvars.ContextVar[int | None] = contextvars.ContextVar("unpack_limit", default=None)


@contextlib.contextmanager
def unpack_limit(max_bytes: int | None) -> Iterator[None]:
    """Within the block, :func:`safe_extract` allows ``max_bytes`` unpacked bytes per archive
    (None: the default, ``UNPACK_RATIO`` times the archive's size but at least ``UNPACK_FLOOR``)."""
    token = _LIMIT.set(max_bytes)
    try:
        yield
    finally:
        _LIMIT.reset(token)


def allowed_bytes(archive: Path) -> int:
    """How many bytes ``archive`` may unpack to (see :func:`unpack_limit`)."""
    explicit = _LIMIT.get()
    if explicit is not None:
        return explicit
    return max(UNPACK_FLOOR, UNPACK_RATIO * Path(archive).stat().st_size)


def too_big(archive: Path, size: int, limit: int, declared: bool) -> DataError:
    what = (f"its files add up to {_gb(size)} unpacked" if declared
            else f"unpacking wrote {_gb(size)} (more than its headers declare)")
    return DataError(
        f"{archive}: {what}, more than the {_gb(limit)} allowed "
        f"(an archive bomb or the wrong file); nothing was kept; if the archive is trusted, raise the "
        f"limit with `bench datasets import NAME ARCHIVE --max-unpacked-gb N`"
    )


def _gb(n: int) -> str:
    return f"{n / 1e9:.3g} GB"


class Budget:
    """Bytes an archive may still write; :meth:`spend` raises once it is exceeded."""

    def __init__(self, archive: Path, limit: int):
        self.archive, self.limit, self.written = archive, limit, 0

    def spend(self, n: int) -> None:
        self.written += n
        if self.written > self.limit:
            raise too_big(self.archive, self.written, self.limit, declared=False)
