"""The standard mIoU segmenters (DRN-D-105, UperNet-101, DeepLabV2-ResNet101): published key
layouts load strictly through the weights cache, forward passes follow the published
preprocessing, Cityscapes ids map to train ids, and a missing file stops a run before training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bench_plugins.datasets.ade20k_classes import CLASS_NAMES as ADE_CLASSES
from bench_plugins.datasets.cityscapes_classes import CLASS_NAMES as CITY_CLASSES
from bench_plugins.datasets.cocostuff_classes import CLASS_NAMES as COCO_CLASSES
from bench_plugins.metrics.miou import MIoU, confusion_of
from bench_plugins.segmenters import deeplabv2, drn, upernet, upernet_net
from bench_plugins.segmenters.published import layout_check

from benchmark.registry import weights
from benchmark.cli.app import main
from benchmark.api import EvalContext, Options, ResolvedSegmenter
from benchmark.planning.config import Layers
from benchmark.util.settings_text import parse_set
from benchmark.util.errors import WeightsError
from benchmark.util.imageio import write_png
from benchmark.planning.plan import build_plan
from benchmark.testing import call_cli, one_error_line

CPU = torch.device("cpu")
F = torch.nn.functional

#: keys and shapes read in the official code (fyu/drn segment.py + drn.py; CSAILVision models.py
#: with the ade20k-resnet101-upernet config; kazuto1011/deeplab-pytorch deeplabv2.py + msc.py)
PUBLISHED = {
    "drn-d-105": {
        "base.0.0.weight": (16, 3, 7, 7), "base.1.0.weight": (16, 16, 3, 3), "base.2.0.weight": (32, 16, 3, 3),
        "base.3.0.downsample.0.weight": (256, 32, 1, 1), "base.5.22.conv2.weight": (256, 256, 3, 3),
        "base.6.0.conv3.weight": (2048, 512, 1, 1), "base.7.0.weight": (512, 2048, 3, 3),
        "base.8.1.running_var": (512,), "seg.weight": (19, 512, 1, 1), "seg.bias": (19,),
        "up.weight": (19, 1, 16, 16)},
    "upernet-101": {
        "encoder.conv1.weight": (64, 3, 3, 3), "encoder.conv3.weight": (128, 64, 3, 3),
        "encoder.layer1.0.conv1.weight": (64, 128, 1, 1), "encoder.layer1.0.downsample.0.weight": (256, 128, 1, 1),
        "encoder.layer3.22.conv3.weight": (1024, 256, 1, 1), "encoder.layer4.2.bn3.running_mean": (2048,),
        "decoder.ppm_conv.3.0.weight": (512, 2048, 1, 1), "decoder.ppm_last_conv.0.weight": (512, 4096, 3, 3),
        "decoder.fpn_in.0.0.weight": (512, 256, 1, 1), "decoder.fpn_out.2.0.0.weight": (512, 512, 3, 3),
        "decoder.conv_last.0.0.weight": (512, 2048, 3, 3), "decoder.conv_last.1.weight": (150, 512, 1, 1),
        "decoder.conv_last.1.bias": (150,)},
    "deeplabv2-cocostuff": {
        "base.layer1.conv1.conv.weight": (64, 3, 7, 7), "base.layer1.conv1.bn.running_mean": (64,),
        "base.layer2.block1.shortcut.conv.weight": (256, 64, 1, 1),
        "base.layer2.block1.reduce.conv.weight": (64, 64, 1, 1), "base.layer4.block23.conv3x3.conv.weight":
        (256, 256, 3, 3), "base.layer5.block3.increase.bn.weight": (2048,), "base.aspp.c0.weight": (182, 2048, 3, 3),
        "base.aspp.c3.bias": (182,)},
}
SEGMENTERS = {"drn-d-105": (drn.DRND105, CITY_CLASSES), "upernet-101": (upernet.UperNet101, ADE_CLASSES),
              "deeplabv2-cocostuff": (deeplabv2.DeepLabV2CocoStuff, COCO_CLASSES)}
FAST = {"drn-d-105": {}, "upernet-101": {"scales": [65]}, "deeplabv2-cocostuff": {}}


def published_files(name: str, state: dict) -> list[dict]:
    """The state dict split as the published files hold it, without BatchNorm's
    ``num_batches_tracked`` (the published files predate it)."""
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    if name != "upernet-101":
        return [state]
    return [{k.split(".", 1)[1]: v for k, v in state.items() if k.startswith(part + ".")}
            for part in ("encoder", "decoder")]


def context(tmp_path, classes, segmenter, options, labels) -> EvalContext:
    for split in ("images", "labels"):
        (tmp_path / split).mkdir()
    rng = np.random.default_rng(0)
    for i, label in enumerate(labels):
        write_png(tmp_path / "images" / f"{i}.png", rng.integers(0, 256, (*label.shape, 3), dtype=np.uint8))
        write_png(tmp_path / "labels" / f"{i}.png", label)
    ignore = None if classes is CITY_CLASSES else 255
    return EvalContext(fake_dir=tmp_path / "images", real_dir=tmp_path / "images", label_dir=tmp_path / "labels",
                       class_names=list(classes), ignore_index=ignore, device=CPU, cache_dir=tmp_path / "cache",
                       train_images=None, image_size=65, seed=0, profile="smoke", reference=True,
                       segmenter=ResolvedSegmenter(segmenter, options))


@pytest.mark.parametrize("name", list(SEGMENTERS))
def test_published_layout_loads_strictly_and_predicts_as_published(name, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    cls, classes = SEGMENTERS[name]
    segmenter = cls()
    torch.manual_seed(0)
    net = segmenter.build().eval()
    state = net.state_dict()
    for key, shape in PUBLISHED[name].items():
        assert tuple(state[key].shape) == shape, key
    # the published files go through `bench weights import`: checked by structure, checksum recorded
    for spec, part in zip(cls.specs, published_files(name, state)):
        torch.save(part, tmp_path / spec.filename)
        weights.import_file(spec, tmp_path / spec.filename)
        assert weights.recorded_sha256(spec) is not None
    options = cls.Options(**FAST[name])
    rng = np.random.default_rng(1)
    labels = [rng.integers(0, len(classes), (65, 65)).astype(np.uint8) for _ in range(2)]
    ctx = context(tmp_path, classes, segmenter, options, labels)
    model = segmenter.load(ctx, options)
    images = torch.rand(2, 3, 65, 65)
    pred = model.predict(images)
    assert pred.shape == (2, 65, 65) and pred.dtype == torch.int64
    with torch.no_grad():
        assert torch.equal(pred, reference(name, net, images, options))
    value = MIoU().compute(ctx, Options())
    assert 0 <= value.values["mIoU"] <= 1 and weights.recorded_sha256(cls.specs[0]) in value.protocol["segmenter"]
    assert value.protocol["segmenter_preprocessing"] == cls.preprocessing


def reference(name: str, net, images, options) -> torch.Tensor:
    """The published test's preprocessing, written out by hand."""
    if name == "drn-d-105":
        mean, std = torch.tensor(drn.MEAN).view(1, 3, 1, 1), torch.tensor(drn.STD).view(1, 3, 1, 1)
        out = net((images - mean) / std)  # (65 -> 9 after stride 8) * 8 = 72 px from the transposed conv
        assert out.shape[-2:] == (72, 72)
        return F.interpolate(out, size=(65, 65), mode="bilinear", align_corners=False).argmax(1)
    if name == "upernet-101":
        # 65 rounds up to 96 (x32); the photo preparation itself: tests/test_upernet_published.py
        x = upernet.UperNet101().prepare(images, (96, 96))
        return F.interpolate(net(x), size=(65, 65), mode="bilinear").softmax(1).argmax(1)
    x = images[:, [2, 1, 0]] * 255 - torch.tensor([104.008, 116.669, 122.675]).view(1, 3, 1, 1)
    logits = net.base(x)  # 65 -> 33 -> 17 (ceil-mode pool) -> 9
    assert logits.shape[-2:] == (9, 9)
    half = F.interpolate(net.base(F.interpolate(x, scale_factor=0.5, mode="bilinear")), size=(9, 9), mode="bilinear")
    three = F.interpolate(net.base(F.interpolate(x, scale_factor=0.75, mode="bilinear")), size=(9, 9), mode="bilinear")
    best = torch.maximum(logits, torch.maximum(half, three))
    return F.interpolate(best, size=(65, 65), mode="bilinear").argmax(1)


