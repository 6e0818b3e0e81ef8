"""The one staged import of a dataset: a new copy is built in a staging folder and checked whole
before it replaces anything, so a failed or interrupted import leaves the copy already there as it was.

Two halves, used by every dataset plugin, ``bench datasets import`` and the downloads of ``bench run``:

- the plugin's half, :func:`import_sources`: each archive unpacked (each folder read in place, or
  copied), the plugin's ``build`` writes the dataset's folder from them, a ``MANIFEST.json`` names
  the sources (and their sha256); nothing is left behind on an error;
- the harness's half, :func:`import_dataset`: the plugin's import runs into a staging folder of the
  data root, the caller's check reads the new copy, and only then it replaces the old one;
  :func:`download_and_import` fetches a public archive first.

A staging folder is ``DATA_ROOT/.staging-NAME-PID-START`` (START: the process's start time), so the
next import can tell a folder whose process is gone (a SIGKILL) from a concurrent import's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from benchmark.util.errors import DataError

if TYPE_CHECKING:
    from benchmark.data.dataset import Dataset

PREFIX = ".staging-"
_NAME = re.compile(r"^\.staging-(?P<name>.+)-(?P<pid>\d+)-(?P<start>\d+)$")
PREVIOUS = "previous"   # inside a staging folder: the old copy while it is being replaced
#: inside a folder being built: where the archives are unpacked (removed once the plugin built it)
UNPACKED = ".unpacked"


# ---------------------------------------------------------------- finding folders in a release

def find_dirs(trees: Path | Sequence[Path], relative: str) -> list[Path]:
    """Every ``relative`` folder at the top of one of ``trees`` or one level down (an archive often
    wraps its content in a folder), in tree order."""
    found = []
    for tree in [trees] if isinstance(trees, Path) else trees:
        for base in [tree, *sorted(p for p in Path(tree).iterdir() if p.is_dir())]:
            if (base / relative).is_dir():
                found.append(base / relative)
    return found


def find_dir(trees: Path | Sequence[Path], relative: str) -> Path | None:
    """The first of :func:`find_dirs`, or None."""
    found = find_dirs(trees, relative)
    return found[0] if found else None


# ---------------------------------------------------------------- the plugin's half

@dataclass(frozen=True)
class Unpacked:
    """The sources of an import as a plugin's ``build`` reads them."""

    #: the paths the user gave (archives or folders)
    sources: list[Path]
    #: one per source: the unpacked archive, or the folder itself (read in place, never changed)
    trees: list[Path]
    #: one per source: the archive's sha256, None for a folder
    sha256: list[str | None]

    @property
    def movable(self) -> bool:
        """Whether every tree is an unpacked archive, so files may be moved out of it, not copied."""
        return all(s is not None for s in self.sha256)

    def shown(self) -> str:
        """The sources for a message: ``a.zip + b.zip``."""
        return " + ".join(str(s) for s in self.sources)


def import_sources(sources: Sequence[Path], dest: Path, build: Callable[[Unpacked, Path], dict | None], *,
                   whole: bool = False, checksum: bool = True,
                   hint: str = "pass the archive or its unpacked folder") -> Path:
    """Write the dataset folder ``dest`` (which must not exist yet) from ``sources``.

    ``whole``: one source whose content is the dataset folder itself; the archive is unpacked as
    ``dest`` (a folder copied), and ``build`` checks or trims it there (its trees: ``[dest]``).
    Otherwise each archive is unpacked under ``dest`` (a folder is read in place), ``build`` writes
    the dataset's files into ``dest`` from ``Unpacked.trees``, and the unpacked trees are removed.

    ``build`` returns what else MANIFEST.json records (or None). The manifest names the sources, with
    the sha256 of each archive; with one archive and ``checksum``, its sha256 is also the manifest's
    ``sha256``, the one ``bench datasets verify`` compares with the published checksum.
    """
    sources = [Path(s) for s in sources]
    for src in sources:
        if not src.exists():
            raise DataError(f"{src}: no such file or folder; {hint}")
    if whole and len(sources) != 1:
        raise DataError(f"{' + '.join(map(str, sources))}: this dataset is imported from one archive or folder, "
                        f"got {len(sources)}; {hint}")
    dest = Path(dest)
    if dest.exists():
        raise DataError(f"{dest}: already exists; `bench datasets import` replaces a copy safely")
    from benchmark.data.archive import safe_extract, sha256_file

    try:
        if not whole:
            dest.mkdir(parents=True)
        trees, digests = [], []
        for i, src in enumerate(sources):
            digest = None if src.is_dir() else sha256_file(src)
            tree = dest if whole else dest / UNPACKED / str(i)
            if digest is not None:
                safe_extract(src, tree)
            elif whole:
                shutil.copytree(src, dest, symlinks=False)
            else:
                tree = src
            trees.append(tree)
            digests.append(digest)
        extra = build(Unpacked(sources, trees, digests), dest) or {}
        shutil.rmtree(dest / UNPACKED, ignore_errors=True)
        manifest: dict = {"sources": [{"path": str(s.resolve()), **({"sha256": d} if d else {})}
                                      for s, d in zip(sources, digests)]}
        if len(sources) == 1:
            manifest["source"] = manifest["sources"][0]["path"]
            if checksum and digests[0]:
                manifest["sha256"] = digests[0]
        manifest.update(extra)
        (dest / "MANIFEST.json").write_text(json.dumps(manifest, indent=2))
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return dest


