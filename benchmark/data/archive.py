"""Checksums and safe archive extraction (verified downloads: :mod:`benchmark.data.download`).

Everything that reads a file from outside the benchmark (a dataset archive, a
pretrained network) goes through here, so that a hostile or damaged archive
can never write outside its destination and a bad download never lands in
place under its final name.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Iterator

from benchmark.data.download import download, offline  # noqa: F401 (callers use archive.download)
from benchmark.data.unpack_limit import Budget, allowed_bytes, too_big
from benchmark.util.errors import DataError

_CHUNK = 1 << 20


# --------------------------------------------------------------------------- checksums


def sha256_file(path: Path, chunk: int = _CHUNK) -> str:
    """The hex sha256 of a file, read in chunks of ``chunk`` bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- extraction


def safe_extract(archive: Path, dest: Path) -> list[Path]:
    """Extract a tar (plain, gz, bz2, xz) or zip archive into ``dest``.

    Members that would land outside ``dest`` (absolute names, ``..``, links
    pointing outside) and device or fifo members are refused with a
    :class:`DataError`, and so is an archive whose files would unpack to more than
    :func:`allowed_bytes` (checked on the declared sizes before anything is written, and
    counted again while writing). The archive is unpacked into a temporary sibling of
    ``dest`` that is renamed into place only when everything succeeded; an
    existing ``dest`` is replaced. Returns the extracted (non-directory) paths.
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise DataError(f"{archive}: archive not found; check the path or download it again")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".extracting", dir=dest.parent))
    try:
        os.chmod(tmp, dest.parent.stat().st_mode & 0o777)  # mkdtemp's 0o700 would stick to dest
        names = _extract_any(archive, tmp)
        _move_into_place(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return sorted({dest.joinpath(*PurePosixPath(n).parts) for n in names})


def _extract_any(archive: Path, root: Path) -> list[str]:
    """Extract into ``root``; return the member names of non-directories."""
    try:
        if zipfile.is_zipfile(archive):
            return _extract_zip(archive, root)
        return _extract_tar(archive, root)
    except DataError:
        raise
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError) as e:
        raise _corrupt(archive, e) from e
    except OSError as e:
        if e.errno is not None:  # a real I/O problem (disk full, permissions), not bad data
            raise
        raise _corrupt(archive, e) from e


def _corrupt(archive: Path, error: BaseException) -> DataError:
    # tarfile explains a file it cannot open as one line per compression method it tried
    cause = "no tar or zip header found" if "could not be opened" in str(error) else " ".join(str(error).split())
    return DataError(
        f"{archive}: not a readable .tar/.tar.gz/.tar.bz2/.tar.xz/.zip archive, or truncated/corrupt "
        f"({cause}); delete it and download it again"
    )


def _refuse(archive: Path, member: str, why: str) -> DataError:
    return DataError(
        f"{archive}: refusing to extract member {member!r}: {why}; "
        f"the archive is unsafe, get it from a trusted source"
    )


def _move_into_place(tmp: Path, dest: Path) -> None:
    """Rename ``tmp`` to ``dest``, replacing an existing ``dest`` only at the end."""
    if not dest.exists() and not dest.is_symlink():
        os.replace(tmp, dest)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
    old.rmdir()
    os.replace(dest, old)
    try:
        os.replace(tmp, dest)
    except BaseException:
        os.replace(old, dest)
        raise
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink()


# ---- path checks shared by tar and zip


def _check_name(archive: Path, name: str) -> None:
    """Refuse absolute names and names with ``..`` components."""
    if name.startswith(("/", "\\")) or PurePosixPath(name).is_absolute() or _has_drive(name):
        raise _refuse(archive, name, "absolute path")
    if ".." in name.replace("\\", "/").split("/"):
        raise _refuse(archive, name, "'..' path component")


def _has_drive(name: str) -> bool:
    return len(name) >= 2 and name[1] == ":" and name[0].isalpha()


def _inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _check_lands_inside(archive: Path, root: str, name: str) -> None:
    """Refuse a member whose path, after following links already extracted, leaves ``root``."""
    if not _inside(root, os.path.realpath(os.path.join(root, name))):
        raise _refuse(archive, name, "its path leads outside the destination through a link")


# ---- tar


def _extract_tar(archive: Path, root: Path) -> list[str]:
    names: list[str] = []
    with tarfile.open(archive, mode="r:*") as tar:
        listed = tar.getmembers()  # reads every header (decompressing, writing nothing)
        limit = allowed_bytes(archive)
        declared = sum(m.size for m in listed if m.isreg())
        if declared > limit:
            raise too_big(archive, declared, limit, declared=True)
        members = _checked_tar_members(listed, archive, os.path.realpath(root), names, limit)
        if not hasattr(tarfile, "data_filter"):
            tar.extractall(root, members=members)
            return names
        try:  # the standard library's own checks, as a second line of defence
            tar.extractall(root, members=members, filter="data")
        except tarfile.FilterError as e:
            raise _refuse(archive, getattr(e.tarinfo, "name", "?"), str(e)) from e
    return names


def _checked_tar_members(
    listed: list[tarfile.TarInfo], archive: Path, root: str, names: list[str], limit: int
) -> Iterator[tarfile.TarInfo]:
    """Yield members one by one, each checked just before ``extractall`` writes it.

    The check runs lazily so that links extracted earlier are already on disk
    and ``realpath`` sees exactly what the extraction will follow.
    """
    written = 0
    for member in listed:
        _check_tar_member(archive, root, member)
        written += member.size if member.isreg() else 0
        if written > limit:
            raise too_big(archive, written, limit, declared=False)
        if not member.isdir():
            names.append(member.name)
        yield member


def _check_tar_member(archive: Path, root: str, member: tarfile.TarInfo) -> None:
    _check_name(archive, member.name)
    if member.isdev():
        raise _refuse(archive, member.name, "device or fifo member")
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        raise _refuse(archive, member.name, "unsupported member type")
    _check_lands_inside(archive, root, member.name)
    if member.issym():
        _check_symlink(archive, root, member)
    elif member.islnk():
        _check_hardlink(archive, root, member)


def _check_symlink(archive: Path, root: str, member: tarfile.TarInfo) -> None:
    if os.path.isabs(member.linkname):
        raise _refuse(archive, member.name, f"symlink to absolute path {member.linkname!r}")
    parent = os.path.realpath(os.path.join(root, os.path.dirname(member.name)))
    target = os.path.realpath(os.path.join(parent, member.linkname))
    if not _inside(root, target):
        raise _refuse(archive, member.name, f"symlink target {member.linkname!r} is outside the destination")


def _check_hardlink(archive: Path, root: str, member: tarfile.TarInfo) -> None:
    target = os.path.realpath(os.path.join(root, member.linkname))
    if os.path.isabs(member.linkname) or not _inside(root, target):
        raise _refuse(archive, member.name, f"hardlink target {member.linkname!r} is outside the destination")


# ---- zip


def _extract_zip(archive: Path, root: Path) -> list[str]:
    names: list[str] = []
    real_root = os.path.realpath(root)
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        limit = allowed_bytes(archive)
        declared = sum(i.file_size for i in infos)
        if declared > limit:
            raise too_big(archive, declared, limit, declared=True)
        budget = Budget(archive, limit)
        for info in infos:
            _check_name(archive, info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise _refuse(archive, info.filename, "symlink member (zip archives of a dataset hold none)")
            _check_lands_inside(archive, real_root, info.filename)
            try:
                _write_zip_member(zf, info, root, budget)
            except (NotADirectoryError, FileExistsError, IsADirectoryError) as e:
                raise _refuse(archive, info.filename, "its path collides with another member's "
                              f"({e.strerror})") from None
            if not info.is_dir():
                names.append(info.filename)
    return names


def _write_zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, root: Path,
                      budget: Budget) -> None:
    """Write one member below ``root``, counting its bytes against ``budget`` as they are copied."""
    target = root.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts)
    if info.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with zf.open(info) as src, open(target, "xb") as out:
        while block := src.read(_CHUNK):
            budget.spend(len(block))
            out.write(block)
