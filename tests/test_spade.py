"""The spade and face-spade plugins: SPADE against a hand computation, shapes, VAE, VGG loss, options."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from bench_plugins.models import vgg19
from bench_plugins.models.spade import Spade, register_models
from bench_plugins.models.spade.blocks import NoiseInjection
from bench_plugins.models.spade.discriminator import MultiscaleDiscriminator
from bench_plugins.models.spade.face import FaceSpade
from bench_plugins.models.spade.face import register_models as register_face
from bench_plugins.models.spade.generator import SPADEGenerator, SPADEResBlock
from bench_plugins.models.spade.losses import VGG_LAYER_WEIGHTS, VGGLoss, feature_matching_loss, hinge_d_loss, kld_loss
from bench_plugins.models.spade.normalization import SPADE

from benchmark.cli import app as cli
from benchmark.registry import weights
from benchmark.api import StepContext
from benchmark.planning.config import Layers
from benchmark.util.errors import ConfigError, WeightsError
from benchmark.util.progress import Reporter
from benchmark.pipeline.execute import Execution

PLUGIN, FACE = Spade(), FaceSpade()
CPU = torch.device("cpu")
TINY = {"ngf": 4, "ndf": 8, "nef": 8, "spade_hidden": 8, "z_dim": 8, "n_layers_D": 3, "lambda_vgg": 0.0}


def onehot(label, num_classes):
    return F.one_hot(label, num_classes).permute(0, 3, 1, 2).float()


def make_batch(num_classes=4, n=4, size=32, seed=0):
    """Per-class colours on a random 4x4 block layout (the image is a function of the label map)."""
    g = torch.Generator().manual_seed(seed)
    label = torch.randint(0, num_classes, (n, 4, 4), generator=g)
    label = label.repeat_interleave(size // 4, 1).repeat_interleave(size // 4, 2)
    palette = torch.linspace(-0.8, 0.8, num_classes)[:, None] * torch.tensor([1.0, -1.0, 0.5])
    image = palette[label].permute(0, 3, 1, 2).contiguous()
    return {"label": label, "onehot": onehot(label, num_classes), "image": image,
            "index": torch.arange(n) + 100 * seed}


def ctx(step=0, total=100):
    return StepContext(device=CPU, dtype=None, step=step, total_steps=total)


# ---------------------------------------------------------------- SPADE normalization

@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_spade_equals_the_hand_computation(norm):
    torch.manual_seed(0)
    layer = SPADE(5, 3, hidden=6, norm=norm).train()
    for p in layer.parameters():
        torch.nn.init.normal_(p, std=0.3)
    x = torch.randn(2, 5, 8, 8) * 3 + 1
    label = onehot(torch.randint(0, 3, (2, 4, 4)), 3)  # coarser than x: nearest upsampling
    dims = (0, 2, 3) if norm == "batch" else (2, 3)
    mean, var = x.mean(dims, keepdim=True), x.var(dims, unbiased=False, keepdim=True)
    normalized = (x - mean) / torch.sqrt(var + 1e-5)
    m = label.repeat_interleave(2, 2).repeat_interleave(2, 3)
    hidden = F.relu(F.conv2d(m, layer.shared[0].weight, layer.shared[0].bias, padding=1))
    gamma = F.conv2d(hidden, layer.gamma.weight, layer.gamma.bias, padding=1)
    beta = F.conv2d(hidden, layer.beta.weight, layer.beta.bias, padding=1)
    expected = normalized * (1 + gamma) + beta  # the official code's form
    torch.testing.assert_close(layer(x, label), expected, rtol=1e-4, atol=1e-4)


def test_a_one_class_label_map_does_not_wash_out():
    """conv(uniform label) -> norm is the same for every class (the paper's argument); SPADE is not."""
    torch.manual_seed(0)
    size, classes = 64, 4
    uniform = [onehot(torch.full((1, size, size), c), classes) for c in range(classes)]
    conv = torch.nn.Conv2d(classes, 8, 3, padding=1)
    washed = [F.instance_norm(conv(m)[:, :, 4:-4, 4:-4]) for m in uniform]  # interior: a constant map
    assert all(w.abs().max() < 1e-3 for w in washed)
    G = SPADEGenerator(classes, size, ngf=4, hidden=8, norm="instance").eval()
    outs = [G(m) for m in uniform]
    gaps = [(outs[0] - o).abs().mean().item() for o in outs[1:]]
    assert min(gaps) > 1e-3, gaps


# ---------------------------------------------------------------- shapes

@pytest.mark.parametrize("mode, start", [("normal", 4), ("more", 2), ("most", 1)])
@pytest.mark.parametrize("vae", [False, True])
def test_generator_shapes_for_every_num_upsampling_layers(mode, start, vae):
    G = SPADEGenerator(3, 128, ngf=4, num_upsampling_layers=mode, use_vae=vae, z_dim=8, hidden=4)
    assert G.s == start
    ups = sum(up for _, up in G.block_order())
    assert ups == {"normal": 5, "more": 6, "most": 7}[mode] and start * 2 ** ups == 128
    widths = [G.blocks[n].conv_1.out_channels for n, _ in G.block_order()]
    assert widths == [64, 64, 64, 32, 16, 8, 4] + ([2] if mode == "most" else [])
    seen = []
    G.blocks["head_0"].register_forward_hook(lambda m, i, o: seen.append(o.shape))
    out = G(onehot(torch.randint(0, 3, (2, 128, 128)), 3), torch.randn(2, 8) if vae else None)
    assert out.shape == (2, 3, 128, 128) and out.abs().max() <= 1
    assert seen[0] == (2, 64, start, start)


def test_block_learned_shortcut_and_spectral_norm():
    same, change = SPADEResBlock(8, 8, 3, hidden=4), SPADEResBlock(8, 4, 3, hidden=4)
    assert not same.learned_shortcut and change.learned_shortcut and change.conv_s.bias is None
    assert change.conv_0.out_channels == 4  # fmiddle = min(fin, fout)
    for conv in (change.conv_0, change.conv_1, change.conv_s):
        assert "weight" in conv.parametrizations  # spectral norm
    assert not hasattr(SPADEResBlock(8, 4, 3, spectral=False).conv_0, "parametrizations")


def test_multiscale_discriminator_returns_features_per_scale():
    D = MultiscaleDiscriminator(3 + 3, num_D=2, ndf=4, n_layers=4)
    feats = D(torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64))
    assert len(feats) == 2 and all(len(f) == 5 for f in feats)  # 4 layers + logits
    assert [f.shape[1] for f in feats[0]] == [4, 8, 16, 32, 1]
    assert feats[1][0].shape[-1] < feats[0][0].shape[-1]  # the second scale reads a downsampled pair


