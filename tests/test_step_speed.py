"""benchmarks/step_speed.py: its rows are every family with profiles plus the presets whose step does other
work, each built as the harness builds it (embedded options filled, VGG losses off unless a file is given),
and timed by the one loop of benchmarks/step_timing.py that spade_step.py shares."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def timing():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import step_speed
        import step_timing

        yield step_timing, step_speed
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_the_default_rows_are_every_family_with_profiles_and_the_extra_presets(timing):
    from benchmark.registry.plugins import default

    _, step_speed = timing
    models = default().registry("models")
    rows = step_speed.default_rows(models)
    assert {"spade", "spade+vae", "face-spade", "spade-pis", "pix2pix", "pix2pix+kl", "label-cgan", "oasis",
            "pix2pixhd", "pix2pixhd+local", "pix2pixhd+feat"} <= set(rows)
    assert {row.split("+")[0] for row in rows} == {n for n in models.names() if models.get(n).profiles}


def test_options_are_the_profiles_with_embedded_models_filled_and_vgg_off_or_on_a_file(timing, tmp_path):
    from bench_plugins.models.oasis import Oasis
    from bench_plugins.models.spade import Spade
    from benchmark.registry.plugins import default

    step_timing, _ = timing
    spade = step_timing.profile_options(Spade(), "vae", "quick", None)
    assert spade["use_vae"] is True and spade["lambda_vgg"] == 0.0
    assert spade["ngf"] == Spade.profiles["quick"]["options"]["ngf"]
    pis = default().registry("models").get("spade-pis")
    opts = step_timing.profile_options(pis, "official", "smoke", None)
    assert opts["spade"]["lambda_vgg"] == 0.0 and opts["spade"]["ngf"] == Spade.profiles["smoke"]["options"]["ngf"]
    assert Path(opts["vgg_weights"]).is_file()  # its encoders need a VGG19 to be built, not to train
    vgg = tmp_path / "vgg.pth"
    oasis = step_timing.profile_options(Oasis(), "vgg", "quick", vgg)
    assert oasis["lambda_vgg"] == 10.0 and oasis["vgg_weights"] == str(vgg)
    assert "vgg_weights" not in step_timing.profile_options(Oasis(), "official", "quick", vgg)


def test_a_step_is_timed_at_the_profiles_size_and_batch(timing):
    import torch

    from bench_plugins.models.pix2pix import Pix2Pix

    step_timing, _ = timing
    t = step_timing.seconds_per_step(Pix2Pix(), "official", "smoke", torch.device("cpu"), None, 1)
    assert t.seconds > 0 and t.cpu_seconds > 0 and t.size == Pix2Pix.profiles["smoke"]["run"]["image_size"]
    assert t.batch == Pix2Pix.profiles["smoke"]["run"]["batch_size"]
    assert step_timing.seconds_per_step(Pix2Pix(), "kl", "smoke", torch.device("cpu"), None, 1, batch_size=1).batch == 1


def test_step_speed_lists_a_row_that_fails_with_its_error_and_goes_on(tmp_path):
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "step_speed.py"), "--models", "nosuch,pix2pix",
                           "--sizes", "smoke", "--steps", "1"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    table = proc.stdout.split("row ", 1)[1]
    assert "nosuch" in table and "error:" in table
    (line,) = [l for l in table.splitlines() if l.startswith("pix2pix ")]
    assert float(line.split()[6]) > 0
