"""Safe extraction and verified downloads; no network is used (file:// URLs only)."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from benchmark.data.archive import download, safe_extract, sha256_file
from benchmark.util.errors import DataError

# ---------------------------------------------------------------- helpers


def _file(name: str, data: bytes = b"payload") -> tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, io.BytesIO(data)


def _link(name: str, target: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def _special(name: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    return info, None


def _make_tar(path: Path, members, mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            tar.addfile(info, data)
    return path


def _make_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return path


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


# ---------------------------------------------------------------- sha256


def test_sha256_file_matches_hashlib(tmp_path):
    data = os.urandom(3000)
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_file(path, chunk=1000) == hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- good archives


@pytest.mark.parametrize("suffix,mode", [(".tar", "w"), (".tar.gz", "w:gz"), (".tar.bz2", "w:bz2"), (".tar.xz", "w:xz")])
def test_good_tar_round_trip(tmp_path, suffix, mode):
    archive = _make_tar(
        tmp_path / f"good{suffix}",
        [
            _file("top.txt", b"top"),
            _special("sub", tarfile.DIRTYPE),
            _file("sub/inner.txt", b"inner"),
            _link("sub/alias", "inner.txt", tarfile.SYMTYPE),
            _link("hard.txt", "top.txt", tarfile.LNKTYPE),
        ],
        mode,
    )
    dest = tmp_path / "out"
    paths = safe_extract(archive, dest)
    assert paths == sorted([dest / "top.txt", dest / "sub/inner.txt", dest / "sub/alias", dest / "hard.txt"])
    assert (dest / "top.txt").read_bytes() == b"top"
    assert (dest / "sub/inner.txt").read_bytes() == b"inner"
    assert (dest / "sub/alias").read_bytes() == b"inner"
    assert (dest / "hard.txt").read_bytes() == b"top"
    assert _leftovers(tmp_path) == []


def test_good_zip_round_trip(tmp_path):
    archive = _make_zip(tmp_path / "good.zip", {"a.txt": b"alpha", "dir/": b"", "dir/b.txt": b"beta"})
    dest = tmp_path / "out"
    paths = safe_extract(archive, dest)
    assert paths == [dest / "a.txt", dest / "dir/b.txt"]
    assert (dest / "dir/b.txt").read_bytes() == b"beta"
    assert _leftovers(tmp_path) == []


def test_existing_destination_is_replaced(tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "stale.txt").write_text("old")
    safe_extract(_make_zip(tmp_path / "good.zip", {"fresh.txt": b"new"}), dest)
    assert sorted(p.name for p in dest.iterdir()) == ["fresh.txt"]
    assert _leftovers(tmp_path) == []


# ---------------------------------------------------------------- hostile tar members


@pytest.mark.parametrize(
    "members,bad",
    [
        ([_file("ok.txt"), _file("../evil")], "../evil"),
        ([_file("/tmp/abs-evil")], "/tmp/abs-evil"),
        ([_file("sub/../../evil")], "sub/../../evil"),
        ([_link("link", "../../outside", tarfile.SYMTYPE)], "link"),
        ([_link("link", "/etc/passwd", tarfile.SYMTYPE)], "link"),
        ([_link("hard", "../outside", tarfile.LNKTYPE)], "hard"),
        ([_link("hard", "/etc/passwd", tarfile.LNKTYPE)], "hard"),
        # a symlink to '.' is harmless alone, but makes 'sub/x -> ../evil' escape
        ([_link("sub", ".", tarfile.SYMTYPE), _link("sub/x", "../evil", tarfile.SYMTYPE)], "sub/x"),
        # a symlink inside, then a file written through a link that leads out
        ([_link("up", "..", tarfile.SYMTYPE)], "up"),
        ([_special("dev", tarfile.CHRTYPE)], "dev"),
        ([_special("blk", tarfile.BLKTYPE)], "blk"),
        ([_special("pipe", tarfile.FIFOTYPE)], "pipe"),
    ],
    ids=["dotdot", "absolute", "nested-dotdot", "symlink-rel", "symlink-abs", "hardlink-rel",
         "hardlink-abs", "symlink-chain", "symlink-up", "chardev", "blockdev", "fifo"],
)
def test_hostile_tar_is_refused(tmp_path, members, bad):
    archive = _make_tar(tmp_path / "evil.tar.gz", members, "w:gz")
    dest = tmp_path / "box" / "out"
    with pytest.raises(DataError) as err:
        safe_extract(archive, dest)
    message = str(err.value)
    assert str(archive) in message and repr(bad) in message and "\n" not in message
    assert not dest.exists()
    assert _leftovers(dest.parent) == []
    assert not (tmp_path / "evil").exists() and not (tmp_path / "box" / "evil").exists()


# ---------------------------------------------------------------- hostile zip entries


@pytest.mark.parametrize("name", ["../evil", "/abs/evil", "a/../../evil", "..\\evil", "C:/evil"])
def test_hostile_zip_is_refused(tmp_path, name):
    archive = _make_zip(tmp_path / "evil.zip", {"ok.txt": b"ok", name: b"x"})
    dest = tmp_path / "box" / "out"
    with pytest.raises(DataError) as err:
        safe_extract(archive, dest)
    assert str(archive) in str(err.value) and repr(name) in str(err.value)
    assert not dest.exists()
    assert _leftovers(dest.parent) == []


# ---------------------------------------------------------------- broken archives


def test_truncated_tar_gz(tmp_path):
    good = _make_tar(tmp_path / "good.tar.gz", [_file("big.bin", os.urandom(200_000))], "w:gz")
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    dest = tmp_path / "out"
    with pytest.raises(DataError, match="truncated"):
        safe_extract(truncated, dest)
    assert not dest.exists()
    assert _leftovers(tmp_path) == []


def test_truncated_zip(tmp_path):
    good = _make_zip(tmp_path / "good.zip", {"big.bin": os.urandom(50_000)})
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(good.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated"):
        safe_extract(truncated, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_corrupt_zip_member(tmp_path):
    data = b"A" * 10_000
    good = _make_zip(tmp_path / "good.zip", {"a.txt": data})
    raw = bytearray(good.read_bytes())
    start = raw.index(b"a.txt") + len("a.txt") + 4  # inside the compressed data
    raw[start : start + 8] = b"\xff" * 8
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="corrupt"):
        safe_extract(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("content", [b"just some text, not an archive\n" * 40, b"", b"\x1f\x8bnot really gzip"])
def test_not_an_archive(tmp_path, content):
    path = tmp_path / "data.tar.gz"
    path.write_bytes(content)
    with pytest.raises(DataError) as err:
        safe_extract(path, tmp_path / "out")
    assert str(path) in str(err.value)
    assert not (tmp_path / "out").exists()
    assert _leftovers(tmp_path) == []


def test_missing_archive(tmp_path):
    with pytest.raises(DataError, match="not found"):
        safe_extract(tmp_path / "nope.zip", tmp_path / "out")


# ---------------------------------------------------------------- download


@pytest.fixture
def source(tmp_path) -> tuple[Path, str]:
    path = tmp_path / "remote" / "file.bin"
    path.parent.mkdir()
    path.write_bytes(os.urandom(5000))
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_file_url_with_right_sha(tmp_path, source):
    src, digest = source
    dest = tmp_path / "cache" / "file.bin"
    assert download(src.as_uri(), dest, digest) == dest
    assert dest.read_bytes() == src.read_bytes()
    assert not dest.with_name("file.bin.part").exists()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["file.bin"]


def test_download_uppercase_sha_and_no_sha(tmp_path, source):
    src, digest = source
    assert download(src.as_uri(), tmp_path / "a.bin", digest.upper()).exists()
    assert download(src.as_uri(), tmp_path / "b.bin", None).read_bytes() == src.read_bytes()


def test_download_wrong_sha(tmp_path, source):
    src, digest = source
    dest = tmp_path / "cache" / "file.bin"
    wrong = "0" * 64
    with pytest.raises(DataError) as err:
        download(src.as_uri(), dest, wrong)
    message = str(err.value)
    assert wrong in message and digest in message and "\n" not in message
    assert list(dest.parent.iterdir()) == []


def test_download_missing_url(tmp_path):
    url = (tmp_path / "does-not-exist.bin").as_uri()
    dest = tmp_path / "cache" / "file.bin"
    with pytest.raises(DataError) as err:
        download(url, dest, None, offline_hint="bench weights import thing FILE")
    message = str(err.value)
    assert url in message and "could not be reached" in message
    assert "bench weights import thing FILE" in message
    assert list(dest.parent.iterdir()) == []


def test_download_malformed_url(tmp_path):
    with pytest.raises(DataError, match="could not be reached"):
        download("not-a-url", tmp_path / "x.bin", None)