# ---------------------------------------------------------------- losses

def test_losses_against_hand_values():
    real, fake = [torch.tensor([2.0, 0.5, -1.0])], [torch.tensor([-2.0, 0.0, 1.0])]
    d_real, d_fake = hinge_d_loss(real, fake)
    assert d_real.item() == pytest.approx((0 + 0.5 + 2) / 3) and d_fake.item() == pytest.approx((0 + 1 + 2) / 3)
    mu, logvar = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    # -0.5 * sum(1 + logvar - mu^2 - e^logvar) = -0.5 * ((1 + 0 - 1 - 1) + (1 + 1 - 0 - e))
    assert kld_loss(mu, logvar).item() == pytest.approx(-0.5 * (-1 + 2 - torch.e.__float__()))
    a = [[torch.ones(1, 2, 2), torch.zeros(1, 1, 1)], [torch.ones(1, 2, 2), torch.zeros(1, 1, 1)]]
    b = [[torch.zeros(1, 2, 2), torch.ones(1, 1, 1)], [torch.full((1, 2, 2), 3.0), torch.ones(1, 1, 1)]]
    assert feature_matching_loss(a, b).item() == pytest.approx((1 + 2) / 2)  # logits excluded, mean over scales


# ---------------------------------------------------------------- the VGG loss and its weights

@pytest.fixture
def vgg_file(tmp_path):
    return vgg19.write_random_file(tmp_path / "small-vgg.pth", width=2)