# ---------------------------------------------------------------- the harness's half

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


def shown(message: str, stage: Path, sources: Sequence[Path]) -> str:
    """A message about the staging copy, with its files named as the user knows them: a file unpacked
    from source i as ``SOURCE_i: inner/path``, any other (``STAGE/NAME/inner/path``) as ``SOURCE: inner/path``."""
    stage_re = re.escape(str(stage))
    for i, src in enumerate(sources):
        message = re.sub(stage_re + r"/[^/\s]+/" + re.escape(f"{UNPACKED}/{i}") + r"(/|\b)",
                         lambda m, src=src: f"{src}: " if m.group(1) == "/" else str(src), message)
    first = str(sources[0]) if sources else ""
    message = re.sub(stage_re + r"/[^/\s]+/", lambda m: f"{first}: ", message)
    return re.sub(stage_re + r"(/[^/\s]+)?", lambda m: first, message)


def import_dataset(spec: "Dataset", sources: Sequence[Path], root: Path,
                   check: Callable[[Path], None] | None = None) -> Path:
    """Import ``sources`` as dataset ``spec`` under ``root``: the plugin's ``import_files`` writes the new
    copy in a staging folder, ``check(stage)`` reads it there (a data root holding only the new copy),
    and only then it replaces ``root/NAME``. A DataError names the user's paths and says that the old
    copy was left as it was."""
    sources = [Path(s) for s in sources]
    root = Path(root)
    dest = spec.directory(root)
    root.mkdir(parents=True, exist_ok=True)
    remove_stale(root)
    stage = staging_folder(root, spec.name)
    try:
        stage.mkdir()
        try:
            spec.import_files(sources, stage)
            if check is not None:
                check(stage)
        except DataError as exc:
            kept = f"; {dest} was left as it was" if dest.exists() else ""
            raise DataError(shown(str(exc), stage, sources) + kept) from None
        install(spec.directory(stage), dest, stage)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return dest


def download_and_import(spec: "Dataset", root: Path, archive: str, *, size: str = "", keep: bool = False) -> Path:
    """``Dataset.prepare`` for a dataset with a public archive (``spec.source.url``, checked against
    ``spec.source.sha256`` when set): offline (``BENCH_OFFLINE=1``), the missing-data message; else the
    archive is fetched into ``DATA_ROOT/downloads/`` and imported as ``bench datasets import`` does,
    then deleted unless ``keep``."""
    from benchmark.data.download import download, offline

    root = Path(root)
    if offline() or not spec.source.url:
        raise DataError(spec.missing_message(spec.directory(root)))
    path = root / "downloads" / archive
    if not path.exists():
        download(spec.source.url, path, spec.source.sha256,
                 description=f"{spec.name} ({archive}{', ' + size if size else ''})",
                 offline_hint=f"bench datasets import {spec.name} {archive}")
    folder = import_dataset(spec, [path], root)
    if not keep:
        path.unlink()
    return folder
