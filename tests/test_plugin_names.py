"""Plugin, preset and weights names are checked when a plugin registers them."""

from __future__ import annotations

import types

import pytest
from benchmark.testing import one_error_line, run_cli

from benchmark import Metric, Model, Preset, hookimpl
from benchmark.registry import plugins as registry
from benchmark.util.errors import PluginError


def model_plugin(module_name: str, model_name: str, presets: dict | None = None) -> types.ModuleType:
    """A plugin module registering one model class named ``model_name``."""
    attrs = {"name": model_name, "summary": "a test model"}
    if presets is not None:
        attrs["presets"] = presets
    cls = type("Named", (Model,), attrs)
    module = types.ModuleType(module_name)

    @hookimpl
    def register_models(register):
        register(cls())

    module.register_models = register_models
    return module


@pytest.mark.parametrize("name", ["my.model", "a+b", "a:b", "a@b", "a b", "Pix2Pix", "", "-lead"])
def test_bad_model_names_are_refused_naming_the_package(name):
    with pytest.raises(PluginError) as err:
        registry.build([model_plugin("thirdparty_models", name)], entry_points=False)
    message = str(err.value)
    assert "thirdparty_models" in message and repr(name) in message
    assert "lower-case" in message and "\n" not in message


@pytest.mark.parametrize("name", ["pix2pix", "label-cgan", "spade_2", "x1"])
def test_good_names_are_accepted(name):
    plugins = registry.build([model_plugin("thirdparty_models", name)], entry_points=False)
    assert plugins.models.names() == [name]


def test_bad_preset_names_are_refused():
    presets = {"official": Preset("defaults"), "aug+kl": Preset("both")}
    with pytest.raises(PluginError, match=r"thirdparty_models registered the preset of model 'mine' 'aug\+kl'"):
        registry.build([model_plugin("thirdparty_models", "mine", presets)], entry_points=False)


def test_bad_metric_name_is_refused():
    module = types.ModuleType("thirdparty_metrics")
    metric = type("Loud", (Metric,), {"name": "FID.v2", "summary": "x"})

    @hookimpl
    def register_metrics(register):
        register(metric())

    module.register_metrics = register_metrics
    with pytest.raises(PluginError, match="thirdparty_metrics registered the metric 'FID.v2'"):
        registry.build([module], entry_points=False)


def test_every_built_in_name_passes():
    plugins = registry.default()
    assert plugins.models.names() and plugins.weights.names()


def test_bench_list_refuses_an_installed_plugin_with_a_bad_name(tmp_path):
    """An installed package (a dist-info with an entry point on PYTHONPATH) registering a bad name,
    seen by a fresh `bench` process (every bad name is refused in-process above)."""
    name = "a+b"
    site = tmp_path / "site"
    (site / "badnames-0.1.dist-info").mkdir(parents=True)
    (site / "badnames-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: badnames\nVersion: 0.1\n")
    (site / "badnames-0.1.dist-info" / "entry_points.txt").write_text("[bench]\nbadnames = badnames_plugin\n")
    (site / "badnames_plugin.py").write_text(
        "from benchmark import Model, hookimpl\n\n"
        f"class Bad(Model):\n    name = {name!r}\n    summary = 'bad'\n\n"
        "@hookimpl\ndef register_models(register):\n    register(Bad())\n")
    proc = run_cli("list", env={"PYTHONPATH": str(site)})
    line = one_error_line(proc)
    assert "badnames" in line and repr(name) in line and "lower-case" in line
