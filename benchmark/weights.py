"""The one place that resolves pretrained files (feature extractors, inception, ...).

A plugin describes each file it needs with a :class:`WeightSpec` and calls
:func:`register` at import time; when it needs the file it calls
:func:`resolve`, which returns a verified path in the cache, downloads it when
allowed, or fails with one line saying how to import it by hand. Nothing here
touches the network at import time.

The checksum of a verified file is remembered in ``<file>.sha256`` together
with its size and modification time, so a large file is hashed once, not on
every run.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from benchmark import archive
from benchmark.atomic import atomic_write, write_text
from benchmark.errors import DataError, PluginError, WeightsError

PRESENT, MISSING, BAD_CHECKSUM = "present", "missing", "bad checksum"

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class WeightSpec:
    """A pretrained file: where it lives in the cache, its checksum, where it comes from."""

    name: str  # e.g. "vgg19-imagenet"
    filename: str  # file name in the cache
    sha256: str | None  # None: accepted as-is, checksum recorded
    url: str | None  # where it is downloaded from when online
    summary: str = ""
    source: str = ""  # provenance / licence text shown by `bench weights list`


_REGISTRY: dict[str, WeightSpec] = {}


# --------------------------------------------------------------------------- registry


def cache_dir() -> Path:
    """``$BENCH_WEIGHTS_DIR``, else ``~/.cache/bench/weights`` (not created here)."""
    configured = os.environ.get("BENCH_WEIGHTS_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "bench" / "weights"


def register(spec: WeightSpec) -> None:
    """Add ``spec`` to the registry; registering the identical spec again is a no-op."""
    _validate(spec)
    known = _REGISTRY.get(spec.name)
    if known is not None and known != spec:
        raise PluginError(
            f"weights {spec.name!r} registered twice with different specs: {known} and {spec}; "
            f"give one of them another name"
        )
    _REGISTRY[spec.name] = spec


def _validate(spec: WeightSpec) -> None:
    if not spec.name or not spec.filename:
        raise PluginError(f"weights spec {spec}: name and filename must not be empty; fill them in")
    if spec.filename in (".", "..") or "/" in spec.filename or "\\" in spec.filename:
        raise PluginError(
            f"weights {spec.name!r}: filename {spec.filename!r} must be a plain file name; drop the directories"
        )
    if spec.sha256 is not None and not _SHA256.fullmatch(spec.sha256):
        raise PluginError(
            f"weights {spec.name!r}: sha256 {spec.sha256!r} is not 64 lower-case hex digits; fix or set None"
        )


def registered() -> dict[str, WeightSpec]:
    """A copy of the registry, sorted by name."""
    return dict(sorted(_REGISTRY.items()))


def get(name: str) -> WeightSpec:
    """The spec registered under ``name``; unknown names list the known ones, closest first."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise WeightsError(f"unknown weights {name!r}; {_known_names(name)}") from None


def _known_names(name: str) -> str:
    names = list(_REGISTRY)
    if not names:
        return "no weights are registered (is the plugin that needs them installed?)"
    ranked = difflib.get_close_matches(name, names, n=len(names), cutoff=0.0)
    ranked += sorted(n for n in names if n not in ranked)
    return "known (closest first): " + ", ".join(ranked) + "; see `bench weights list`"


def _as_spec(spec_or_name: WeightSpec | str) -> WeightSpec:
    return spec_or_name if isinstance(spec_or_name, WeightSpec) else get(spec_or_name)


def cached_path(spec_or_name: WeightSpec | str) -> Path:
    """Where the file of a spec lives in the cache (whether or not it is there)."""
    return cache_dir() / _as_spec(spec_or_name).filename


def import_command(spec_or_name: WeightSpec | str, file: str = "FILE") -> str:
    """The command that puts a file downloaded by hand into the cache."""
    return f"bench weights import {_as_spec(spec_or_name).name} {file}"


# --------------------------------------------------------------------------- resolving


