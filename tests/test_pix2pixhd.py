"""The pix2pixhd plugin: network shapes, losses against hand values, instance edges and features, options, learning."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from bench_plugins.models.pix2pixhd import Pix2PixHD, register_models
from bench_plugins.models.pix2pixhd.encoder import instance_mean
from bench_plugins.models.pix2pixhd.generator import Pix2PixHDGenerator
from bench_plugins.models.pix2pixhd.losses import feature_matching_loss, gan_loss
from bench_plugins.models.pix2pixhd.trainable import Pix2PixHDTrainable

from benchmark.api import DataFacts, StepContext
from benchmark.cli import app as cli
from benchmark.testing import TINY_DATA, TINY_TABLES, assert_learned, one_error_line, untrained_and_trained
from benchmark.util.errors import ConfigError

PLUGIN = Pix2PixHD()
CPU = torch.device("cpu")
TINY = {"ngf": 4, "ndf": 4, "n_downsample_global": 2, "n_blocks_global": 1, "n_blocks_local": 1, "n_layers_D": 2,
        "lambda_vgg": 0.0, "nef": 2, "n_downsample_E": 2}
CITY = DataFacts(name="cityscapes", num_classes=35, ignore_index=None, instance_maps=True, dontcare_label=False)
FACADES = DataFacts(name="facades", num_classes=12, ignore_index=None, instance_maps=False, dontcare_label=False)


def make_batch(num_classes=3, n=2, h=16, w=32, seed=0, instances=True):
    g = torch.Generator().manual_seed(seed)
    label = torch.randint(0, num_classes, (n, 4, 8), generator=g)
    label = label.repeat_interleave(h // 4, 1).repeat_interleave(w // 8, 2)
    batch = {"label": label, "onehot": F.one_hot(label, num_classes).permute(0, 3, 1, 2).float(),
             "image": torch.rand(n, 3, h, w, generator=g) * 2 - 1, "index": torch.arange(n)}
    if instances:
        split = (torch.arange(w) >= w // 2).long()[None, None, :].expand(n, h, w)
        batch["instance"] = label * 1000 + split  # every class split into a left and a right instance
    return batch


@pytest.mark.parametrize("local,size", [(0, (32, 64)), (1, (32, 64)), (2, (64, 32))])
def test_generator_output_and_official_widths(local, size):
    g = Pix2PixHDGenerator(5, ngf=4, n_downsample_global=2, n_blocks_global=2, n_local_enhancers=local,
                           n_blocks_local=1)
    assert g(torch.zeros(2, 5, *size)).shape == (2, 3, *size)
    assert g.global_net.front[1].out_channels == 4 * 2 ** local
    assert (g.global_net.rgb is None) == (local > 0) and len(g.enhancers) == local
    with torch.device("meta"):  # the released label2city_1024p generator's widths
        big = Pix2PixHDGenerator(36, ngf=32, n_downsample_global=4, n_blocks_global=9, n_local_enhancers=1)
    assert big.global_net.front[1].out_channels == 64 and big.global_net.blocks[0].body[1].in_channels == 1024
    assert big.enhancers[0].front[1].out_channels == 32 and len(big.enhancers[0].blocks) == 3


def test_discriminator_has_num_d_scales_of_n_layers_plus_two_outputs():
    model = Pix2PixHDTrainable(PLUGIN.Options(**{**TINY, "num_D": 3, "n_layers_D": 3}), 3, (32, 64))
    outs = model.D(torch.zeros(1, 3, 32, 64), torch.zeros(1, 3, 32, 64))
    assert len(outs) == 3 and all(len(scale) == 3 + 2 for scale in outs)  # official: n_layers_D + 2 convs
    assert [o.shape[1] for o in outs[0]] == [4, 8, 16, 32, 1]
    # 4x4 convs with padding 2: stride 2 -> floor(x / 2) + 1, stride 1 -> x + 1: 32 -> 17, 9, 5, 6, 7
    assert outs[0][-1].shape[2:] == (7, 11) and outs[1][-1].shape[2:] == (5, 7)  # the second on 16x32


def test_lsgan_hinge_and_feature_matching_equal_the_hand_computation():
    a, b = torch.full((1, 1, 2, 2), 0.5), torch.tensor([[[[1.0, -1.0], [0.0, 2.0]]]])
    outputs = [[a], [b]]  # two scales
    # LSGAN, summed over scales: real target 1 -> 0.25 + (0 + 4 + 1 + 1) / 4 = 1.75; fake target 0
    assert gan_loss(outputs, True, "lsgan").item() == pytest.approx(0.25 + 1.5)
    assert gan_loss(outputs, False, "lsgan").item() == pytest.approx(0.25 + (1 + 1 + 0 + 4) / 4)
    assert gan_loss(outputs, True, "hinge").item() == pytest.approx(0.5 + (0 + 2 + 1 + 0) / 4)
    assert gan_loss(outputs, False, "hinge").item() == pytest.approx(1.5 + (2 + 0 + 1 + 3) / 4)
    assert gan_loss(outputs, True, "hinge", for_generator=True).item() == pytest.approx(-0.5 - 0.5)
    vanilla = F.softplus(-a).mean() + F.softplus(-b).mean()
    assert gan_loss(outputs, True, "vanilla").item() == pytest.approx(vanilla.item())
    # FM: 2 scales x (2 inner layers + logits), n_layers_D 3 -> weight 4 / 4 / 2 = 0.5 per term
    fake = [[torch.ones(1, 1, 2, 2), torch.zeros(1, 2, 1, 1), torch.zeros(1)] for _ in range(2)]
    real = [[torch.zeros(1, 1, 2, 2), torch.full((1, 2, 1, 1), 3.0), torch.ones(1)] for _ in range(2)]
    assert feature_matching_loss(fake, real, 3).item() == pytest.approx(0.5 * (1 + 3) * 2)


def test_instance_mean_equals_a_loop_over_instances():
    g = torch.Generator().manual_seed(1)
    features = torch.randn(2, 3, 6, 5, generator=g, requires_grad=True)
    instance = torch.randint(0, 4, (2, 6, 5), generator=g) * 1000 + 7
    out = instance_mean(features, instance)
    for n in range(2):
        for i in instance[n].unique():
            mask = instance[n] == i
            for c in range(3):
                assert torch.allclose(out[n, c][mask], features[n, c][mask].mean().expand(int(mask.sum())))
    out.sum().backward()  # differentiable: each pixel's gradient is 1 (its share of its instance's mean)
    assert torch.allclose(features.grad, torch.ones_like(features))


def test_instance_edges_are_used_when_present_and_change_the_image():
    torch.manual_seed(0)
    options = PLUGIN.for_dataset(PLUGIN.Options(**TINY), CITY)
    assert options.use_instance_edges is True
    assert PLUGIN.for_dataset(PLUGIN.Options(**TINY), FACADES).use_instance_edges is False
    model = Pix2PixHDTrainable(options, 3, (16, 32))
    assert model.G.global_net.front[1].in_channels == 3 + 1 and model.D.discriminators[0].layers[0][0].in_channels == 7
    batch = make_batch()
    merged = {**batch, "instance": batch["label"] * 1000}  # no instance boundary inside a class
    assert (model.generate(batch) - model.generate(merged)).abs().max() > 1e-4
    assert "instance edges" in PLUGIN.describe(options)
    with pytest.raises(ConfigError, match="pix2pixhd.use_instance_edges=true: dataset facades has no instance maps"):
        PLUGIN.for_dataset(PLUGIN.Options(use_instance_edges=True), FACADES)


def test_the_feature_encoder_feeds_per_instance_features_and_trains():
    torch.manual_seed(0)
    model = Pix2PixHDTrainable(PLUGIN.Options(**{**TINY, "instance_feat": True}), 3, (16, 32))
    assert model.G.global_net.front[1].in_channels == 3 + 3
    batch = make_batch()
    x = model.generator_input(batch, model.semantic(batch))
    features = x[:, 3:]
    for n in range(2):  # constant over each instance
        for i in batch["instance"][n].unique():
            assert features[n][:, batch["instance"][n] == i].std(dim=1).max() < 1e-6
    model.configure_optimizers()
    before = [p.clone() for p in model.E.parameters()]
    model.train_step(batch, StepContext(device=CPU, dtype=None, step=0, total_steps=10))
    assert any(not torch.equal(a, b) for a, b in zip(before, model.E.parameters()))
    other = {**batch, "image": -batch["image"]}  # another test photo, other features, another image
    assert (model.generate(batch) - model.generate(other)).abs().max() > 1e-5


def test_a_step_trains_g_and_d_with_the_official_losses_and_the_lr_decays():
    torch.manual_seed(0)
    model = Pix2PixHDTrainable(PLUGIN.Options(**TINY), 3, (16, 32))
    model.configure_optimizers()
    g_before, d_before = [p.clone() for p in model.G.parameters()], [p.clone() for p in model.D.parameters()]
    losses = model.train_step(make_batch(instances=False), StepContext(device=CPU, dtype=None, step=0,
                                                                         total_steps=10))
    assert set(losses) == {"GAN", "GAN_Feat", "D_fake", "D_real"} and all(torch.isfinite(v) for v in losses.values())
    assert any(not torch.equal(a, b) for a, b in zip(g_before, model.G.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(d_before, model.D.parameters()))
    assert [model.lr_factor(p) for p in (0.0, 0.5, 0.75, 1.0)] == [1.0, 1.0, 0.5, 0.0]


def test_options_presets_and_one_clear_error_per_bad_setting():
    official = PLUGIN.Options()
    assert (official.ngf, official.n_downsample_global, official.n_blocks_global, official.n_local_enhancers) == \
        (64, 4, 9, 0)
    assert (official.num_D, official.n_layers_D, official.gan_mode, official.lambda_feat, official.lambda_vgg) == \
        (2, 3, "lsgan", 10.0, 10.0)
    assert (official.lr, official.beta1, official.beta2, official.decay_start) == (2e-4, 0.5, 0.999, 0.5)
    assert PLUGIN.train_length(official, "paper").batch_size == 1
    local = PLUGIN.Options(**PLUGIN.presets["local"].options)
    assert (local.n_local_enhancers, local.ngf, local.num_D) == (1, 32, 3)
    assert all(f.description for f in PLUGIN.Options.model_fields.values())
    PLUGIN.check(official, (512, 1024), 35)
    PLUGIN.check(local, (1024, 2048), 35)
    with pytest.raises(ConfigError, match=r"size 100x48 must be a multiple of 2\*\*\(n_downsample_global \+ "
                                          r"n_local_enhancers\) = 16"):
        PLUGIN.check(official, (48, 100), 35)
    with pytest.raises(ConfigError, match="at least 32"):
        PLUGIN.check(official, 16, 35)
    with pytest.raises(ConfigError, match="n_downsample_E lower"):
        PLUGIN.check(PLUGIN.Options(n_downsample_global=1, instance_feat=True), 8, 35)
    with pytest.raises(ConfigError, match="reads 36 label channels, but this dataset gives 12"):
        PLUGIN.check(PLUGIN.Options(label_channels=36), 64, 12)
    with pytest.raises(ValueError, match="gan_mode"):
        PLUGIN.Options(gan_mode="wgan")


def test_a_bad_option_on_the_command_line_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    roots = ["--data-root", str(tmp_path / "data"), "--output-root", str(tmp_path / "out")]
    base = ["run", "--models", "pix2pixhd", "--dataset", "synthetic-facades", "--profile", "smoke", *TINY_DATA,
            *roots, "--metrics", "psnr", "--quiet"]
    code = cli.main([*base, "--set", "pix2pixhd.vgg_if_missing=error"])  # offline, no VGG19 file: stops before
    # training, saying how to import it or skip the loss (the smoke profile alone skips it: the row says so)
    line = one_error_line(code, capsys.readouterr().err)
    assert "bench weights import vgg19-imagenet FILE" in line and "--set pix2pixhd.lambda_vgg=0" in line
    for setting, expected in (("pix2pixhd.gan_mode=wgan", "gan_mode"), ("pix2pixhd.num_D=0", "num_D"),
                              ("image_size=42", "multiple of 2**(n_downsample_global + n_local_enhancers) = 4")):
        code = cli.main([*base, "--set", "pix2pixhd.lambda_vgg=0", "--set", setting])
        line = one_error_line(code, capsys.readouterr().err)
        assert expected in line, line
    assert not (tmp_path / "out" / "runs").exists() or not any((tmp_path / "out" / "runs").iterdir())


def test_registers_and_bench_info_lists_presets(capsys, monkeypatch):
    found = []
    register_models(found.append)
    assert [p.name for p in found] == ["pix2pixhd"]
    monkeypatch.setenv("COLUMNS", "250")
    assert cli.main(["info", "pix2pixhd"]) == 0
    out = capsys.readouterr().out
    assert all(row in out for row in ("pix2pixhd+local", "pix2pixhd+feat", "n_local_enhancers", "smoke", "paper",
                                      "pix2pixhd@cityscapes-official", "latest_net_G.pth"))


@pytest.mark.slow
def test_smoke_pix2pixhd_beats_untrained_on_held_out_psnr_and_ssim(tmp_path):
    """pix2pixhd, smoke profile (32 px, narrow) on the tiny synthetic-facades, 400 steps, without the VGG loss.

    Measured (seed 0, 42 s on a loaded 2-core machine): untrained PSNR 11.95 SSIM 0.054 (instance norm keeps
    the untrained output near mid-grey, which PSNR rewards), trained PSNR 13.13 SSIM 0.152; the margins keep
    about half of the gains."""
    flags = {"models": ["pix2pixhd"], "profile": "smoke", "data_root": tmp_path / "data", "steps": 400,
             "output_root": tmp_path / "out", "eval": {"metrics": ["psnr", "ssim"], "reference_row": False}}
    before, trained = untrained_and_trained(flags, tmp_path, {**TINY_TABLES, "pix2pixhd": {"lambda_vgg": 0.0}})
    assert trained.status == "ok" and "no VGG loss" in trained.note
    print({k: (before[k].value, trained.metrics[k].value) for k in ("PSNR", "SSIM")})
    assert_learned(before, trained.metrics, {"PSNR": 0.6, "SSIM": 0.05})


def test_the_vgg_loss_trains_with_a_file_and_is_skipped_without_one_when_asked(tmp_path, monkeypatch):
    from bench_plugins.models import vgg19

    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    skip = PLUGIN.Options(**{**TINY, "lambda_vgg": 10.0, "vgg_if_missing": "skip"})
    PLUGIN.check_training(skip)  # no file: trains without the loss, and says so
    assert Pix2PixHDTrainable(skip, 3, (16, 32)).options.lambda_vgg == 0 and "no VGG loss" in PLUGIN.describe(skip)
    with pytest.raises(Exception, match="--set pix2pixhd.lambda_vgg=0"):
        PLUGIN.check_training(PLUGIN.Options(**{**TINY, "lambda_vgg": 10.0}))
    path = vgg19.write_random_file(tmp_path / "vgg.pth", width=4)
    torch.manual_seed(0)
    model = Pix2PixHDTrainable(PLUGIN.Options(**{**TINY, "lambda_vgg": 10.0, "vgg_weights": str(path)}), 3, (16, 32))
    model.configure_optimizers()
    losses = model.train_step(make_batch(), StepContext(device=CPU, dtype=None, step=0, total_steps=10))
    assert losses["VGG"] > 0 and "no VGG loss" not in PLUGIN.describe(model.options)