def test_vgg19_loader_matches_a_hand_forward(vgg_file):
    net = vgg19.load_features(vgg_file)
    state = torch.load(vgg_file)
    x = torch.randn(1, 3, 32, 32)
    feats = vgg19.slice_features(net, x)
    h, expected, names = x, [], vgg19.layer_names()
    for i, name in enumerate(names[: vgg19.LAYER_INDEX["relu5_1"] + 1]):
        if name.startswith("conv"):
            h = F.conv2d(h, state[f"features.{i}.weight"], state[f"features.{i}.bias"], padding=1)
        elif name.startswith("relu"):
            h = F.relu(h)
            if name in vgg19.PERCEPTUAL_LAYERS:
                expected.append(h)
        else:
            h = F.max_pool2d(h, 2)
    assert [f.shape[1] for f in feats] == [2, 4, 8, 16, 16]  # widths read from the file
    for a, b in zip(feats, expected):
        torch.testing.assert_close(a, b)
    assert not any(p.requires_grad for p in net.parameters())
    fake, real = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    by_hand = sum(w * F.l1_loss(f, r) for w, f, r in
                  zip(VGG_LAYER_WEIGHTS, vgg19.slice_features(net, fake), vgg19.slice_features(net, real)))
    torch.testing.assert_close(VGGLoss(net)(fake, real), by_hand)


def test_vgg19_rejects_a_file_that_is_not_vgg_shaped(tmp_path):
    bad = tmp_path / "bad.pth"
    torch.save({"features.0.weight": torch.zeros(4, 3, 1, 1)}, bad)
    with pytest.raises(WeightsError, match="not VGG19-shaped"):
        vgg19.load_features(bad)


def test_vgg_loss_trains_with_a_small_file_from_the_cache_or_an_option(vgg_file, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "cache"))
    # the cache path: what `bench weights import` does, less the hash prefix that only the real file has
    weights.import_file(dataclasses.replace(vgg19.SPEC, hash_prefix=None), vgg_file)
    for extra in ({}, {"vgg_weights": str(vgg_file)}):
        options = PLUGIN.Options(**{**TINY, "lambda_vgg": 10.0, **extra})
        PLUGIN.check(options, 32, 4)
        torch.manual_seed(0)
        model = PLUGIN.build(options, 4, 32)
        model.configure_optimizers()
        losses = model.train_step(make_batch(), ctx())
        assert losses["VGG"].item() > 0 and all(torch.isfinite(v) for v in losses.values())
        assert not any(k.startswith("_vgg") or "vgg" in k for k in model.state_dict())  # not checkpointed


def test_missing_vgg_weights_stop_the_run_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    flags = {"models": ["spade"], "profile": "smoke", "dataset": "synthetic-facades",
             "data_root": tmp_path / "data", "output_root": tmp_path / "out"}
    with pytest.raises(WeightsError) as err:
        Execution.from_layers(Layers.from_sources({}, {"spade": {"vgg_if_missing": "error"}}, flags),
                              Reporter(quiet=True))
    message = str(err.value)
    for needed in (vgg19.SPEC.filename, "sha256", f"bench weights import {vgg19.SPEC.name}", vgg19.SPEC.url,
                   "--set spade.lambda_vgg=0"):
        assert needed in message
    assert not (tmp_path / "out" / "runs").exists()  # nothing trained
    with pytest.raises(WeightsError, match="does not exist"):
        PLUGIN.check_training(PLUGIN.Options(vgg_weights=str(tmp_path / "nope.pth")))
    PLUGIN.check(PLUGIN.Options(vgg_weights=str(tmp_path / "nope.pth")), 64, 4)  # evaluation needs no VGG
    PLUGIN.check_training(PLUGIN.Options(lambda_vgg=0))  # no file needed
    assert PLUGIN.describe(PLUGIN.Options(lambda_vgg=0)) == "no VGG loss"


@pytest.mark.parametrize("model", ["spade", "pix2pixhd"])
def test_the_smoke_profile_trains_without_the_missing_vgg_file_and_says_so(tmp_path, monkeypatch, model):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    flags = {"models": [model], "profile": "smoke", "dataset": "synthetic-facades",
             "data_root": tmp_path / "data", "output_root": tmp_path / "out"}
    (row,) = Execution.from_layers(Layers.from_sources({}, {}, flags), Reporter(quiet=True)).rows()
    assert row.options.vgg_if_missing == "skip" and row.options.lambda_vgg > 0
    assert "no VGG loss" in row.plugin.describe(row.options)
    flags["profile"] = "quick"  # the other profiles still stop with the import command
    with pytest.raises(WeightsError, match="bench weights import vgg19-imagenet"):
        Execution.from_layers(Layers.from_sources({}, {}, flags), Reporter(quiet=True))


