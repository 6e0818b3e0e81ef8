"""UperNet-101 files as CSAILVision/semantic-segmentation-pytorch's ``train.py`` saves them (its
synchronized BatchNorm's bookkeeping buffers included) import with `bench weights import` and give the
probabilities of that repository's own module tree in eval mode, for both published versions, each
with its own photo preparation; any other unexpected key is refused with one line naming it.

The files come from ``tests/official_reference/csail_upernet.py``, a re-creation of CSAIL's module
tree, BatchNorm class, evaluation forward and photo preparation that imports nothing from bench."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bench_plugins.datasets.ade20k_classes import CLASS_NAMES
from bench_plugins.segmenters import upernet
from official_reference import csail_upernet as csail

from benchmark.cli import app as cli
from benchmark.testing import one_error_line
from tests.test_standard_segmenters import context

VERSIONS = {"upernet-101-baseline": (upernet.UperNet101Baseline, True),
            "upernet-101": (upernet.UperNet101, False)}


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """CSAIL's module tree (random weights, used BatchNorm statistics) and its two files."""
    net = csail.build(seed=3)
    return net, csail.save_as_train_py(net, tmp_path_factory.mktemp("csail") / "ckpt")


def photo(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth photo with some texture, 8-bit RGB."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([128 + 100 * np.sin(x / 7 + c) * np.cos(y / 5 - c) for c in range(3)], -1)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


def cli_run(capsys, *args):
    capsys.readouterr()
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_csails_files_hold_the_bookkeeping_buffers(official):
    _, (encoder, decoder) = official
    keys = list(torch.load(encoder, weights_only=True)) + list(torch.load(decoder, weights_only=True))
    for name in upernet.SYNC_BN_BOOKKEEPING:
        assert sum(k.endswith("." + name) for k in keys) > 100, name  # one per BatchNorm: hundreds
    assert "bn1._running_iter" in keys and "conv_last.0.1._tmp_running_var" in keys


@pytest.mark.parametrize("name", list(VERSIONS))
def test_csails_files_import_and_give_the_probabilities_of_its_module_tree(name, official, tmp_path, capsys,
                                                                          monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    net, paths = official
    cls, baseline = VERSIONS[name]
    segmenter = cls()
    for spec, path in zip(segmenter.specs, paths):
        code, out, err = cli_run(capsys, "weights", "import", spec.name, str(path))
        assert code == 0, err
        assert f"imported {spec.name}" in out
    options = cls.Options(scales=[64, 32])  # 48x64: up to 64x96, and down to 32x64 (PIL antialiases)
    rgb = [photo(seed=s) for s in (0, 1)]
    labels = [np.zeros((48, 64), dtype=np.uint8) for _ in rgb]
    model = segmenter.load(context(tmp_path, CLASS_NAMES, segmenter, options, labels), options)
    images = torch.stack([torch.from_numpy(p.copy()).permute(2, 0, 1).float() / 255 for p in rgb])
    with torch.no_grad():
        ours = segmenter.forward(model.net, images, options)
        # the network alone, on the same input: the same arithmetic
        x = segmenter.prepare(images[:1], (64, 96))
        assert torch.allclose(model.net(x), net.decoder.conv_last(torch.cat(_fused(net, x), 1)), atol=1e-4)
    theirs = torch.cat([csail.evaluate(net, p, options.scales, baseline) for p in rgb])
    assert ours.shape == theirs.shape == (2, 150, 48, 64)
    # the photo preparation matches theirs to the 8-bit level (PIL's fixed-point antialiasing: within one)
    for short in options.scales:
        size = csail.target_size(48, 64, short)
        mine = segmenter.prepare(images[:1], size)
        ref = csail.baseline_input(rgb[0], short) if baseline else csail.today_input(rgb[0], short)
        step = 1.0 if baseline else 1 / 255 / min(csail.RGB_STD)
        assert (mine - ref).abs().max() <= step + 1e-4, short  # ties of the fixed-point rounding
    # the same probabilities up to those 8-bit ties (random weights: nearly uniform over 150 classes)
    error = ((ours - theirs).abs() / theirs).max()
    assert error < 0.01
    assert (ours.argmax(1) != theirs.argmax(1)).float().mean() < 0.01
    # the other version's preparation gives other probabilities: the versions are not interchangeable
    other = VERSIONS[[n for n in VERSIONS if n != name][0]][0]()
    with torch.no_grad():
        assert ((other.forward(model.net, images, options) - theirs).abs() / theirs).max() > 20 * error
    assert model.protocol["segmenter"].startswith(f"{name}: ") and model.protocol["segmenter_preprocessing"] == \
        cls.preprocessing


def _fused(net, x):
    """The decoder's input of conv_last, computed by CSAIL's module tree (its forward without the softmax)."""
    dec, feats = net.decoder, net.encoder(x, return_feature_maps=True)
    conv5 = feats[-1]
    ppm = [conv5] + [conv(torch.nn.functional.interpolate(pool(conv5), conv5.shape[2:], mode="bilinear",
                                                          align_corners=False))
                     for pool, conv in zip(dec.ppm_pooling, dec.ppm_conv)]
    f = dec.ppm_last_conv(torch.cat(ppm, 1))
    outs = [f]
    for i in reversed(range(3)):
        lateral = dec.fpn_in[i](feats[i])
        f = lateral + torch.nn.functional.interpolate(f, size=lateral.shape[2:], mode="bilinear", align_corners=False)
        outs.append(dec.fpn_out[i](f))
    outs.reverse()
    return [outs[0]] + [torch.nn.functional.interpolate(t, outs[0].shape[2:], mode="bilinear", align_corners=False)
                        for t in outs[1:]]


@pytest.mark.parametrize("key", ["fc.weight", "layer1.0.conv1._running_iter", "layer1.0.bn1._tmp_running_std"])
def test_any_other_unexpected_key_is_refused_with_one_line_naming_it(key, official, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    _, (encoder, _) = official
    state = torch.load(encoder, weights_only=True)
    state[key] = torch.zeros(3)
    bad = tmp_path / "encoder_epoch_50.pth"
    torch.save(state, bad)
    code, _, err = cli_run(capsys, "weights", "import", "upernet101-baseline-encoder", str(bad))
    line = one_error_line(code, err)
    assert repr(key) in line and str(bad) in line
    assert not (tmp_path / "weights" / "baseline-resnet101-upernet-encoder_epoch_50.pth").exists()


def test_a_bookkeeping_buffer_in_a_file_loaded_as_a_whole_is_dropped_by_name_only():
    from bench_plugins.segmenters.published import without_bookkeeping

    net = upernet.UperNet()
    state = {"encoder.bn1._running_iter": 1, "encoder.conv1._running_iter": 2, "decoder.conv_last.0.1._tmp_running_mean": 3,
             "encoder.bn1.running_mean": 4, "encoder.bn1._running_iters": 5}
    assert without_bookkeeping(state, net, upernet.SYNC_BN_BOOKKEEPING) == {
        "encoder.conv1._running_iter": 2, "encoder.bn1.running_mean": 4, "encoder.bn1._running_iters": 5}
