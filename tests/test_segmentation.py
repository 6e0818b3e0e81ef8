"""mIoU / pixel accuracy, the segmenters behind them, and the classifier metric."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from bench_plugins.datasets.synthetic import SyntheticFacades, SyntheticOptions
from bench_plugins.datasets.voc_classes import CLASS_NAMES as VOC_CLASSES
from bench_plugins.metrics import classifier as cls_metric
from bench_plugins.metrics.miou import MIoU, confusion_of
from bench_plugins.segmenters import deeplab, fitting
from bench_plugins.segmenters.networks import SmallUNet
from bench_plugins.segmenters.scores import confusion, scores
from bench_plugins.segmenters.trained import TrainedOptions, TrainedSegmenter, UNetModel

from benchmark.api import EvalContext, Options, ResolvedSegmenter
from benchmark.planning.config import Layers
from benchmark.util.settings_text import parse_set
from benchmark.data.dataset import BadFiles, Sample
from benchmark.util.errors import ConfigError, WeightsError
from benchmark.pipeline.evaluate import compute_metrics, write_real_split
from benchmark.util.imageio import read_label
from benchmark.util.progress import Reporter
from benchmark.results.records import is_reference
from benchmark.results.store import ResultsStore
from benchmark.planning.plan import build_plan
from benchmark.rundir.layout import ImageSet, RunDir
from benchmark.data.transforms import PairDataset
from benchmark.testing import TINY_DATA, call_cli, one_error_line

CPU = torch.device("cpu")


def context(train: ImageSet, test: ImageSet, class_names, cache, **kw) -> EvalContext:
    """The context `bench run` gives the "real images" row: the real test photos stand in for fakes."""
    return EvalContext(fake_dir=test.real, real_dir=test.real, label_dir=test.label_ids,
                       class_names=list(class_names), ignore_index=kw.pop("ignore_index", None), device=CPU,
                       cache_dir=cache, train_images=train, image_size=32, seed=kw.pop("seed", 0),
                       profile="smoke", reference=True, **kw)


def write_splits(folder, train: list[Sample], test: list[Sample], size: int = 32):
    quiet = Reporter(quiet=True)
    return [write_real_split(PairDataset(samples, size), ImageSet(folder / split), reporter=quiet, label=split)
            for split, samples in (("train", train), ("test", test))]


@pytest.fixture(scope="module")
def facades(tmp_path_factory):
    """Real splits of a small synthetic-facades (48 train, 32 held-out test) at 32 px."""
    root = tmp_path_factory.mktemp("facades")
    spec, opts = SyntheticFacades(), SyntheticOptions(train_size=48, test_size=32, size=64)
    train, test = (spec.load(root / "data", s, opts, BadFiles(False)) for s in ("train", "test"))
    return write_splits(root, train, test)


# ------------------------------------------------------------------ scores


def test_confusion_scores_match_a_hand_computed_example():
    # 4 classes, 255 ignored. Image 1: truth 0 0 1 / 1 255 2, prediction 0 1 1 / 1 0 0.
    # Image 2: truth 1, prediction 3 (a class that is in no ground truth).
    cm = confusion(torch.tensor([[0, 0, 1], [1, 255, 2]]), torch.tensor([[0, 1, 1], [1, 0, 0]]), 4, 255)
    cm += confusion(torch.tensor([[1]]), torch.tensor([[3]]), 4, 255)
    expected = torch.zeros(4, 4, dtype=torch.int64)
    for t, p in [(0, 0), (0, 1), (1, 1), (1, 1), (2, 0), (1, 3)]:  # the ignored pixel is not counted
        expected[t, p] += 1
    assert torch.equal(cm, expected)
    s = scores(cm)
    # IoU = TP / (TP + FP + FN): class 0: 1/(1+1+1); class 1: 2/(2+1+1); class 2: 0/(0+0+1);
    # class 3: 0/(0+1+0) (predicted only: counts, as 0)
    assert s["iou"] == pytest.approx([1 / 3, 1 / 2, 0.0, 0.0])
    assert s["miou"] == pytest.approx((1 / 3 + 1 / 2) / 4)
    assert s["pixel_accuracy"] == pytest.approx(3 / 6)
    # a class absent from truth and prediction has no IoU and is left out of the mean
    only_first = scores(confusion(torch.tensor([[0, 0, 1], [1, 255, 2]]), torch.tensor([[0, 1, 1], [1, 0, 0]]), 4, 255))
    assert only_first["iou"][3] is None and only_first["classes_counted"] == 3
    assert only_first["miou"] == pytest.approx((1 / 3 + 2 / 3 + 0) / 3)
    assert only_first["pixel_accuracy"] == pytest.approx(3 / 5)


# ------------------------------------------------------------------ trained segmenter


def test_trained_segmenter_learns_is_deterministic_per_seed_and_cached(facades, tmp_path, monkeypatch):
    train_dir, test_dir = facades
    names = SyntheticFacades.class_names
    ctx = context(train_dir, test_dir, names, tmp_path / "a")
    stems = ctx.stems()
    options = TrainedOptions(steps=60)
    model = TrainedSegmenter().load(ctx, options)
    trained = scores(confusion_of(model, ctx.fake_dir, ctx.label_dir, stems, ctx))
    untrained_net = fitting.seeded(0, lambda: SmallUNet(len(names)))
    untrained = scores(confusion_of(UNetModel(untrained_net, CPU, None, {}), ctx.fake_dir, ctx.label_dir, stems, ctx))
    labels = torch.from_numpy(np.stack([read_label(p) for p in sorted(ctx.label_dir.glob("*.png"))]).astype(np.int64))
    majority = float(labels.flatten().bincount().max()) / labels.numel()
    # measured: mIoU 0.21 vs 0.003 untrained, pixel accuracy 0.73 vs 0.04 untrained and 0.49 majority class
    assert trained["miou"] > untrained["miou"] + 0.12, (trained, untrained)
    assert trained["pixel_accuracy"] > max(untrained["pixel_accuracy"], majority) + 0.12, (trained, majority)
    # same seed, fresh cache: the same weights; another seed: others
    again = TrainedSegmenter().load(context(train_dir, test_dir, names, tmp_path / "b"), options)
    assert again.protocol == model.protocol
    other = TrainedSegmenter().load(context(train_dir, test_dir, names, tmp_path / "c", seed=1), options)
    assert other.protocol["segmenter"] != model.protocol["segmenter"]
    # the cached network is reused: no training the third time
    monkeypatch.setattr(TrainedSegmenter, "train", lambda *a: pytest.fail("trained again despite the cache"))
    cached = TrainedSegmenter().load(ctx, options)
    assert cached.protocol == model.protocol
    images = torch.rand(2, 3, 32, 32)
    assert torch.equal(cached.predict(images), model.predict(images))
    assert len(list((tmp_path / "a" / "evalnets").glob("trained-*.pt"))) == 1


# ------------------------------------------------------------------ classifier


def shapes_samples(n: int, seed: int) -> list[Sample]:
    """Grey noise (class 0) with a red, a green and a blue square (classes 1-3), each drawn with
    probability 1/2 at a random place: the image-level classes are visible, by colour."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        image = rng.integers(90, 150, (32, 32, 3)).astype(np.uint8)
        label = np.zeros((32, 32), np.uint8)
        for cls in (1, 2, 3):
            if rng.random() < 0.5:
                y, x, s = rng.integers(0, 22), rng.integers(0, 22), rng.integers(6, 10)
                image[y:y + s, x:x + s] = 40
                image[y:y + s, x:x + s, cls - 1] = 230
                label[y:y + s, x:x + s] = cls
        out.append(Sample(f"{i:04d}", image, label))
    return out


