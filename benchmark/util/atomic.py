"""One way to write a file so that a reader never sees half of it: ``atomic_write``.

The content goes to a uniquely named temporary file in the same folder, which is
renamed over the target only when writing succeeded; on any error (a full disk,
an interrupt) the temporary file is removed and the old target is left as it was.
The file gets the permissions of a file the user creates (0666 less the umask), not the
0600 of a temporary file, so teammates and web servers read what bench publishes.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator


@contextlib.contextmanager
def atomic_write(path: Path, *, binary: bool = False, newline: str | None = None,
                 durable: bool = True) -> Iterator[IO]:
    """``with atomic_write(path) as fh: fh.write(...)``: ``path`` appears complete or not at all.

    Works with anything that writes to an open file: ``torch.save(obj, fh)``,
    ``image.save(fh, format="PNG")``, ``csv.writer(fh)`` (pass ``newline=""``). ``durable``
    also flushes the content to the disk before the rename (off for bulk images, where a
    power cut at worst costs regenerating them).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if os.name == "posix":
            os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"newline": newline,
                                                                           "encoding": "utf-8"})) as fh:
            fh.temp_path = tmp  # for a check of the written bytes before they replace the target
            yield fh
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def current_umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux), else by
    setting and restoring it."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text(path: Path, text: str) -> None:
    with atomic_write(path) as fh:
        fh.write(text)


def write_json(path: Path, data: Any, *, indent: int | None = 2) -> None:
    write_text(path, json.dumps(data, indent=indent, default=str, sort_keys=False))

