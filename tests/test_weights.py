"""Resolving pretrained files: the register_weights hook, cache, checksums, offline errors, import;
file:// URLs only."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from benchmark import hookimpl, registry, weights
from benchmark.errors import PluginError, WeightsError
from benchmark.weights import WeightSpec

PAYLOAD = b"pretend these are network weights\n" * 100
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


class Provides:
    """A plugin module stand-in whose register_weights hook registers ``specs``."""

    def __init__(self, name: str, *specs: WeightSpec):
        self.__name__ = name
        self.specs = specs

    @hookimpl
    def register_weights(self, register):
        for spec in self.specs:
            register(spec)


def install(monkeypatch, *plugins: Provides) -> registry.Plugins:
    """Make ``plugins`` (and no installed package) what registry.default() returns."""
    built = registry.build(plugins, entry_points=False)
    monkeypatch.setattr(registry, "default", lambda: built)
    return built


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A private cache directory and an empty registry for every test."""
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BENCH_OFFLINE", raising=False)
    install(monkeypatch)


@pytest.fixture
def register(monkeypatch):
    """register(*specs): one test plugin registering the specs."""
    return lambda *specs: install(monkeypatch, Provides("tests.weights_plugin", *specs))


@pytest.fixture
def original(tmp_path) -> Path:
    path = tmp_path / "elsewhere" / "tiny-net.pth"
    path.parent.mkdir()
    path.write_bytes(PAYLOAD)
    return path


@pytest.fixture
def spec(original, register) -> WeightSpec:
    spec = WeightSpec("tiny-net", "tiny-net.pth", DIGEST, original.as_uri(), "a test net", "made up")
    register(spec)
    return spec


def _cache() -> Path:
    return weights.cache_dir()


# ---------------------------------------------------------------- cache dir and registry