def test_classifier_beats_chance_on_held_out_real_images(tmp_path):
    train_dir, test_dir = write_splits(tmp_path, shapes_samples(64, 0), shapes_samples(32, 1))
    ctx = context(train_dir, test_dir, ["ground", "red", "green", "blue"], tmp_path / "cache",
                  run=RunDir(tmp_path))
    metric = cls_metric.Classifier()
    result = metric.compute(ctx, cls_metric.ClassifierOptions(steps=80))
    # chance (any coin, or a constant answer) is 0.5 balanced accuracy and 1/8 exact sets; measured: 0.99 and 0.97
    assert result.values["cls acc"] > 0.85, result
    assert result.values["cls exact"] > 0.5, result
    assert result.protocol["cls_classes_counted"] == 3  # "ground" is in every image: not counted
    assert result.protocol["real_cls_acc"] == pytest.approx(result.values["cls acc"], abs=1e-6)


def test_classifier_accuracies_by_hand():
    target = torch.tensor([[1, 1, 0], [1, 0, 0], [1, 1, 1], [1, 0, 1]], dtype=torch.float)
    pred = torch.tensor([[1, 1, 0], [1, 1, 0], [1, 0, 1], [1, 0, 1]], dtype=torch.float)
    acc = cls_metric.accuracies(pred, target)
    # class 0 is everywhere (not counted); class 1: TPR 1/2, TNR 1/2; class 2: TPR 1, TNR 1
    assert acc["acc"] == pytest.approx((0.5 + 1.0) / 2) and acc["classes_counted"] == 2
    assert acc["exact"] == pytest.approx(2 / 4)
    logits = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.5, 0.2]])
    assert cls_metric.predict_sets(logits, 0.5, True).tolist() == [[0, 1, 0], [1, 0, 0]]
    assert cls_metric.predict_sets(logits, 0.5, False).tolist() == [[1, 1, 0], [1, 1, 1]]


