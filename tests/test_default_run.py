"""The default run comes from the distribution's default_run hook, not from the core; under it a
SPADE row without the VGG19 file trains without the VGG loss and says so."""

from __future__ import annotations

import pytest

from bench_plugins.models.spade import Spade
from bench_plugins.models.spade.options import effective
from bench_plugins.models.spade.trainable import SpadeTrainable
from benchmark.registry import plugins as registry
from benchmark.planning.config import Layers, RunConfig
from benchmark.util.errors import ConfigError, WeightsError

TINY = {"ngf": 2, "ndf": 2, "num_D": 1, "n_layers_D": 2, "spade_hidden": 4, "num_upsampling_layers": "normal"}


def test_the_core_names_no_plugin():
    assert RunConfig.model_fields["models"].is_required() and RunConfig.model_fields["dataset"].is_required()


def test_a_plain_run_is_spade_against_pix2pix_with_the_vgg_fallback():
    layers = Layers.from_sources({}, {}, {})
    cfg = layers.run_config()
    assert cfg.models == ["spade", "pix2pix", "pix2pix+kl"] and cfg.dataset == "synthetic-facades"
    assert cfg.profile == "quick"
    assert layers.plugins == {"spade": {"vgg_if_missing": "skip"}}


def test_the_user_s_choices_beat_the_default_run_and_drop_its_fallback():
    layers = Layers.from_sources({"spade": {"vgg_if_missing": "error"}}, {}, {})
    assert layers.plugins["spade"]["vgg_if_missing"] == "error"
    named = Layers.from_sources({}, {}, {"models": ["spade"], "dataset": "facades"})
    assert named.run["models"] == ["spade"] and named.run["dataset"] == "facades" and named.plugins == {}
    models_only = Layers.from_sources({}, {}, {"models": ["pix2pix"]})
    assert models_only.run["dataset"] == "synthetic-facades"


def test_without_a_default_run_plugin_the_error_says_what_to_pass(monkeypatch):
    bare = registry.build(entry_points=False)
    monkeypatch.setattr(registry, "default", lambda: bare)
    with pytest.raises(ConfigError, match="no installed plugin provides a default run; pass --models"):
        Layers.from_sources({}, {}, {})
    assert Layers.from_sources({}, {}, {"models": ["x"], "dataset": "y"}).run == {"models": ["x"], "dataset": "y"}


@pytest.fixture
def no_vgg(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("BENCH_OFFLINE", "1")


def test_missing_vgg_file_skips_the_loss_only_when_asked(no_vgg):
    spade = Spade()
    skip = spade.Options(**TINY, vgg_if_missing="skip")
    spade.check(skip, 32, 4)  # no error
    spade.check_training(skip)
    assert effective(skip).lambda_vgg == 0 and skip.lambda_vgg == 10.0
    assert "no VGG loss" in spade.describe(skip)
    model = spade.build(skip, 4, 32)
    assert isinstance(model, SpadeTrainable) and model.options.lambda_vgg == 0
    strict = spade.Options(**TINY)
    assert strict.vgg_if_missing == "error" and "no VGG loss" not in spade.describe(strict)
    spade.check(strict, 32, 4)  # evaluating a checkpoint needs no VGG file
    with pytest.raises(WeightsError, match="bench weights import vgg19-imagenet"):
        spade.check_training(strict)  # training does


def test_skip_keeps_the_vgg_loss_when_the_file_is_there(tmp_path, monkeypatch):
    from bench_plugins.models import vgg19

    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "cache"))
    vgg19.write_random_file(tmp_path / "cache" / vgg19.SPEC.filename, width=1)
    skip = Spade().Options(**TINY, vgg_if_missing="skip")
    assert effective(skip).lambda_vgg == 10.0 and "no VGG loss" not in Spade().describe(skip)