def test_cache_dir_from_env_and_default(tmp_path, monkeypatch):
    assert weights.cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("BENCH_WEIGHTS_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert weights.cache_dir() == tmp_path / "home" / ".cache" / "bench" / "weights"


def test_register_and_get(spec, monkeypatch):
    assert weights.get("tiny-net") is spec
    assert weights.registered() == {"tiny-net": spec}
    # two plugins that need the same file may both register it
    install(monkeypatch, Provides("tests.a", spec), Provides("tests.b", spec))
    assert weights.registered() == {"tiny-net": spec}


def test_register_conflict_names_both_providers(spec):
    other = WeightSpec("tiny-net", "other.pth", None, None)
    with pytest.raises(PluginError) as err:
        registry.build([Provides("tests.first", spec), Provides("tests.second", other)], entry_points=False)
    assert "'tiny-net'" in str(err.value) and "tests.first" in str(err.value) and "tests.second" in str(err.value)


@pytest.mark.parametrize(
    "bad",
    [
        WeightSpec("x", "dir/x.pth", None, None),
        WeightSpec("x", "x.pth", "ABC", None),
        WeightSpec("", "x.pth", None, None),
        WeightSpec("My.Net", "x.pth", None, None),
        WeightSpec("x", "x-abcd1234.pth", None, None, hash_prefix="ffff0000"),
    ],
)
def test_register_rejects_bad_specs(bad):
    with pytest.raises(PluginError, match="tests.bad_plugin"):
        registry.build([Provides("tests.bad_plugin", bad)], entry_points=False)


def test_get_unknown_lists_closest_first(register):
    register(*(WeightSpec(name, f"{name}.pth", None, None)
               for name in ("alexnet-lpips", "vgg19-imagenet", "inception-fid")))
    with pytest.raises(WeightsError) as err:
        weights.get("vgg16-imagenet")
    message = str(err.value)
    assert "'vgg16-imagenet'" in message
    assert message.index("vgg19-imagenet") < message.index("alexnet-lpips")
    assert message.index("vgg19-imagenet") < message.index("inception-fid")


def test_get_unknown_with_empty_registry():
    with pytest.raises(WeightsError, match="no weights are registered"):
        weights.get("anything")


# ---------------------------------------------------------------- resolve


def test_resolve_offline_missing_names_file_sha_url_and_command(spec, monkeypatch):
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    with pytest.raises(WeightsError) as err:
        weights.resolve("tiny-net")
    message = str(err.value)
    assert "tiny-net.pth" in message and DIGEST in message and spec.url in message
    assert "bench weights import tiny-net FILE" in message
    assert "\n" not in message
    assert not (_cache() / "tiny-net.pth").exists()


def test_resolve_download_false_overrides_env(spec):
    with pytest.raises(WeightsError, match="bench weights import tiny-net FILE"):
        weights.resolve(spec, download=False)
    assert weights.status(spec) == "missing"


def test_resolve_downloads_file_url(spec):
    path = weights.resolve("tiny-net")
    assert path == _cache() / "tiny-net.pth"
    assert path.read_bytes() == PAYLOAD
    assert sorted(p.name for p in _cache().iterdir()) == ["tiny-net.pth", "tiny-net.pth.sha256"]
    assert weights.status("tiny-net") == "present"


def test_resolve_download_true_overrides_offline_env(spec, monkeypatch):
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    assert weights.resolve("tiny-net", download=True).read_bytes() == PAYLOAD


def test_resolve_download_failure_is_a_weights_error(tmp_path, register):
    url = (tmp_path / "gone.pth").as_uri()
    register(WeightSpec("gone", "gone.pth", DIGEST, url))
    with pytest.raises(WeightsError) as err:
        weights.resolve("gone")
    message = str(err.value)
    assert "gone.pth" in message and DIGEST in message and url in message
    assert "bench weights import gone FILE" in message
    assert not (_cache() / "gone.pth").exists() and not (_cache() / "gone.pth.part").exists()


def test_resolve_download_with_wrong_checksum(original, register):
    register(WeightSpec("liar", "liar.pth", "1" * 64, original.as_uri()))
    with pytest.raises(WeightsError) as err:
        weights.resolve("liar")
    assert "1" * 64 in str(err.value) and DIGEST in str(err.value)
    assert list(_cache().iterdir()) == []


def test_resolve_without_url(tmp_path, register):
    register(WeightSpec("manual", "manual.pth", DIGEST, None))
    with pytest.raises(WeightsError, match="no download URL"):
        weights.resolve("manual")


def test_corrupted_cached_file(spec):
    path = weights.resolve("tiny-net")
    path.write_bytes(b"X" + PAYLOAD[1:])  # same size
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert weights.status("tiny-net") == "bad checksum"
    with pytest.raises(WeightsError) as err:
        weights.resolve("tiny-net")
    message = str(err.value)
    assert str(path) in message and DIGEST in message
    assert hashlib.sha256(path.read_bytes()).hexdigest() in message
    assert "bench weights import tiny-net FILE" in message


def test_sidecar_avoids_rehashing(spec, monkeypatch):
    path = weights.resolve("tiny-net")
    record = json.loads((_cache() / "tiny-net.pth.sha256").read_text())
    assert record["sha256"] == DIGEST and record["size"] == len(PAYLOAD)

    def no_hashing(*args, **kwargs):
        raise AssertionError("re-hashed a file whose sidecar is current")

    monkeypatch.setattr(weights.archive, "sha256_file", no_hashing)
    assert weights.resolve("tiny-net") == path


def test_stale_sidecar_is_ignored(spec):
    path = weights.resolve("tiny-net")
    sidecar = _cache() / "tiny-net.pth.sha256"
    sidecar.write_text("not json")
    assert weights.resolve("tiny-net") == path
    assert json.loads(sidecar.read_text())["sha256"] == DIGEST


def test_unpinned_checksum_is_recorded(original, register):
    register(WeightSpec("loose", "loose.pth", None, original.as_uri()))
    path = weights.resolve("loose")
    assert json.loads(path.with_name("loose.pth.sha256").read_text())["sha256"] == DIGEST
    assert weights.status("loose") == "present"


# ---------------------------------------------------------------- import


def test_import_wrong_file(spec, tmp_path):
    wrong = tmp_path / "wrong.pth"
    wrong.write_bytes(b"something else")
    with pytest.raises(WeightsError) as err:
        weights.import_file("tiny-net", wrong)
    message = str(err.value)
    assert str(wrong) in message and DIGEST in message
    assert hashlib.sha256(b"something else").hexdigest() in message
    assert not _cache().exists() or list(_cache().iterdir()) == []


def test_import_missing_file(spec, tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        weights.import_file("tiny-net", tmp_path / "nope.pth")


def test_import_unknown_name(tmp_path, original):
    with pytest.raises(WeightsError, match="unknown weights"):
        weights.import_file("nobody", original)


def test_import_right_file_then_resolve_offline(spec, original, monkeypatch):
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    assert weights.status("tiny-net") == "missing"
    cached = weights.import_file("tiny-net", original)
    assert cached == _cache() / "tiny-net.pth"
    assert weights.resolve("tiny-net") == cached
    assert cached.read_bytes() == PAYLOAD
    assert weights.status("tiny-net") == "present"
    assert sorted(p.name for p in _cache().iterdir()) == ["tiny-net.pth", "tiny-net.pth.sha256"]


def test_import_replaces_corrupted_file(spec, original):
    _cache().mkdir(parents=True)
    (_cache() / "tiny-net.pth").write_bytes(b"garbage")
    assert weights.status("tiny-net") == "bad checksum"
    weights.import_file("tiny-net", original)
    assert weights.status("tiny-net") == "present"
