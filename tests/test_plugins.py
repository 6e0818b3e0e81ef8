"""The plugin manager and registries, and the `bench list` / `bench info` commands."""

from __future__ import annotations

import types

import pytest

from benchmark import hookimpl
from benchmark.cli import app as cli
from benchmark.api import Metric, MetricResult
from benchmark.util.errors import BenchError, PluginError
from benchmark.registry.plugins import build, default

BUILT_INS = {
    # the five method families of the sources
    "models": {"spade", "face-spade", "pix2pix", "label-cgan", "spade-pis"},
    "metrics": {"fid", "kid", "is", "psnr", "ssim", "uqi", "vif", "miou", "classifier"},
    "datasets": {"synthetic-facades", "facades", "folder", "voc2012", "celebamask-hq"},
    "segmenters": {"trained", "deeplabv3-voc", "drn-d-105", "upernet-101", "deeplabv2-cocostuff"},
}


def metric(metric_name: str) -> Metric:
    class _Metric(Metric):
        name = metric_name
        summary = f"test metric {metric_name}"
        columns = {metric_name.upper(): "up"}

        def compute(self, ctx, options):
            return MetricResult({metric_name.upper(): 0.0}, {})

    return _Metric()


def namespace_plugin(plugin_name: str, *metric_names: str) -> types.SimpleNamespace:
    """A plugin object (not a module) whose register_metrics registers the given metrics."""

    @hookimpl
    def register_metrics(register):
        for n in metric_names:
            register(metric(n))

    return types.SimpleNamespace(__name__=plugin_name, register_metrics=register_metrics)


def module_plugin(plugin_name: str, *metric_names: str) -> types.ModuleType:
    """A plugin module built in the test, as a third-party package would provide."""
    module = types.ModuleType(plugin_name)

    @hookimpl
    def register_metrics(register):
        for n in metric_names:
            register(metric(n))

    module.register_metrics = register_metrics
    return module


# -- registration ------------------------------------------------------------------

def test_extra_plugins_register_with_their_module_name_as_provider():
    plugins = build([namespace_plugin("ns_plugin", "alpha"), module_plugin("mod_plugin", "beta")],
                    entry_points=False)
    assert plugins.metrics.names() == ["alpha", "beta"]
    assert plugins.metrics.entry("alpha").provider == "ns_plugin"
    assert plugins.metrics.entry("beta").provider == "mod_plugin"
    assert plugins.metrics.get("beta").summary == "test metric beta"
    assert plugins.models.names() == [] and plugins.datasets.names() == []


@pytest.mark.parametrize("make", [namespace_plugin, module_plugin])
def test_same_name_from_two_plugins_names_both_providers(make):
    with pytest.raises(PluginError) as err:
        build([make("first_pkg", "dup"), make("second_pkg", "dup")], entry_points=False)
    message = str(err.value)
    assert "'dup'" in message
    assert "first_pkg" in message and "second_pkg" in message
    assert isinstance(err.value, BenchError) and err.value.exit_code == 2


def test_clash_with_a_built_in_names_bench_and_the_plugin():
    with pytest.raises(PluginError) as err:
        build([module_plugin("my_metrics", "psnr")], entry_points=True)
    message = str(err.value)
    assert "'psnr'" in message and "my_metrics" in message and "bench" in message.replace("my_metrics", "")


def test_object_without_a_name_is_an_error_naming_the_plugin():
    @hookimpl
    def register_metrics(register):
        register(object())

    with pytest.raises(PluginError, match="nameless_plugin"):
        build([types.SimpleNamespace(__name__="nameless_plugin", register_metrics=register_metrics)],
              entry_points=False)


def available(message: str) -> list[str]:
    listed = message.split("available: ", 1)[1]
    listed = listed.split(" (", 1)[0]
    return [n.strip() for n in listed.split(",")]


def test_unknown_name_lists_available_names_closest_first():
    plugins = build(entry_points=True)
    with pytest.raises(PluginError) as err:
        plugins.metrics.get("psnx")
    message = str(err.value)
    assert message.startswith("unknown metric 'psnx'")
    names = available(message)
    assert names[0] == "psnr"
    assert set(names) == set(plugins.metrics.names())
    assert "bench list metrics" in message


