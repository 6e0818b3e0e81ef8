"""Resolving pretrained files: the register_weights hook, cache, checksums, offline errors, import;
file:// URLs only."""

from __future__ import annotations

import hashlib
import re
import json
import os
from pathlib import Path

import pytest

from benchmark import hookimpl
from benchmark.registry import plugins as registry
from benchmark.registry import weights
from benchmark.util.errors import PluginError, WeightsError
from benchmark.registry.weights import WeightSpec

#: the installed plugins, before the autouse fixture below replaces them for each test
INSTALLED = registry.default

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


# ---------------------------------------------------------------- unpinned files: structure and hash prefix


def _keys_check(state: dict) -> str | None:
    return None if set(state) == {"w", "b"} else f"has keys {sorted(state)}, expected b and w"


@pytest.fixture
def loose(register) -> WeightSpec:
    spec = WeightSpec("loose-net", "loose-net.pth", None, None, check=_keys_check)
    register(spec)
    return spec


def _save(path: Path, state) -> Path:
    import torch

    torch.save(state, path)
    return path


def test_unpinned_import_refuses_a_file_that_is_not_a_state_dict(loose, tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_text("not weights at all")
    with pytest.raises(WeightsError) as err:
        weights.import_file("loose-net", junk)
    message = str(err.value)
    assert str(junk) in message and "not a torch state dict" in message and "\n" not in message
    assert "weights_only=False" not in message
    assert not (_cache() / "loose-net.pth").exists()


def test_unpinned_import_refuses_the_wrong_keys_and_accepts_the_right_ones(loose, tmp_path, capsys):
    import torch

    wrong = _save(tmp_path / "wrong.pth", {"w": torch.zeros(2), "other": torch.zeros(1)})
    with pytest.raises(WeightsError, match=r"has keys \['other', 'w'\]"):
        weights.import_file(loose, wrong)
    assert not (_cache() / "loose-net.pth").exists()
    right = _save(tmp_path / "right.pth", {"state_dict": {"w": torch.zeros(2), "b": torch.zeros(1)}})
    weights.import_file(loose, right)
    digest = hashlib.sha256(right.read_bytes()).hexdigest()
    assert weights.recorded_sha256(loose) == digest
    from benchmark.cli import app as cli

    assert cli.main(["weights", "list"]) == 0
    title, header, rule, *rows = capsys.readouterr().out.strip().splitlines()
    assert header.split()[:4] == ["name", "status", "file", "sha256"] and set(rule) <= {"-", " "}
    (row,) = [re.split(r"\s{2,}", line.strip()) for line in rows if line.startswith("loose-net ")]
    assert row[:4] == ["loose-net", "present", "loose-net.pth", f"{digest} (recorded)"]


def test_hash_prefix_of_the_published_name_is_checked(register, original, tmp_path):
    good = WeightSpec("prefixed", f"prefixed-{DIGEST[:8]}.pth", None, None, hash_prefix=DIGEST[:8])
    bad_prefix = "0" * 8 if not DIGEST.startswith("0" * 8) else "1" * 8
    other = WeightSpec("other", f"other-{bad_prefix}.pth", None, None, hash_prefix=bad_prefix)
    register(good, other)
    assert weights.import_file("prefixed", original).read_bytes() == PAYLOAD
    with pytest.raises(WeightsError) as err:
        weights.import_file("other", original)
    assert DIGEST in str(err.value) and f"starts with {bad_prefix}" in str(err.value)
    assert not (_cache() / other.filename).exists()


def test_cli_import_without_arguments_says_what_to_pass():
    from benchmark.testing import call_cli, one_error_line

    line = one_error_line(call_cli("weights", "import"))
    assert "pass the weights name and the file" in line and "bench weights import" in line


def test_cli_import_of_any_file_as_vgg19_or_deeplab_is_refused(tmp_path, monkeypatch):
    from benchmark.testing import call_cli, one_error_line

    monkeypatch.setattr(registry, "default", INSTALLED)  # the real vgg19 and deeplab specs

    from bench_plugins.models import vgg19

    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00" * 100)
    narrow = vgg19.write_random_file(tmp_path / "narrow.pth", width=1)
    env = {"BENCH_WEIGHTS_DIR": str(tmp_path / "cache")}
    for name, file, expected in (("vgg19-imagenet", junk, "not a torch state dict"),
                                 ("vgg19-imagenet", narrow, "starts with dcbb9e9d"),
                                 ("deeplabv3-resnet50-coco-voc", junk, "not a torch state dict")):
        line = one_error_line(call_cli("weights", "import", name, str(file), env=env))
        assert str(file) in line and expected in line, line
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").glob("*.pth"))


def test_vgg19_and_deeplab_structure_checks():
    import torch

    from bench_plugins.models import vgg19
    from bench_plugins.segmenters import deeplab

    assert vgg19.SPEC.check is not None and deeplab.SPEC.check is not None
    assert vgg19.SPEC.hash_prefix == "dcbb9e9d" and deeplab.SPEC.hash_prefix == "cd0a2569"
    narrow = {f"features.{i}.{k}": t for i, w, b in _vgg_like(torch) for k, t in (("weight", w), ("bias", b))}
    assert vgg19.check_state_dict(narrow) is None
    narrow["features.5.weight"] = torch.zeros(8, 4, 1, 1)
    assert "features.5.weight" in vgg19.check_state_dict(narrow)
    assert "first: backbone.conv1.weight" in deeplab.check_state_dict({"features.0.weight": torch.zeros(1)})


def _vgg_like(torch):
    from bench_plugins.models import vgg19

    widths = [c // 16 for c in vgg19.CONFIG if c != "M"]
    in_ch = 3
    for i, out in zip(vgg19.conv_indices(), widths):
        yield i, torch.zeros(out, in_ch, 3, 3), torch.zeros(out)
        in_ch = out