def test_upernet_test_sizes_follow_the_published_rule():
    assert upernet.scaled_size(256, 512, 300) == (320, 608)  # 300 x 600 -> multiples of 32
    assert upernet.scaled_size(256, 512, 600) == (512, 1024)  # long side capped at 1000: 500 x 1000 -> x32
    assert upernet.scaled_size(65, 65, 65) == (96, 96)


def test_cityscapes_label_ids_map_to_train_ids_and_mIoU_runs_over_19_classes(tmp_path):
    table = drn.DRND105().target_table()
    # road 7 -> 0, car 26 -> 13, bicycle 33 -> 18; unlabeled 0, guard rail 14, license plate 34: ignored
    assert [int(table[i]) for i in (7, 26, 33, 0, 14, 34)] == [0, 13, 18, 255, 255, 255]
    assert sorted(int(t) for t in table if t != 255) == list(range(19))

    class Stub:
        classes, target_ids, protocol = drn.TRAIN_CLASSES, table, {}

        def predict(self, images):  # road everywhere but the last column: car
            pred = torch.zeros(images.shape[0], *images.shape[-2:], dtype=torch.int64)
            pred[..., -1] = 13
            return pred

    label = np.array([[7, 7, 26], [0, 26, 26]], dtype=np.uint8)  # one unlabeled pixel
    ctx = context(tmp_path, CITY_CLASSES, drn.DRND105(), drn.DRNOptions(), [label])
    cm = confusion_of(Stub(), ctx.fake_dir, ctx.label_dir, ["0"], ctx)
    assert cm.shape == (19, 19) and int(cm.sum()) == 5
    assert int(cm[0, 0]) == 2 and int(cm[13, 0]) == 1 and int(cm[13, 13]) == 2