def resolve(spec_or_name: WeightSpec | str, *, download: bool | None = None) -> Path:
    """A verified path to the file of a spec, downloading it when allowed.

    ``download=None`` allows downloading unless ``BENCH_OFFLINE`` is set to 1.
    A cached file with a wrong checksum is an error, never silently replaced.
    """
    spec = _as_spec(spec_or_name)
    path = cached_path(spec)
    if path.is_file():
        _check_cached(spec, path)
        return path
    if not _download_allowed(download):
        reason = "downloading is disabled" if download is False else "offline (BENCH_OFFLINE is set)"
        raise _missing(spec, path, reason)
    if spec.url is None:
        raise _missing(spec, path, "no download URL is known")
    try:
        # no offline_hint: the error below already names the import command
        archive.download(spec.url, path, spec.sha256, description=spec.name)
    except DataError as e:
        raise _missing(spec, path, f"download failed: {e}") from e
    _remember(path, spec.sha256 or archive.sha256_file(path))
    return path


def _download_allowed(download: bool | None) -> bool:
    if download is not None:
        return download
    return not archive.offline()


def _missing(spec: WeightSpec, path: Path, reason: str) -> WeightsError:
    sha = spec.sha256 or "not pinned"
    url = spec.url or "unknown"
    return WeightsError(
        f"weights {spec.name!r}: {spec.filename} (sha256 {sha}) is not in {path.parent}: {reason}; "
        f"download {url} and run `{import_command(spec)}`"
    )


def _check_cached(spec: WeightSpec, path: Path) -> None:
    actual = _checksum(path)
    if spec.sha256 is not None and actual != spec.sha256:
        raise WeightsError(
            f"weights {spec.name!r}: {path} has sha256 {actual}, expected {spec.sha256}; "
            f"delete it to download it again, or run `{import_command(spec)}` with a good copy"
        )


# --------------------------------------------------------------------------- checksum sidecar


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _checksum(path: Path) -> str:
    """The sha256 of ``path``, from the sidecar when size and mtime still match."""
    stat = path.stat()
    recorded = _read_sidecar(path)
    if recorded and recorded.get("size") == stat.st_size and recorded.get("mtime_ns") == stat.st_mtime_ns:
        return recorded["sha256"]
    actual = archive.sha256_file(path)
    _remember(path, actual)
    return actual


def _read_sidecar(path: Path) -> dict | None:
    try:
        recorded = json.loads(_sidecar(path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict) or not _SHA256.fullmatch(str(recorded.get("sha256", ""))):
        return None
    return recorded


def _remember(path: Path, sha256: str) -> None:
    """Write the sidecar atomically; a read-only cache only costs a re-hash next time."""
    stat = path.stat()
    record = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    try:
        write_text(_sidecar(path), json.dumps(record) + "\n")
    except OSError:
        pass


# --------------------------------------------------------------------------- import and status


def import_file(name: str, file: Path) -> Path:
    """Copy a file obtained by hand into the cache, after verifying its checksum."""
    spec = get(name)
    file = Path(file)
    if not file.is_file():
        raise WeightsError(f"weights {name!r}: {file} does not exist or is not a file; check the path")
    path = cached_path(spec)
    with atomic_write(path, binary=True) as out:  # a refused file never replaces the cached one
        actual = _copy_hashing(file, out)
        out.flush()
        _verify_import(spec, file, actual)
    _remember(path, actual)
    return path


def _copy_hashing(src: Path, out) -> str:
    digest = hashlib.sha256()
    with open(src, "rb") as f:
        while block := f.read(_CHUNK):
            out.write(block)
            digest.update(block)
    return digest.hexdigest()


def _verify_import(spec: WeightSpec, file: Path, actual: str) -> None:
    if spec.sha256 is not None and actual != spec.sha256:
        where = f"download {spec.url}" if spec.url else "get the right file"
        raise WeightsError(
            f"weights {spec.name!r}: {file} has sha256 {actual}, expected {spec.sha256} "
            f"for {spec.filename}; it is the wrong file or damaged, {where} and import it again"
        )


def status(spec_or_name: WeightSpec | str) -> str:
    """``"present"``, ``"missing"`` or ``"bad checksum"``; never downloads."""
    spec = _as_spec(spec_or_name)
    path = cached_path(spec)
    if not path.is_file():
        return MISSING
    if spec.sha256 is not None and _checksum(path) != spec.sha256:
        return BAD_CHECKSUM
    return PRESENT