# ------------------------------------------------------------------ deeplabv3-voc


def voc_context(tmp_path) -> EvalContext:
    rng = np.random.default_rng(0)
    samples = [Sample(f"{i}", rng.integers(0, 255, (40, 40, 3)).astype(np.uint8),
                      rng.integers(0, 21, (40, 40)).astype(np.uint8)) for i in range(3)]
    train_dir, test_dir = write_splits(tmp_path, samples[:1], samples)
    return context(train_dir, test_dir, VOC_CLASSES, tmp_path / "cache", ignore_index=255,
                   segmenter=ResolvedSegmenter(deeplab.DeepLabV3VOC(), deeplab.DeepLabOptions(input_size=64)))


def test_deeplab_loads_weights_through_the_cache_and_predicts_voc_ids(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    net = fitting.seeded(0, deeplab.build_network).eval()
    (tmp_path / "weights").mkdir()
    path = tmp_path / "weights" / deeplab.FILENAME
    torch.save(net.state_dict(), path)
    ctx = voc_context(tmp_path)
    # the name's hash prefix is checked as torch.hub does: a random file fails it
    with pytest.raises(WeightsError, match="does not start with cd0a2569"):
        deeplab.DeepLabV3VOC().load(ctx, deeplab.DeepLabOptions(input_size=64))
    monkeypatch.setattr(deeplab, "HASH_PREFIX", deeplab.file_sha256(path)[:8])
    model = deeplab.DeepLabV3VOC().load(ctx, deeplab.DeepLabOptions(input_size=64))
    images = torch.rand(2, 3, 40, 40)
    pred = model.predict(images)
    assert pred.shape == (2, 40, 40) and int(pred.min()) >= 0 and int(pred.max()) < 21
    # reference: the network with the written weights, preprocessed by hand as torchvision's preset does
    mean, std = torch.tensor(deeplab.IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(deeplab.IMAGENET_STD).view(1, 3, 1, 1)
    x = torch.nn.functional.interpolate(images, size=(64, 64), mode="bilinear", antialias=True)
    with torch.no_grad():
        out = net((x - mean) / std)["out"]
    expected = torch.nn.functional.interpolate(out, size=(40, 40), mode="bilinear").argmax(1)
    assert torch.equal(pred, expected)
    # through the metric: values, and the weights' checksum in the protocol
    (value,) = [MIoU().compute(ctx, Options())]
    assert 0 <= value.values["mIoU"] <= 1 and deeplab.file_sha256(path) in value.protocol["segmenter"]


def test_missing_deeplab_weights_leave_a_clear_note_in_the_cells(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    values = compute_metrics([(MIoU(), Options())], voc_context(tmp_path), Reporter(quiet=True))
    for column in ("mIoU", "pixel acc"):
        assert values[column].value is None
        note = values[column].note
        assert deeplab.FILENAME in note and "offline" in note, note
        assert "bench weights import deeplabv3-resnet50-coco-voc" in note, note


# ------------------------------------------------------------------ configuration and end to end


def layers(tmp_path, *sets):
    flags = {"models": ["pix2pix"], "profile": "smoke", "data_root": tmp_path / "data",
             "output_root": tmp_path / "out", "eval": {"metrics": ["miou"]}}
    return Layers.from_sources({}, parse_set(list(sets)), flags)


def test_unknown_segmenter_or_option_stops_the_run_before_training(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown segmenter \(eval.segmenter\) 'deeplab'.*deeplabv3-voc.*trained"):
        build_plan(layers(tmp_path, "eval.segmenter=deeplab"))
    with pytest.raises(ConfigError, match="unknown option 'trained.stepz'; did you mean steps"):
        build_plan(layers(tmp_path, "trained.stepz=3"))
    plan = build_plan(layers(tmp_path, "trained.steps=7"))
    assert plan.segmenter.name == "trained" and plan.segmenter.options.steps == 7
    assert plan.evaluation()["segmenter"] == {"name": "trained", "options": plan.segmenter.options.model_dump()}
    assert not (tmp_path / "out" / "runs").exists()


def test_unknown_segmenter_is_one_line_from_the_cli(roots):
    line = one_error_line(call_cli("run", "--profile", "smoke", "--models", "pix2pix", "--metrics", "miou",
                                "--set", "eval.segmenter=unet", *roots))
    assert "unknown segmenter" in line and "trained" in line and "deeplabv3-voc" in line


def test_smoke_run_fills_miou_and_classifier_for_the_model_and_the_real_images_row(tmp_path, roots):
    proc = call_cli("run", "--models", "pix2pix", "--profile", "smoke", "--dataset", "synthetic-facades",
                 "--metrics", "miou,classifier", *TINY_DATA, "--set", "samples=0", *roots)
    assert proc.returncode == 0, proc.stderr
    assert "train segmenter on 24 real images" in proc.stderr  # progress is shown
    rows = ResultsStore(tmp_path / "out" / "bench.sqlite").latest("synthetic-facades")
    (ref,) = [r for r in rows if is_reference(r)]
    (model,) = [r for r in rows if not is_reference(r)]
    for row in (ref, model):
        for column in ("mIoU", "pixel acc", "cls acc", "cls exact"):
            assert row.metrics[column].value is not None, (row.label, column, row.metrics[column])
    # the model row's protocol records the real-image ceiling, which is the reference row's value
    assert model.metrics["mIoU"].protocol["real_miou"] == pytest.approx(ref.metrics["mIoU"].value, abs=1e-6)
    assert model.metrics["cls acc"].protocol["real_cls_acc"] == pytest.approx(ref.metrics["cls acc"].value, abs=1e-6)
    assert model.metrics["mIoU"].protocol["segmenter"] == ref.metrics["mIoU"].protocol["segmenter"]  # one network
    detail = json.loads((tmp_path / "out" / "runs").glob("*pix2pix/miou.json").__next__().read_text())
    assert len(detail["iou"]) == 12 and len(detail["confusion"]) == 12
    board = (tmp_path / "out" / "synthetic-facades" / "leaderboard.md").read_text()
    assert "mIoU (%)" in board  # the dataset's headline column, in percent
    columns = json.loads((tmp_path / "out" / "synthetic-facades" / "leaderboard.json").read_text())["tables"][0]
    assert {"mIoU", "pixel acc", "cls acc"} <= {m["name"] for m in columns["metrics"]}


def test_a_large_split_is_read_batch_by_batch_with_the_same_pixels(facades, monkeypatch):
    train_dir, _ = facades
    stems = [p.stem for p in fitting.split_files(train_dir.real)]
    preloaded = fitting.SplitImages(train_dir, stems, with_labels=True)
    monkeypatch.setattr(fitting, "PRELOAD_BYTES", 0)
    lazy = fitting.SplitImages(train_dir, stems, with_labels=True)
    assert preloaded.preloaded and not lazy.preloaded
    idx = torch.tensor([5, 0, 5, 47])
    for a, b in zip(preloaded.batch(idx), lazy.batch(idx)):
        assert torch.equal(a, b)