def test_a_wrong_layout_is_refused_at_import_and_at_load(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    check = layout_check(drn.DRNSegmenter, "DRN-D-105 (19 classes)")
    with torch.device("meta"):
        state = drn.DRNSegmenter().state_dict()
    assert check(state) is None
    assert "seg.weight of shape (20, 512, 1, 1)" in check({**state, "seg.weight": torch.empty(20, 512, 1, 1)})
    assert "lacks 1" in check({k: v for k, v in state.items() if k != "up.weight"})
    torch.save({"seg.weight": torch.zeros(19, 512, 1, 1)}, tmp_path / "bad.pth")
    with pytest.raises(WeightsError, match="lacks"):
        weights.import_file(drn.DRND105.specs[0], tmp_path / "bad.pth")


def layers(tmp_path, dataset, *sets):
    flags = {"models": ["pix2pix"], "dataset": dataset, "profile": "smoke", "data_root": tmp_path / "data",
             "output_root": tmp_path / "out", "eval": {"metrics": ["miou"]}}
    return Layers.from_sources({}, parse_set(list(sets)), flags)


@pytest.mark.parametrize("dataset,name", [("cityscapes", "drn-d-105"), ("ade20k", "upernet-101"),
                                          ("coco-stuff", "deeplabv2-cocostuff")])
def test_each_dataset_defaults_to_its_standard_segmenter_when_the_file_is_present(dataset, name, tmp_path,
                                                                                  monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    (tmp_path / "weights").mkdir()
    for spec in SEGMENTERS[name][0].specs:
        (tmp_path / "weights" / spec.filename).write_bytes(b"present")
    assert build_plan(layers(tmp_path, dataset)).segmenter.name == name
    assert build_plan(layers(tmp_path, dataset, "eval.segmenter=trained")).segmenter.name == "trained"


def test_missing_weights_stop_the_run_before_training_with_one_line(tmp_path, monkeypatch):
    spec = drn.DRND105.specs[0]
    result = call_cli("run", "--models", "pix2pix", "--dataset", "cityscapes", "--data-root", tmp_path / "data",
                   "--output-root", tmp_path / "out", env={"BENCH_WEIGHTS_DIR": str(tmp_path / "weights")})
    line = one_error_line(result)
    assert spec.filename in line and spec.url in line and "--set eval.segmenter=trained" in line, line
    assert not (tmp_path / "out").exists()
    # the other two, in process; ADE20K's second file is named when only the first is present
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / upernet.UperNet101.specs[0].filename).write_bytes(b"present")
    for dataset, spec in (("coco-stuff", deeplabv2.DeepLabV2CocoStuff.specs[0]),
                          ("ade20k", upernet.UperNet101.specs[1])):
        with pytest.raises(WeightsError) as caught:
            build_plan(layers(tmp_path, dataset))
        line = str(caught.value)
        assert "\n" not in line and spec.filename in line and spec.url in line, line
        assert "--set eval.segmenter=trained" in line


def test_bench_list_segmenters_lists_the_three(capsys):
    assert main(["list", "segmenters"]) == 0
    out = capsys.readouterr().out
    for name in SEGMENTERS:
        assert name in out


def test_upernet_decoder_follows_the_published_order_on_narrow_widths():
    """The published UPerNet upsamples each pooled map before its 1x1 conv, then runs the FPN
    top-down; written out here with plain ops on a narrow stand-in (widths 8/4, 5 classes)."""
    torch.manual_seed(0)
    dec = upernet_net.Decoder(num_classes=5, fc_dim=8, fpn_dim=4, inplanes=(2, 3, 4, 8)).eval()
    for m in dec.modules():  # non-trivial BatchNorm statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1), m.running_var.uniform_(0.5, 2), m.weight.data.uniform_(0.5, 2)
    feats = [torch.randn(1, c, s, s) for c, s in ((2, 16), (3, 8), (4, 4), (8, 3))]

    def cbr(seq, x):  # conv, BN, ReLU of a Sequential
        return torch.relu(seq[1](seq[0](x)))

    with torch.no_grad():
        top = feats[-1]
        ppm = [cbr(conv, F.interpolate(F.adaptive_avg_pool2d(top, s), size=(3, 3), mode="bilinear"))
               for s, conv in zip((1, 2, 3, 6), dec.ppm_conv)]
        f = cbr(dec.ppm_last_conv, torch.cat([top, *ppm], 1))
        outs = [f]
        for i in (2, 1, 0):
            f = cbr(dec.fpn_in[i], feats[i]) + F.interpolate(f, size=feats[i].shape[-2:], mode="bilinear")
            outs.insert(0, cbr(dec.fpn_out[i][0], f))
        fused = torch.cat([F.interpolate(o, size=(16, 16), mode="bilinear") for o in outs], 1)
        expected = dec.conv_last[1](cbr(dec.conv_last[0], fused))
        assert torch.allclose(dec(feats), expected, atol=1e-5)