# ---------------------------------------------------------------- VAE mode

def styled_batch(n, seed):
    """Colours that the label map does not decide: each image's palette is negated or not (its "style")."""
    batch = make_batch(n=n, seed=seed)
    sign = torch.randint(0, 2, (n,), generator=torch.Generator().manual_seed(seed + 7)).float() * 2 - 1
    batch["image"] = batch["image"] * sign[:, None, None, None]
    return batch


def test_vae_training_encoder_beats_random_z_and_z_changes_the_output():
    """60 steps: the encoder's z reconstructs the style. Measured over 2 seeds: L1 ratio encoder/random
    0.52-0.63, distance between two z codes' outputs 0.13-0.20."""
    torch.manual_seed(0)
    model = PLUGIN.build(PLUGIN.Options(**{**TINY, "use_vae": True, "lr_G": 1e-3, "lr_D": 1e-3}), 4, 32)
    model.configure_optimizers()
    train = styled_batch(8, seed=1)
    for step in range(60):
        losses = model.train_step(train, ctx(step, 60))
    assert set(losses) == {"KLD", "GAN", "GAN_Feat", "D_fake", "D_real"}
    model.eval()
    with torch.no_grad():
        mu, _ = model.E(train["image"])
        from_encoder = model.generate(train, z=mu)
        g = torch.Generator().manual_seed(5)
        z1, z2 = torch.randn(8, 8, generator=g), torch.randn(8, 8, generator=g)
        random_1, random_2 = model.generate(train, z=z1), model.generate(train, z=z2)
    err_encoder = (from_encoder - train["image"]).abs().mean().item()
    err_random = (random_1 - train["image"]).abs().mean().item()
    print(f"L1 to the image: encoder {err_encoder:.3f}, random z {err_random:.3f}")
    assert err_encoder < 0.8 * err_random, (err_encoder, err_random)
    assert (random_1 - random_2).abs().mean().item() > 0.05  # two z codes, same label maps
    # generation is seeded per image index: reproducible, and independent of the batch
    first = model.generate(train)
    torch.testing.assert_close(first, model.generate(train))
    half = {k: v[:4] for k, v in train.items()}
    torch.testing.assert_close(first[:4], model.generate(half))
    other = dict(train, index=train["index"] + 1)
    assert (first - model.generate(other)).abs().mean().item() > 0.02
    encoder_mode = PLUGIN.build(PLUGIN.Options(**{**TINY, "use_vae": True, "generate_z": "encoder"}), 4, 32)
    assert encoder_mode.generate(train).shape == (8, 3, 32, 32)


def test_vae_mode_is_multi_modal_with_samples_seeded_per_image():
    assert not PLUGIN.multi_modal(PLUGIN.Options())
    assert PLUGIN.multi_modal(PLUGIN.Options(use_vae=True))
    assert not PLUGIN.multi_modal(PLUGIN.Options(use_vae=True, generate_z="encoder"))
    assert FACE.multi_modal(FACE.Options())
    torch.manual_seed(0)
    model = PLUGIN.build(PLUGIN.Options(**{**TINY, "use_vae": True}), 4, 32)
    batch = make_batch(n=2)
    first, second = model.generate_sample(batch, 0), model.generate_sample(batch, 1)
    assert torch.equal(first, model.generate(batch))
    assert (first - second).abs().mean().item() > 1e-3
    torch.testing.assert_close(second[1:], model.generate_sample({k: v[1:] for k, v in batch.items()}, 1))
    plain = PLUGIN.build(PLUGIN.Options(**TINY), 4, 32)
    assert torch.equal(plain.generate_sample(batch, 1), plain.generate(batch))  # no z: one image per map


# ---------------------------------------------------------------- face-spade

