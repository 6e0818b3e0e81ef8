"""Each segmenter's own rule for the mean over classes, on a hand-made confusion matrix.

Four classes, rows the ground truth, columns the prediction:

    class 0: in both           cm = [[3, 1, 1, 0],     IoU_0 = 3 / (5 + 5 - 3) = 3/7
    class 1: ground truth only       [2, 0, 0, 0],     IoU_1 = 0 / (2 + 1)     = 0
    class 2: prediction only         [0, 0, 0, 0],     IoU_2 = 0 / (0 + 1)     = 0
    class 3: in neither              [0, 0, 0, 0]]     IoU_3: no union

- ``union`` (bench, fyu/drn): mean of classes 0, 1, 2 = 1/7;
- ``all`` (CSAIL): every class, class 3 as 0 = 3/28;
- ``ground-truth`` (kazuto1011/deeplab-pytorch): classes 0 and 1 = 3/14;
- pixel accuracy 3/7 under every rule.

Each rule is also checked against the official script's own arithmetic written out in numpy on
label and prediction maps that give this matrix (CSAIL's +1 shift and ``np.histogram`` bins
included), and the rule each segmenter uses is recorded in the protocol's ``miou_over``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bench_plugins.metrics import miou_protocol
from bench_plugins.metrics.miou import MIoU
from bench_plugins.segmenters.scores import MEAN_OVER, MEAN_OVER_RULES, confusion, scores

from benchmark import Segmenter, SegmenterModel
from benchmark.api import EvalContext, ResolvedSegmenter
from benchmark.util.imageio import write_png

CM = torch.tensor([[3, 1, 1, 0], [2, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
EXPECTED = {"union": 1 / 7, "all": 3 / 28, "ground-truth": 3 / 14}


def maps() -> tuple[np.ndarray, np.ndarray]:
    """Label and prediction (one row of 7 pixels each, plus one ignored pixel 255) giving CM."""
    label = np.array([0, 0, 0, 0, 0, 1, 1, 255])
    pred = np.array([0, 0, 0, 1, 2, 0, 0, 3])
    return label, pred


def drn_miou(label, pred, n):
    """fyu/drn segment.py: fast_hist over labels in 0..n-1, then np.nanmean of diag / (rows + cols - diag)."""
    k = (label >= 0) & (label < n)
    hist = np.bincount(n * label[k] + pred[k], minlength=n * n).reshape(n, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nanmean(np.diag(hist) / (hist.sum(1) + hist.sum(0) - np.diag(hist)))


def csail_miou(label, pred, n):
    """CSAIL eval.py + utils.intersectionAndUnion: ids shifted by one (unlabelled -> 0), predictions on
    unlabelled pixels dropped, areas by np.histogram(bins=n, range=(1, n)), I / (U + 1e-10), mean of all."""
    lab = np.where(label == 255, -1, label) + 1
    prd = (pred + 1) * (lab > 0)
    inter = prd * (prd == lab)
    area_i = np.histogram(inter, bins=n, range=(1, n))[0]
    area_p = np.histogram(prd, bins=n, range=(1, n))[0]
    area_l = np.histogram(lab, bins=n, range=(1, n))[0]
    return (area_i / (area_p + area_l - area_i + 1e-10)).mean()


def kazuto_miou(label, pred, n):
    """kazuto1011/deeplab-pytorch metric.py: the same histogram, np.nanmean(iu[hist.sum(1) > 0])."""
    mask = (label >= 0) & (label < n)
    hist = np.bincount(n * label[mask] + pred[mask], minlength=n * n).reshape(n, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        iu = np.diag(hist) / (hist.sum(1) + hist.sum(0) - np.diag(hist))
    return np.nanmean(iu[hist.sum(1) > 0])


@pytest.mark.parametrize("rule, official", [("union", drn_miou), ("all", csail_miou), ("ground-truth", kazuto_miou)])
def test_each_rule_on_the_hand_made_matrix(rule, official):
    label, pred = maps()
    cm = confusion(torch.from_numpy(label), torch.from_numpy(pred), 4, ignore_index=255)
    assert cm.tolist() == CM.tolist()
    result = scores(cm, average=rule)
    assert result["miou"] == pytest.approx(EXPECTED[rule], rel=1e-9)
    assert result["miou"] == pytest.approx(official(label, pred, 4), rel=1e-9)
    assert result["pixel_accuracy"] == 3 / 7
    assert result["iou"][:3] == pytest.approx([3 / 7, 0, 0]) and result["iou"][3] is None
    assert result["classes_counted"] == {"union": 3, "all": 4, "ground-truth": 2}[rule]


def test_the_rules_differ_only_through_the_absent_classes():
    full = torch.tensor([[2, 1], [1, 3]])  # every class in the ground truth and the prediction
    expected = (2 / 4 + 3 / 5) / 2
    for rule in EXPECTED:
        assert scores(full, average=rule)["miou"] == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ValueError, match="unknown mIoU average"):
        scores(full, average="macro")


def test_each_segmenter_has_its_scripts_rule():
    assert miou_protocol.average_rule(None, "drn-d-105") == "union"
    assert miou_protocol.average_rule(None, "upernet-101") == "all"
    assert miou_protocol.average_rule(None, "upernet-101-baseline") == "all"  # eval.py of 2018-19: the same rule
    assert miou_protocol.average_rule(None, "deeplabv2-cocostuff") == "ground-truth"
    assert miou_protocol.average_rule(MIoU.Options(), "trained") == "union"
    assert miou_protocol.average_rule(MIoU.Options(average="all"), "trained") == "all"
    assert MEAN_OVER_RULES["union"] == MEAN_OVER  # rows of the union rule keep the protocol they had


class Fixed(SegmenterModel):
    """Predicts the stored map whatever the image."""

    protocol = {"segmenter": "fixed (test stub)"}

    def __init__(self, pred):
        self.pred = pred

    def predict(self, images):
        return torch.from_numpy(self.pred.astype("int64"))[None].expand(images.shape[0], -1, -1)


def stub(name: str, pred: np.ndarray):
    class Stub(Segmenter):
        def load(self, ctx, options):
            return Fixed(pred)

    Stub.name = name
    return Stub()


@pytest.mark.parametrize("segmenter, rule", [("deeplabv2-cocostuff", "ground-truth"), ("trained", "union")])
def test_the_metric_uses_and_records_the_segmenters_rule(tmp_path, segmenter, rule):
    label, pred = maps()
    label, pred = label.reshape(1, 8).astype(np.uint8), np.where(pred == 3, 0, pred).reshape(1, 8)
    for folder in ("fake", "labels"):
        (tmp_path / folder).mkdir()
    write_png(tmp_path / "fake" / "0.png", np.zeros((1, 8, 3), dtype=np.uint8))
    write_png(tmp_path / "labels" / "0.png", label)
    seg = stub(segmenter, pred)
    ctx = EvalContext(fake_dir=tmp_path / "fake", real_dir=tmp_path / "fake", label_dir=tmp_path / "labels",
                      class_names=[str(i) for i in range(4)], ignore_index=255, device=torch.device("cpu"),
                      cache_dir=tmp_path / "cache", reference=True, segmenter=ResolvedSegmenter(seg, seg.Options()))
    result = MIoU().compute(ctx, MIoU.Options())
    assert result.values["mIoU"] == pytest.approx(EXPECTED[rule])
    assert result.protocol["miou_over"] == MEAN_OVER_RULES[rule]
    other = MIoU().compute(ctx, MIoU.Options(average="all"))
    assert other.values["mIoU"] == pytest.approx(EXPECTED["all"]) and other.protocol != result.protocol
