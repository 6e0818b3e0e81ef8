"""Verified downloads: a file lands under its final name only after its sha256 matched.

``BENCH_OFFLINE=1`` says there is no network; callers then name the ``bench ... import``
command that brings the file in by hand instead of trying to fetch it.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO, Callable

from benchmark.util.errors import DataError

_CHUNK = 1 << 20
_TIMEOUT_S = 60


def offline() -> bool:
    """True when the user said there is no network: BENCH_OFFLINE=1 (or true, yes, on)."""
    return os.environ.get("BENCH_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def download(
    url: str,
    dest: Path,
    sha256: str | None,
    *,
    description: str = "",
    offline_hint: str = "",
) -> Path:
    """Download ``url`` to ``dest``, verifying ``sha256`` (when given) before it lands.

    Data is streamed into ``<dest>.part``, which is renamed to ``dest`` only
    once the checksum matched; on any failure the ``.part`` file is removed.
    ``offline_hint`` is the command that imports the file without network.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        actual = _fetch(url, part, description or dest.name, offline_hint)
        if sha256 is not None and actual != sha256.lower():
            raise DataError(
                f"{url}: downloaded file for {dest} has sha256 {actual}, expected {sha256.lower()}; "
                f"the download was deleted, try again or fetch it from another mirror"
            )
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return dest


def _fetch(url: str, part: Path, label: str, offline_hint: str) -> str:
    """Stream ``url`` into ``part``; return the sha256 of what was written."""
    try:
        response = urllib.request.urlopen(url, timeout=_TIMEOUT_S)
    except (urllib.error.URLError, ValueError, OSError, http.client.HTTPException) as e:
        raise _unreachable(url, label, e, offline_hint) from e
    with response, open(part, "wb") as out:

        def read() -> bytes:
            try:
                return response.read(_CHUNK)
            except (OSError, http.client.HTTPException) as e:
                raise _unreachable(url, label, e, offline_hint) from e

        return _copy_with_progress(read, out, _content_length(response), label)


def _unreachable(url: str, label: str, error: BaseException, offline_hint: str) -> DataError:
    reason = getattr(error, "reason", None) or error
    hint = (
        f"download it on a machine with network and run `{offline_hint}`"
        if offline_hint
        else "check the network connection and the URL"
    )
    return DataError(f"{label}: the URL {url} could not be reached ({reason}); {hint}")


def _content_length(response) -> int | None:
    value = response.headers.get("Content-Length") if response.headers else None
    return int(value) if value and value.isdigit() else None


def _copy_with_progress(read: Callable[[], bytes], out: BinaryIO, total: int | None, label: str) -> str:
    digest = hashlib.sha256()
    with _progress(total, label) as advance:
        while block := read():
            out.write(block)
            digest.update(block)
            advance(len(block))
    return digest.hexdigest()


class _progress:
    """A rich download bar on a terminal; nothing otherwise. Used as a context manager."""

    def __init__(self, total: int | None, label: str):
        self.total, self.label = total, label
        self.bar = None

    def __enter__(self):
        from rich.console import Console

        console = Console(stderr=True)
        if not (console.is_terminal and sys.stderr.isatty()):
            return lambda n: None
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            console=console, transient=True,
        )
        self.bar.start()
        task = self.bar.add_task(self.label, total=self.total)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False
