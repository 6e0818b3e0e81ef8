"""The pix2pix plugin: network shapes and depth, the KL term, options and presets, and that it learns."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from bench_plugins.models.pix2pix import Pix2Pix, register_models
from bench_plugins.models.pix2pix.losses import intensity_distribution, kl_loss
from bench_plugins.models.pix2pix.networks import Down, PatchDiscriminator, UnetGenerator

from benchmark.api import StepContext
from benchmark.util.errors import ConfigError

PLUGIN = Pix2Pix()
CPU = torch.device("cpu")


def onehot(label: torch.Tensor, num_classes: int) -> torch.Tensor:
    return F.one_hot(label, num_classes).permute(0, 3, 1, 2).float()


def options(**overrides):
    return PLUGIN.Options(**overrides)


# ---------------------------------------------------------------- networks

@pytest.mark.parametrize("size, ngf", [(32, 8), (64, 8), (256, 4)])
def test_generator_shape_and_depth_follow_the_image_size(size, ngf):
    G = UnetGenerator(5, 3, size, ngf=ngf)
    downs = [m for m in G.modules() if isinstance(m, Down)]
    assert len(downs) == G.num_downs == int(math.log2(size))
    widths = [next(m for m in d.modules() if isinstance(m, torch.nn.Conv2d)).out_channels for d in downs]
    assert widths == [ngf, 2 * ngf, 4 * ngf, 8 * ngf] + [8 * ngf] * (len(downs) - 4)
    codes = []
    downs[-1].register_forward_hook(lambda m, i, o: codes.append(o))
    out = G(torch.randn(2, 5, size, size))
    assert out.shape == (2, 3, size, size)
    assert codes[0].shape == (2, 8 * ngf, 1, 1)  # the bottleneck is 1x1
    assert out.abs().max() <= 1  # tanh


@pytest.mark.parametrize("size, n_dropout", [(32, 0), (64, 1), (256, 3)])
def test_dropout_sits_in_the_inner_8ngf_decoder_steps(size, n_dropout):
    G = UnetGenerator(3, 3, size, ngf=4)
    assert sum(isinstance(m, torch.nn.Dropout) for m in G.modules()) == n_dropout
    assert not any(isinstance(m, torch.nn.Dropout) for m in UnetGenerator(3, 3, size, ngf=4, use_dropout=False).modules())


@pytest.mark.parametrize("size, grid", [(32, 2), (64, 6), (256, 30)])
def test_patch_discriminator_reads_the_pair_and_gives_a_grid(size, grid):
    D = PatchDiscriminator(5 + 3, ndf=4, n_layers=3)
    out = D(torch.randn(2, 5, size, size), torch.randn(2, 3, size, size))
    assert out.shape == (2, 1, grid, grid)


def test_init_is_normal_with_the_gain():
    model = PLUGIN.build(options(ngf=32, ndf=32, init_gain=0.02), 4, 64)
    convs = [m.weight.detach() for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    weights = torch.cat([w.flatten() for w in convs])
    assert abs(weights.mean().item()) < 2e-3 and weights.std().item() == pytest.approx(0.02, rel=0.05)
    scales = torch.cat([m.weight.detach() for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)])
    assert scales.mean().item() == pytest.approx(1.0, abs=0.01)
    assert scales.std().item() == pytest.approx(0.02, rel=0.2)


# ---------------------------------------------------------------- the KL term

def test_kl_is_zero_for_identical_images_and_positive_otherwise():
    torch.manual_seed(0)
    real = torch.rand(2, 3, 8, 8) * 2 - 1
    assert kl_loss(real, real).item() == pytest.approx(0.0, abs=1e-7)
    assert kl_loss(real.flip(-1), real).item() > 1e-3
    assert kl_loss(torch.zeros_like(real), real).item() > 1e-3
    black = -torch.ones(1, 3, 8, 8)
    assert torch.isfinite(kl_loss(black, real[:1])) and torch.isfinite(kl_loss(real[:1], black))


def test_kl_matches_a_hand_computed_value():
    # One 2x2 image. Real: every pixel 0 -> 0.5 in [0, 1] -> P = (1/4, 1/4, 1/4, 1/4).
    # Fake: pixels (1, 1, 0, 0) -> (1, 1, .5, .5) -> Q = (1/3, 1/3, 1/6, 1/6).
    # KL(P || Q) = 2 * 1/4 * log(3/4) + 2 * 1/4 * log(6/4) = log(1.125) / 2.
    expected = math.log(1.125) / 2
    real_ch = torch.zeros(2, 2)
    fake_ch = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    # channel 0 differs, channels 1 and 2 are identical: the mean over channels is expected / 3
    real = torch.stack([real_ch, real_ch, fake_ch])[None]
    fake = torch.stack([fake_ch, real_ch, fake_ch])[None]
    assert kl_loss(fake, real, eps=0.0).item() == pytest.approx(expected / 3, rel=1e-6)
    assert kl_loss(fake, real).item() == pytest.approx(expected / 3, rel=1e-4)  # default eps 1e-6
    # direction: the real image is the reference P, so swapping the arguments changes the value
    assert kl_loss(real, fake, eps=0.0).item() != pytest.approx(expected / 3, rel=1e-3)
    assert intensity_distribution(fake, eps=0.0)[0, 0].tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 6, 1 / 6])


# ---------------------------------------------------------------- options, presets, profiles

def test_presets_resolve_to_their_options():
    resolved = {name: options(**preset.options) for name, preset in PLUGIN.presets.items()}
    assert set(resolved) == {"official", "kl", "aug", "aug-kl"}
    assert {n: (o.beta_kl, o.augment) for n, o in resolved.items()} == {
        "official": (0.0, False), "kl": (0.2, False), "aug": (0.0, True), "aug-kl": (0.2, True)}
    official = resolved["official"]
    assert (official.ngf, official.ndf, official.n_layers_d, official.lambda_l1) == (64, 64, 3, 100.0)
    assert (official.lr, official.beta1, official.beta2, official.decay_start) == (2e-4, 0.5, 0.999, 0.5)
    assert official.load_scale == 286 / 256 and official.use_dropout and official.norm == "batch"
    assert all(field.description for field in PLUGIN.Options.model_fields.values())
    with pytest.raises(ValueError):
        options(lambda_l2=1.0)  # unknown keys are errors


def test_train_transform_follows_the_preset():
    plain = PLUGIN.train_transform(options(), 256)
    assert (plain.load_size, plain.hflip, plain.vflip, plain.rotate_degrees) == (286, True, False, 0.0)
    aug = PLUGIN.train_transform(options(**PLUGIN.presets["aug"].options), 64)
    assert (aug.load_size, aug.hflip, aug.vflip, aug.rotate_degrees) == (72, True, True, 10.0)


def test_train_length_per_profile():
    assert PLUGIN.train_length(options(), "paper") == PLUGIN.train_length(options(), "paper").__class__(
        epochs=200, steps=None, batch_size=1)
    smoke = PLUGIN.train_length(options(), "smoke")
    assert (smoke.steps, smoke.batch_size) == (30, 4)
    quick = PLUGIN.train_length(options(), "quick")
    assert quick.steps == PLUGIN.profiles["quick"]["run"]["steps"] and quick.epochs is None


def test_check_rejects_sizes_the_unet_cannot_halve_to_1x1():
    for ok in (32, 64, 256):
        PLUGIN.check(options(), ok, 13)
    with pytest.raises(ConfigError, match="image_size") as err:
        PLUGIN.check(options(), 48, 13)
    assert "\n" not in str(err.value) and "power of two" in str(err.value)
    with pytest.raises(ConfigError, match="n_layers_d"):
        PLUGIN.check(options(), 16, 13)  # a 3-layer PatchGAN has no output at 16 px
    PLUGIN.check(options(n_layers_d=2), 16, 13)


def test_registers_one_model():
    registered = []
    register_models(registered.append)
    assert [type(p) for p in registered] == [Pix2Pix] and registered[0].name == "pix2pix"


# ---------------------------------------------------------------- training

def make_batch(num_classes=4, n=2, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    label = torch.randint(0, num_classes, (n, size // 8, size // 8), generator=g)
    label = label.repeat_interleave(8, 1).repeat_interleave(8, 2)
    palette = torch.linspace(-0.9, 0.9, num_classes)[:, None] * torch.tensor([1.0, -1.0, 0.5])  # (C, 3)
    image = palette[label].permute(0, 3, 1, 2).contiguous()
    return {"label": label, "onehot": onehot(label, num_classes), "image": image, "index": torch.arange(n)}


def test_train_step_losses_lr_decay_and_generate():
    torch.manual_seed(0)
    model = PLUGIN.build(options(ngf=8, ndf=8, beta_kl=0.2), 4, 32)
    model.configure_optimizers()
    batch = make_batch()
    ctx = StepContext(device=CPU, dtype=None, step=75, total_steps=100)
    before = [p.clone() for p in model.parameters()]
    losses = model.train_step(batch, ctx)
    assert set(losses) == {"G_GAN", "G_L1", "G_KL", "D_real", "D_fake"}
    assert all(v.dim() == 0 and not v.requires_grad and torch.isfinite(v) for v in losses.values())
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))  # G and D both stepped
    # 3/4 through with decay from 1/2: half the lr
    assert model.optimizers["G"].param_groups[0]["lr"] == pytest.approx(1e-4)
    assert model.lr_factor(0.25) == 1.0 and model.lr_factor(0.999) == pytest.approx(0.002)

    no_kl = PLUGIN.build(options(ngf=8, ndf=8), 4, 32)
    no_kl.configure_optimizers()
    assert set(no_kl.train_step(batch, ctx)) == {"G_GAN", "G_L1", "D_real", "D_fake"}

    stats = [b.clone() for b in model.G.buffers()]
    model.eval()
    fake = model.generate(batch)
    assert fake.shape == (2, 3, 32, 32) and fake.abs().max() <= 1
    assert not model.G.training  # the harness's mode is kept
    assert all(torch.equal(a, b) for a, b in zip(stats, model.G.buffers()))  # generation does not train


def test_learns_a_label_to_colour_mapping():
    """100 steps on 6 fixed pairs: held-out L1 must fall well below the untrained model's.

    The image is a per-class colour of a random 4x4 block layout; the held-out
    layouts are new. lr 1e-3 (5x the default) so that 100 steps are enough: the
    trained/untrained ratio is then about 0.1-0.25 over seeds, against < 0.5 here.
    """
    torch.manual_seed(0)
    model = PLUGIN.build(options(ngf=16, ndf=16, lr=1e-3), 4, 32)
    model.configure_optimizers()
    train = make_batch(n=6, seed=1)
    held_out = make_batch(n=4, seed=2)

    def held_out_l1():
        return (model.generate(held_out) - held_out["image"]).abs().mean().item()

    untrained = held_out_l1()
    steps = 100
    for step in range(steps):
        model.train_step(train, StepContext(device=CPU, dtype=None, step=step, total_steps=steps))
    trained = held_out_l1()
    print(f"held-out L1: untrained {untrained:.3f}, trained {trained:.3f}")
    assert trained < 0.5 * untrained, (untrained, trained)