def test_face_spade_noise_starts_at_zero_and_style_mixing_trains():
    options = FACE.Options(**{**TINY, "style_mixing": 1.0})
    assert options.use_vae and options.noise
    torch.manual_seed(0)
    model = FACE.build(options, 4, 32)
    noise = [m for m in model.G.modules() if isinstance(m, NoiseInjection)]
    assert len(noise) == 2 * model.G.num_blocks() and all(torch.all(m.weight == 0) for m in noise)
    styles = [b.style for b in model.G.blocks.values()]
    assert all(s is not None for s in styles)
    model.configure_optimizers()
    batch = make_batch()
    crossovers = []
    model.G.register_forward_pre_hook(lambda m, a, k: crossovers.append(k.get("crossover")), with_kwargs=True)
    losses = model.train_step(batch, ctx())
    assert all(torch.isfinite(v) for v in losses.values()) and crossovers[0] is not None
    assert any(m.weight.abs().sum() > 0 for m in noise)  # the noise weights learn
    # the noise is drawn per test image: reproducible generation
    model.eval()
    torch.testing.assert_close(model.generate(batch), model.generate(batch))
    z = torch.randn(4, 8)
    for s in styles:
        torch.nn.init.normal_(s.weight, std=0.5)
    with torch.no_grad():
        mixed = model.G(batch["onehot"], z, z2=-z, crossover=3)
        plain = model.G(batch["onehot"], z)
    assert (mixed - plain).abs().mean() > 1e-3
    assert FACE.describe(options) == "no VGG loss; z ~ N(0,I); noise injection; style mixing p=1"


# ---------------------------------------------------------------- options, presets, registration

def test_presets_resolve_to_their_options():
    official = PLUGIN.Options(**PLUGIN.presets["official"].options)
    assert (official.ngf, official.ndf, official.num_D, official.n_layers_D, official.z_dim) == (64, 64, 2, 4, 256)
    assert (official.lambda_feat, official.lambda_vgg, official.lambda_kld) == (10.0, 10.0, 0.05)
    assert (official.lr_G, official.lr_D, official.beta1, official.beta2) == (1e-4, 4e-4, 0.0, 0.9)
    assert not official.use_vae and official.norm_G == "batch" and official.spade_hidden == 128
    source = PLUGIN.Options(**PLUGIN.presets["gaussian-gan"].options)
    assert (source.lambda_feat, source.lambda_vgg, source.lambda_kld) == (10.0, 0.1, 0.1)
    assert (source.beta2, source.use_vae, source.block_activation) == (0.999, True, "lrelu")
    assert PLUGIN.train_length(source, "paper").batch_size == 4
    assert PLUGIN.train_transform(source, 256).load_size == 288
    assert PLUGIN.train_transform(official, 256).load_size == 286
    lrs = {n: (FACE.Options(**p.options).lr_G, FACE.Options(**p.options).lr_D) for n, p in FACE.presets.items()}
    assert sorted(lrs.values()) == [(1e-4, 4e-4), (4e-4, 6e-4), (8e-4, 8e-4), (1e-3, 1.2e-3)]
    assert all(f.description for f in PLUGIN.Options.model_fields.values())
    with pytest.raises(ValueError):
        PLUGIN.Options(lambda_l1=1.0)


def test_check_rejects_sizes_the_generator_cannot_reach():
    PLUGIN.check(PLUGIN.Options(lambda_vgg=0), 64, 12)
    with pytest.raises(ConfigError, match="multiple of 128"):
        PLUGIN.check(PLUGIN.Options(lambda_vgg=0, num_upsampling_layers="most"), 64, 12)
    with pytest.raises(ConfigError, match="use_vae"):
        PLUGIN.check(PLUGIN.Options(lambda_vgg=0, style_mixing=0.5), 64, 12)


def test_registers_and_bench_info_lists_presets(capsys, monkeypatch):
    found = []
    register_models(found.append)
    register_face(found.append)
    assert [p.name for p in found] == ["spade", "face-spade"]
    monkeypatch.setenv("COLUMNS", "250")
    assert cli.main(["info", "spade"]) == 0
    out = capsys.readouterr().out
    assert all(row in out for row in ("spade+vae", "spade+gaussian-gan", "lambda_vgg"))
    assert cli.main(["info", "face-spade"]) == 0
    out = capsys.readouterr().out
    assert all(f"face-spade+{p}" in out for p in ("lr-4e-4", "lr-8e-4", "lr-1e-3"))
