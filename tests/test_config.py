"""Configuration: precedence of the layers, and one clear line for every invalid option."""

from __future__ import annotations

import pytest

from benchmark.registry import plugins as registry
from benchmark.planning.config import Layers, resolve_model
from benchmark.util.settings_text import parse_set
from benchmark.testing import TINY_DATA, call_cli, one_error_line


def resolve(file_tree=None, sets=(), flags=None, token="pix2pix"):
    layers = Layers.from_sources(file_tree or {}, parse_set(list(sets)), flags or {})
    return resolve_model(token, layers, registry.default().models)


def test_defaults_then_profile_then_file_then_set():
    quick = resolve()
    assert quick.run.profile == "quick" and quick.run.image_size == 64
    assert quick.options.ngf == 16  # the model's quick override of the default 64
    paper = resolve(flags={"profile": "paper"})
    assert paper.options.ngf == 64 and paper.run.image_size == 256 and paper.run.epochs == 200
    from_file = resolve({"image_size": 32, "pix2pix": {"ngf": 12, "lambda_l1": 50.0}})
    assert (from_file.run.image_size, from_file.options.ngf, from_file.options.lambda_l1) == (32, 12, 50.0)
    both = resolve({"image_size": 32, "pix2pix": {"ngf": 12}}, ["pix2pix.ngf=20", "image_size=128"])
    assert (both.run.image_size, both.options.ngf) == (128, 20)


def test_presets_are_rows_and_row_keys_beat_model_keys():
    kl = resolve(token="pix2pix+kl")
    assert kl.label == "pix2pix+kl" and kl.preset == "kl" and kl.options.beta_kl == pytest.approx(0.2)
    row = resolve(sets=["pix2pix.beta_kl=0.1", "pix2pix+aug-kl.beta_kl=0.3"], token="pix2pix+aug-kl")
    assert row.options.beta_kl == pytest.approx(0.3) and row.options.augment is True
    assert resolve(sets=["pix2pix.beta_kl=0.1"], token="pix2pix+kl").options.beta_kl == pytest.approx(0.1)


def test_set_values_are_toml_literals():
    assert parse_set(["a.b=50", "c=2e-4", "d=true", "e=[1, 2]", "f=word"]) == {
        "a": {"b": 50}, "c": 2e-4, "d": True, "e": [1, 2], "f": "word"}


@pytest.mark.parametrize("args, must_name", [
    (["--set", "pix2pix.lambda_l1=abc"], "pix2pix.lambda_l1"),
    (["--set", "pix2pix.lambda_l2=1"], "lambda_l1"),
    (["--set", "pix2pix+kl.beta_kl=-1"], "pix2pix.beta_kl"),
    (["--profile", "fast"], "profile"),
    (["--device", "gpu"], "device"),
    (["--precision", "fp8"], "precision"),
    (["--seed", "-1"], "seed"),
    (["--models", "pix2pixx"], "pix2pix"),
    (["--models", "pix2pix+kll"], "pix2pix+kl"),
    (["--dataset", "facadez"], "facades"),
    (["--set", "seed"], "KEY=VALUE"),
    (["--set", "sead=3"], "seed"),
    (["--set", "pixtopix.ngf=3"], "pix2pix"),
    (["--set", "eval.batch_size=0"], "eval.batch_size"),
    (["--set", "synthetic-facades.train_size=0"], "synthetic-facades.train_size"),
    (["--image-size", "48"], "image_size"),
    (["--config", "missing.toml"], "missing.toml"),
])
def test_invalid_option_is_one_clear_line(args, must_name, roots):
    line = one_error_line(call_cli("run", "--profile", "smoke", *TINY_DATA, *roots, *args))
    assert must_name in line


def test_bad_toml_file_is_named(tmp_path, roots):
    bad = tmp_path / "bench.toml"
    bad.write_text("seed = [\n")
    line = one_error_line(call_cli("run", "--config", str(bad), *roots))
    assert "bench.toml" in line and "TOML" in line


def test_toml_file_values_are_validated_too(tmp_path, roots):
    conf = tmp_path / "bench.toml"
    conf.write_text('[pix2pix]\nnorm = "group"\n')
    line = one_error_line(call_cli("run", "--config", str(conf), "--profile", "smoke", *TINY_DATA, *roots))
    assert "pix2pix.norm" in line and "'group'" in line and "batch" in line