def test_unknown_name_among_extra_plugins():
    plugins = build([namespace_plugin("p", "gamma", "alpha", "beta", "delta")], entry_points=False)
    with pytest.raises(PluginError) as err:
        plugins.metrics.entry("gama")
    names = available(str(err.value))
    assert names[0] == "gamma"
    assert sorted(names) == ["alpha", "beta", "delta", "gamma"]


def test_unknown_kind():
    with pytest.raises(PluginError, match="available: .*metrics"):
        build(entry_points=False).registry("metric")


# -- entry points -------------------------------------------------------------------

def test_built_ins_come_from_the_entry_points():
    plugins = build(entry_points=True)
    for kind, names in BUILT_INS.items():
        registry = plugins.registry(kind)
        assert names <= set(registry.names()), (kind, registry.names())
        for name in names:
            assert registry.entry(name).provider == "sis-bench"
    # without the entry points there is nothing: the core knows no plugin by name
    bare = build(entry_points=False)
    for kind in BUILT_INS:
        assert bare.registry(kind).names() == []


def test_extra_plugins_next_to_the_built_ins():
    plugins = build([module_plugin("extra_metrics", "mae_test")], entry_points=True)
    assert {"psnr", "ssim", "mae_test"} <= set(plugins.metrics.names())
    assert plugins.metrics.entry("mae_test").provider == "extra_metrics"
    assert plugins.find("pix2pix")[0][0] == "models"


# -- CLI ----------------------------------------------------------------------------

@pytest.fixture
def wide(monkeypatch):
    """Rich tables as wide as needed, so that cells are not wrapped."""
    monkeypatch.setenv("COLUMNS", "250")


def test_cli_list_models(capsys, wide):
    assert cli.main(["list", "models"]) == 0
    out = capsys.readouterr().out
    assert "pix2pix " in out
    assert "pix2pix+kl" in out
    assert "bench" in out


def test_cli_list_all_kinds(capsys, wide):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for names in BUILT_INS.values():
        for name in names:
            assert name in out


def test_cli_info_shows_options_presets_and_profiles(capsys, wide):
    assert cli.main(["info", "pix2pix"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "lambda_l1" in line)
    assert "float" in row and "100.0" in row
    assert "presets" in out and "pix2pix+kl" in out and '"beta_kl": 0.2' in out
    assert "profiles" in out
    for profile in default().models.get("pix2pix").profiles:
        assert profile in out
    assert "provided by: sis-bench" in out


def test_cli_info_of_a_metric(capsys, wide):
    assert cli.main(["info", "ssim"]) == 0
    out = capsys.readouterr().out
    assert "metric ssim" in out and "higher is better" in out
    assert "kernel_size" in out


def test_cli_info_of_a_preset_row(capsys, wide):
    assert cli.main(["info", "pix2pix+kl"]) == 0
    assert "model pix2pix" in capsys.readouterr().out


def test_cli_info_unknown_name(capsys):
    assert cli.main(["info", "nonexistent"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: unknown plugin 'nonexistent'; closest ")
    names = suggested(lines[0])
    for kind_names in BUILT_INS.values():
        assert kind_names <= set(names)


def suggested(message: str) -> list[str]:
    """The names `bench info` suggests: those of the likeliest kind, then the other plugins."""
    first, _, others = message.split(": ", 2)[2].partition("; other plugins: ")
    return [n.strip() for n in (first + ", " + others.split(" (see", 1)[0]).split(",") if n.strip()]


def test_cli_info_suggests_the_closest_names_of_the_likeliest_kind_first(capsys):
    assert cli.main(["info", "fdi"]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith("error: unknown plugin 'fdi'; closest metrics: fid, "), line
    metrics = line.split("closest metrics: ", 1)[1].split(";", 1)[0].split(", ")
    assert BUILT_INS["metrics"] <= set(metrics)
    assert "spade" not in metrics and "spade" in suggested(line)


def test_cli_info_unknown_preset_row(capsys):
    assert cli.main(["info", "pix2pix+kll"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: unknown preset 'kll' of model 'pix2pix'; its rows: pix2pix, pix2pix+kl,")
