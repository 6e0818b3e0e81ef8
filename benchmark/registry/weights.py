"""The one place that resolves pretrained files (feature extractors, inception, ...).

A plugin describes each file it needs with a :class:`WeightSpec` and registers it
through the ``register_weights`` hook, like every other plugin object; the
specs are read from :func:`benchmark.registry.plugins.default` (``.weights``). When it
needs the file the plugin calls :func:`resolve` with its spec, which returns a
verified path in the cache, downloads it when allowed, or fails with one line
saying how to import it by hand. Nothing here touches the network at import time.

A file whose sha256 is not pinned is checked by structure when it is imported
(:func:`import_file`): it must load with ``torch.load(..., weights_only=True)``,
pass the spec's ``check`` and, where the published file name carries the first
hex digits of its sha256 (torchvision's ``vgg19-dcbb9e9d.pth``), match them.

The checksum of a verified file is remembered in ``<file>.sha256`` together
with its size and modification time, so a large file is hashed once, not on
every run; ``bench weights list`` shows it.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from pathlib import Path

from benchmark.data import archive
from benchmark.registry.weight_spec import SHA256, WeightSpec, command_to_import
from benchmark.util.atomic import atomic_write, write_text
from benchmark.util.errors import DataError, WeightsError

PRESENT, MISSING, BAD_CHECKSUM = "present", "missing", "bad checksum"

_CHUNK = 1 << 20

# --------------------------------------------------------------------------- registry


def cache_dir() -> Path:
    """``$BENCH_WEIGHTS_DIR``, else ``~/.cache/bench/weights`` (not created here)."""
    configured = os.environ.get("BENCH_WEIGHTS_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "bench" / "weights"


def registered() -> dict[str, WeightSpec]:
    """Every spec the installed plugins register, sorted by name."""
    from benchmark.registry import plugins as registry

    return {entry.name: entry.obj for entry in registry.default().weights}


def get(name: str) -> WeightSpec:
    """The spec registered under ``name``; unknown names list the known ones, closest first."""
    known = registered()
    try:
        return known[name]
    except KeyError:
        raise WeightsError(f"unknown weights {name!r}; {_known_names(name, list(known))}") from None


def _known_names(name: str, names: list[str]) -> str:
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
    return command_to_import(_as_spec(spec_or_name), file)


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
    if not isinstance(recorded, dict) or not SHA256.fullmatch(str(recorded.get("sha256", ""))):
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


def import_file(spec_or_name: WeightSpec | str, file: Path) -> Path:
    """Copy a file obtained by hand into the cache, after verifying it.

    A pinned sha256 must match; an unpinned file must load as a state dict that passes
    the spec's ``check`` and carry the hash prefix of its published name. Its sha256 is
    recorded either way.
    """
    spec = _as_spec(spec_or_name)
    file = Path(file)
    if not file.is_file():
        raise WeightsError(f"weights {spec.name!r}: {file} does not exist or is not a file; check the path")
    path = cached_path(spec)
    with atomic_write(path, binary=True) as out:  # a refused file never replaces the cached one
        actual = _copy_hashing(file, out)
        out.flush()
        _verify_import(spec, file, actual, Path(out.temp_path))
    _remember(path, actual)
    return path


def _copy_hashing(src: Path, out) -> str:
    digest = hashlib.sha256()
    with open(src, "rb") as f:
        while block := f.read(_CHUNK):
            out.write(block)
            digest.update(block)
    return digest.hexdigest()


def _verify_import(spec: WeightSpec, file: Path, actual: str, copy: Path) -> None:
    where = f"download {spec.url}" if spec.url else "get the right file"
    if spec.sha256 is not None:
        if actual != spec.sha256:
            raise WeightsError(
                f"weights {spec.name!r}: {file} has sha256 {actual}, expected {spec.sha256} "
                f"for {spec.filename}; it is the wrong file or damaged, {where} and import it again")
        return
    if spec.check is not None:
        reason = _structure_problem(spec, copy)
        if reason:
            raise WeightsError(f"weights {spec.name!r}: {file} {reason}, so it is not {spec.filename}; "
                               f"{where} and import that file")
    if spec.hash_prefix and not actual.startswith(spec.hash_prefix):
        raise WeightsError(
            f"weights {spec.name!r}: {file} has sha256 {actual}, but the published {spec.filename} starts with "
            f"{spec.hash_prefix}; it is another file or damaged, {where} and import it again")


def _structure_problem(spec: WeightSpec, copy: Path) -> str | None:
    """Why the file is not the expected network, or None; loads it without running any pickled code."""
    import torch

    try:
        state = torch.load(copy, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch's own message suggests unsafe loading; keep only the kind
        return f"is not a torch state dict (it does not load with weights_only=True: {type(exc).__name__})"
    state = unwrap_state_dict(state)
    if not isinstance(state, dict):
        return f"holds a {type(state).__name__}, not a state dict"
    return spec.check(state)


def unwrap_state_dict(state):
    """A checkpoint's ``state_dict`` entry when it has one, else ``state`` itself."""
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        return state["state_dict"]
    return state


def strip_module_prefix(state: dict) -> dict:
    """``state`` without the ``module.`` prefix that saving a DataParallel-wrapped network puts on every
    key (files of other code bases often have it); a state dict without it is returned as it is."""
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return state


def recorded_sha256(spec_or_name: WeightSpec | str) -> str | None:
    """The sha256 of the cached file as pinned, or as recorded when it was imported or downloaded."""
    spec = _as_spec(spec_or_name)
    if spec.sha256 is not None:
        return spec.sha256
    path = cached_path(spec)
    if not path.is_file():
        return None
    return _checksum(path)


def status(spec_or_name: WeightSpec | str) -> str:
    """``"present"``, ``"missing"`` or ``"bad checksum"``; never downloads."""
    spec = _as_spec(spec_or_name)
    path = cached_path(spec)
    if not path.is_file():
        return MISSING
    if spec.sha256 is not None and _checksum(path) != spec.sha256:
        return BAD_CHECKSUM
    return PRESENT
