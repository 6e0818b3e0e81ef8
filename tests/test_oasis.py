"""The oasis plugin: losses against hand values, the U-Net's shapes, seeded multi-modal generation, EMA, options."""

from __future__ import annotations

import math
import types

import pytest
import torch
import torch.nn.functional as F
from bench_plugins.models.oasis import Oasis, register_models
from bench_plugins.models.oasis.discriminator import OasisDiscriminator
from bench_plugins.models.oasis.ema import update_ema
from bench_plugins.models.oasis.generator import OasisGenerator
from bench_plugins.models.oasis.losses import class_weights, labelmix, labelmix_loss, segmentation_loss
from bench_plugins.models.oasis.trainable import OasisTrainable

from benchmark.api import DataFacts, StepContext
from benchmark.cli import app as cli
from benchmark.util.errors import ConfigError

PLUGIN = Oasis()
CPU = torch.device("cpu")
TINY = {"ngf": 2, "ndf": 2, "spade_hidden": 8, "z_dim": 4, "num_res_blocks": 4, "ema_decay": 0.5,
        "ema_stats_batches": 2}


def onehot(label, num_classes):
    return F.one_hot(label, num_classes).permute(0, 3, 1, 2).float()


def make_batch(num_classes=3, n=2, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    label = torch.randint(0, num_classes, (n, 4, 4), generator=g)
    label = label.repeat_interleave(size // 4, 1).repeat_interleave(size // 4, 2)
    image = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    return {"label": label, "onehot": onehot(label, num_classes), "image": image, "index": torch.arange(n) + 7}


def test_class_balanced_n_plus_one_loss_equals_the_hand_computation():
    # one image, 4 pixels: class 0 three times, class 1 once; 2 classes -> 3 logits per pixel
    label = torch.tensor([[[0, 0], [0, 1]]])
    oh = onehot(label, 2)
    # weights: numel 8 / (2 present * 2 channels) / count -> class 0: 2/3, class 1: 2
    assert torch.allclose(class_weights(oh, dontcare_first=False), torch.tensor([[[2 / 3, 2 / 3], [2 / 3, 2.0]]]))
    logits = torch.zeros(1, 3, 2, 2)
    logits[0, 1] = 1.0  # favours "real class 0" (target index 1)
    p_hit, p_miss = math.e / (math.e + 2), 1 / (math.e + 2)
    real = (3 * (2 / 3) * -math.log(p_hit) + 2 * -math.log(p_miss)) / 4
    fake = -math.log(p_miss)  # target 0 ("fake") everywhere
    assert segmentation_loss(logits, oh, real=True, balance=True, dontcare_first=False).item() == pytest.approx(real)
    assert segmentation_loss(logits, oh, real=False, balance=True, dontcare_first=False).item() == pytest.approx(fake)
    unbalanced = (3 * -math.log(p_hit) + -math.log(p_miss)) / 4
    assert segmentation_loss(logits, oh, real=True, balance=False, dontcare_first=False).item() == \
        pytest.approx(unbalanced)
    # the dontcare channel (first) weighs nothing: class 1 alone is present -> 8 / (1 * 2) / 1 = 4
    assert class_weights(oh, dontcare_first=True).tolist() == [[[0.0, 0.0], [0.0, 4.0]]]


def test_labelmix_mixes_whole_classes_and_its_loss_is_zero_for_a_consistent_d():
    batch = make_batch(num_classes=5, n=2, size=8)
    fake, real = -torch.ones(2, 3, 8, 8), torch.ones(2, 3, 8, 8)
    mixed, mask = labelmix(batch["onehot"], fake, real, torch.Generator().manual_seed(3))
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    for c in batch["label"].unique():  # one coin per class over the batch
        assert mask[:, 0][batch["label"] == c].unique().numel() == 1
    assert torch.equal(mixed, mask.expand_as(real) * 2 - 1)
    lf, lr = torch.randn(2, 6, 8, 8), torch.randn(2, 6, 8, 8)
    assert labelmix_loss(mask, mask * lr + (1 - mask) * lf, lf, lr).item() == 0
    assert labelmix_loss(mask, lf, lf, lr).item() == pytest.approx(((mask * (lr - lf)) ** 2).mean().item())


@pytest.mark.parametrize("blocks,size", [(4, (16, 32)), (5, (32, 32)), (6, (64, 128))])
def test_generator_and_unet_shapes(blocks, size):
    g = OasisGenerator(3, size, ngf=2, num_res_blocks=blocks, z_dim=4, hidden=4)
    assert len(g.body) == blocks and g.grid == (size[0] // 2 ** (blocks - 1), size[1] // 2 ** (blocks - 1))
    assert g(torch.zeros(2, 3, *size)).shape == (2, 3, *size)
    d = OasisDiscriminator(3, ndf=2, num_res_blocks=blocks)
    assert len(d.body_down) == len(d.body_up) == blocks
    assert d(torch.zeros(2, 3, *size)).shape == (2, 4, *size)  # 3 classes + "fake"


def test_official_widths_at_the_default_options():
    with torch.device("meta"):  # shapes only
        d, g = OasisDiscriminator(150, ndf=64, num_res_blocks=6), OasisGenerator(151, 256, z_dim=64)
    assert sum(p.numel() for p in g.parameters()) > 50e6
    assert [b.conv1.out_channels for b in d.body_down] == [128, 128, 256, 256, 512, 512]
    assert [b.conv1.in_channels for b in d.body_up] == [512, 1024, 512, 512, 256, 256]
    assert d.layer_up_last.out_channels == 151
    assert g.fc.in_channels == 215 and g.grid == (8, 8)
    assert [b.conv_1.out_channels for b in g.body] == [1024, 1024, 512, 256, 128, 64]
    assert g.body[0].norm_0.shared[0].in_channels == 215


def test_noise_changes_the_image_and_generation_is_seeded_per_image():
    torch.manual_seed(0)
    model = OasisTrainable(PLUGIN.Options(**TINY), 3, 16)
    batch = make_batch()
    a, b = model.generate_sample(batch, 0), model.generate_sample(batch, 1)
    assert (a - b).abs().mean() > 1e-4  # another z, another image
    assert torch.equal(model.generate(batch), a)
    # image 1 alone gives what it gave in the batch
    one = {k: v[1:] for k, v in batch.items()}
    assert torch.allclose(model.generate(one), a[1:], atol=1e-6)
    assert PLUGIN.multi_modal(PLUGIN.Options()) and not PLUGIN.multi_modal(PLUGIN.Options(z_dim=0))
    still = OasisTrainable(PLUGIN.Options(**{**TINY, "z_dim": 0}), 3, 16)
    assert torch.equal(still.generate_sample(batch, 0), still.generate(batch))


def test_a_step_trains_g_and_d_and_moves_the_ema_by_its_decay():
    torch.manual_seed(0)
    model = OasisTrainable(PLUGIN.Options(**TINY), 3, 16)
    model.configure_optimizers()
    before_g = {k: v.clone() for k, v in model.G.state_dict().items()}
    before_d = [p.clone() for p in model.D.parameters()]
    losses = model.train_step(make_batch(), StepContext(device=CPU, dtype=None, step=0, total_steps=10))
    assert set(losses) == {"G_adv", "D_fake", "D_real", "D_labelmix"}
    assert all(torch.isfinite(v) for v in losses.values())
    assert any(not torch.equal(a, b) for a, b in zip(before_d, model.D.parameters()))
    key = "fc.weight"
    expected = 0.5 * before_g[key] + 0.5 * model.G.state_dict()[key]
    assert not torch.equal(before_g[key], model.G.state_dict()[key])
    assert torch.allclose(model.G_ema.state_dict()[key], expected)


def test_update_ema_copies_integers_and_averages_floats():
    a, b = torch.nn.BatchNorm2d(2), torch.nn.BatchNorm2d(2)
    b.running_mean.fill_(4.0)
    b.num_batches_tracked.fill_(9)
    update_ema(a, b, 0.75)
    assert a.running_mean.tolist() == [1.0, 1.0] and int(a.num_batches_tracked) == 9


def test_presets_dataset_settings_and_size_checks():
    official = PLUGIN.Options()
    assert (official.ngf, official.ndf, official.z_dim, official.num_res_blocks) == (64, 64, 64, 6)
    assert (official.lr_G, official.lr_D, official.beta1, official.beta2) == (1e-4, 4e-4, 0.0, 0.999)
    assert (official.lambda_labelmix, official.ema_decay, official.lambda_vgg) == (10.0, 0.9999, 0.0)
    assert PLUGIN.train_length(official, "paper").batch_size == 32
    city = PLUGIN.Options(**PLUGIN.presets["cityscapes"].options)
    assert (city.lr_G, city.lambda_labelmix, city.ema_decay) == (4e-4, 5.0, 0.999)
    assert all(f.description for f in PLUGIN.Options.model_fields.values())
    ade = DataFacts(name="ade20k", num_classes=150, ignore_index=255, instance_maps=False, dontcare_label=True)
    assert PLUGIN.for_dataset(official, ade).dontcare_channel is True
    assert PLUGIN.for_dataset(official, ade).zero_weight_first is True
    PLUGIN.check(official, 256, 150)
    with pytest.raises(ConfigError, match="multiple of 2\\*\\*num_res_blocks = 64"):
        PLUGIN.check(official, 32, 150)


def test_registers_and_bench_info_lists_presets(capsys, monkeypatch):
    found = []
    register_models(found.append)
    assert [p.name for p in found] == ["oasis"]
    monkeypatch.setenv("COLUMNS", "250")
    assert cli.main(["info", "oasis"]) == 0
    out = capsys.readouterr().out
    assert all(row in out for row in ("oasis+cityscapes", "oasis+no-3dnoise", "lambda_labelmix"))


@pytest.mark.parametrize("name, classes, ignore, dontcare_label, dontcare, zero", [
    ("ade20k", 150, 255, True, True, True),  # the dontcare channel first, weight 0
    ("cityscapes", 35, None, False, False, True),  # no dontcare channel, labelId 0 ("unlabeled") weight 0
    ("facades", 12, None, False, False, False),  # every class counts
])
def test_channel_0_weighs_what_the_official_code_gives_it_on_each_dataset(name, classes, ignore, dontcare_label,
                                                                        dontcare, zero):
    facts = DataFacts(name=name, num_classes=classes, ignore_index=ignore, instance_maps=False,
                      dontcare_label=dontcare_label)
    options = PLUGIN.for_dataset(PLUGIN.Options(), facts)
    assert (options.dontcare_channel, options.zero_weight_first) == (dontcare, zero)
    assert PLUGIN.for_dataset(PLUGIN.Options(zero_weight_first=False), facts).zero_weight_first is False
    # the loss: a batch whose channel 0 pixels weigh 0 exactly when zero_weight_first is set
    onehot = F.one_hot(torch.tensor([[[0, 1], [1, 2]]]), classes + int(dontcare)).permute(0, 3, 1, 2).float()
    assert (class_weights(onehot, dontcare_first=options.zero_weight_first)[0, 0, 0].item() == 0.0) is zero
    # what the trainable passes: the resolved setting, or (unresolved) the dontcare channel's
    resolved = types.SimpleNamespace(options=options)
    unresolved = types.SimpleNamespace(options=PLUGIN.Options(dontcare_channel=dontcare))
    assert OasisTrainable.zero_weight_first.fget(resolved) is zero
    assert OasisTrainable.zero_weight_first.fget(unresolved) is dontcare
