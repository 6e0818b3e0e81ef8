"""`classifier`: does a classifier trained on real photos recognise the generated ones?

The class-label cGAN report trains a classifier on the real training images and reports
its accuracy on the real test images (62.5 % there) and on the generated ones
(30.6 %). bench does the same with a classifier of its own, trained from random
weights on the real training split at the evaluation resolution, to predict the
image-level classes (``ctx.image_classes()``: the dataset's image labels when it
has them, else the set of classes present in each label map). It is multi-label:
one sigmoid per class, binary cross-entropy with each class's positives weighted
by its negative/positive ratio in the training split (so that 0.5 is the
balanced decision), Adam, random horizontal flips, seeded with the run's seed, cached under ``CACHE/evalnets/classifier-KEY.pt``
(KEY: content hash of the training split and its classes, options, seed).

A class counts as predicted when its sigmoid exceeds ``threshold``; when every
training image has exactly one class (single-label data, as in the class-label cGAN report) the
prediction is the one arg-max class instead. Columns, on the generated images
against the classes of the label maps they came from:

- ``cls acc``: mean per-class balanced accuracy, (recall on the images that
  have the class + recall on the images that lack it) / 2, averaged over the
  classes that some test images have and others lack (a class in every or in
  no test image says nothing about the images). Chance is 0.5.
- ``cls exact``: the fraction of images whose predicted class set is exactly
  the true one; for single-label data this is the top-1 accuracy of the class-label cGAN report.

The same numbers on the real test photos (the ceiling) are the "real images"
row and ``real_cls_acc`` / ``real_cls_exact`` in the protocol of every row.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import torch
from bench_plugins.segmenters import fitting
from bench_plugins.segmenters.networks import SmallClassifier
from pydantic import Field

from benchmark import BenchError, EvalContext, Metric, MetricResult, Options, hookimpl

ACC, EXACT = "cls acc", "cls exact"
STEPS = {"smoke": 60, "quick": 400, "paper": 3000}


class ClassifierOptions(Options):
    steps: int | None = Field(None, ge=1, description="training steps (default by profile: smoke 60, quick 400, "
                              "paper 3000)")
    width: int = Field(16, ge=2, description="channels of the first stage (doubling per stage)")
    depth: int | None = Field(None, ge=1, le=8, description="stride-2 stages before the global pooling (default: "
                              "down to an 8 px map, e.g. 2 at 32 px, 3 at 64 px: deeper nets overfit more)")
    batch_size: int = Field(16, ge=1, description="training images per step")
    lr: float = Field(2e-3, gt=0, description="Adam learning rate")
    threshold: float = Field(0.5, gt=0, lt=1, description="sigmoid above which a class counts as predicted")


def default_depth(image_size: int) -> int:
    """Stride-2 stages that bring ``image_size`` down to about 8 px."""
    return max(1, round(math.log2(max(image_size, 16) / 8)))


def multi_hot(classes: dict[str, list[int]], stems: list[str], num_classes: int) -> torch.Tensor:
    out = torch.zeros(len(stems), num_classes)
    for i, stem in enumerate(stems):
        if stem not in classes:
            raise BenchError(f"no image-level classes for test image {stem!r}; the label folder is incomplete")
        out[i, classes[stem]] = 1.0
    return out


def predict_sets(logits: torch.Tensor, threshold: float, single_label: bool) -> torch.Tensor:
    """Predicted multi-hot sets: sigmoid > threshold, or the one arg-max class for single-label data."""
    if single_label:
        return torch.nn.functional.one_hot(logits.argmax(1), logits.shape[1]).float()
    return (torch.sigmoid(logits) > threshold).float()


def accuracies(pred: torch.Tensor, target: torch.Tensor) -> dict:
    """``cls acc`` (mean balanced accuracy over the classes that vary in ``target``) and ``cls exact``."""
    pred, target = pred.bool(), target.bool()
    pos, neg = target.sum(0), (~target).sum(0)
    varying = (pos > 0) & (neg > 0)
    tpr = (pred & target).sum(0).double() / pos.clamp(min=1)
    tnr = (~pred & ~target).sum(0).double() / neg.clamp(min=1)
    balanced = (tpr + tnr) / 2
    exact = (pred == target).all(1).double().mean()
    return {"acc": float(balanced[varying].mean()) if bool(varying.any()) else None,
            "exact": float(exact) if len(target) else None, "classes_counted": int(varying.sum())}


class TrainedClassifier:
    def __init__(self, net: SmallClassifier, device: torch.device, single_label: bool, threshold: float,
                 protocol: dict):
        self.net = net.to(device).eval()
        self.device = device
        self.single_label = single_label
        self.threshold = threshold
        self.protocol = protocol

    @torch.no_grad()
    def predict(self, folder: Path, stems: list[str], batch_size: int) -> torch.Tensor:
        out = []
        for i in range(0, len(stems), batch_size):
            photos = fitting.read_photos(folder, stems[i:i + batch_size]).to(self.device)
            out.append(predict_sets(self.net(fitting.normalize(photos)).cpu(), self.threshold, self.single_label))
        return torch.cat(out)


def load_classifier(ctx: EvalContext, options: ClassifierOptions) -> TrainedClassifier:
    """Train the classifier on the real training split, or reuse the cached one."""
    train = fitting.require_train_images(ctx, "the classifier metric")
    classes = ctx.image_classes(train.label_ids)
    stems = sorted(classes)
    if not stems:
        raise BenchError(f"{train.root}: no training images with classes for the classifier")
    single_label = all(len(classes[s]) == 1 for s in stems)
    steps = options.steps or STEPS.get(ctx.profile or "quick", STEPS["quick"])
    depth = options.depth or default_depth(ctx.image_size or 64)
    key = fitting.cache_key(name="classifier", options=options.model_dump(exclude={"threshold"}), steps=steps,
                            depth=depth,
                            seed=ctx.seed, classes=list(ctx.class_names), labels=classes,
                            data=fitting.content_hash(train, with_labels=False))
    path = fitting.cache_file(ctx.cache_dir, "classifier", key)
    net = fitting.seeded(ctx.seed, lambda: SmallClassifier(ctx.num_classes, options.width, depth))
    cached = fitting.load(path)
    if cached is not None:
        net.load_state_dict(cached["state_dict"])
    else:
        data = fitting.SplitImages(train, stems, with_labels=False)
        target = multi_hot(classes, stems, ctx.num_classes)
        positives = target.sum(0)
        # each class's positives weigh as much as its negatives, so 0.5 is the balanced decision
        pos_weight = ((len(stems) - positives) / positives.clamp(min=1)).clamp(min=1e-3).to(ctx.device)
        net.to(ctx.device)

        def loss_of(gen: torch.Generator) -> torch.Tensor:
            idx = fitting.batch_indices(gen, len(stems), options.batch_size)
            photos, _ = data.batch(idx)
            x, _ = fitting.random_hflip(photos, None, gen)
            logits = net(fitting.normalize(x).to(ctx.device))
            return torch.nn.functional.binary_cross_entropy_with_logits(logits, target[idx].to(ctx.device),
                                                                      pos_weight=pos_weight)

        losses = fitting.fit(net, loss_of, steps=steps, lr=options.lr, seed=ctx.seed, reporter=ctx.progress,
                             label=f"train classifier on {len(stems)} real images")
        fitting.save(path, net, {"train_images": len(stems), "steps": steps, "final_loss": losses[-1]})
    protocol = {"classifier": f"CNN width {options.width} depth {depth}, {steps} steps on {len(stems)} real "
                              f"training images, seed {ctx.seed}, weights {fitting.state_sha256(net)}",
                "cls_prediction": "arg-max (single-label)" if single_label else f"sigmoid > {options.threshold}"}
    return TrainedClassifier(net, ctx.device, single_label, options.threshold, protocol)


def real_ceiling(model: TrainedClassifier, ctx: EvalContext, stems: list[str], target: torch.Tensor) -> dict:
    """The classifier's accuracies on the real test photos, cached per classifier and test split."""
    digest = hashlib.sha256(json.dumps(model.protocol, sort_keys=True).encode())
    digest.update(fitting.png_digest(ctx.real_dir).encode())
    digest.update(target.numpy().tobytes())
    path = ctx.cache_dir / "evalnets" / f"classifier-ceiling-{digest.hexdigest()[:16]}.json"
    return fitting.cached_json(path, lambda: accuracies(model.predict(ctx.real_dir, stems, ctx.batch_size), target))


class Classifier(Metric):
    name = "classifier"
    summary = "accuracy of a classifier trained on real photos at recognising the generated images' classes"
    columns = {ACC: "up", EXACT: "up"}
    kind = "classifier"
    Options = ClassifierOptions

    def compute(self, ctx, options):
        stems = ctx.stems()
        if not stems:
            raise BenchError(f"{ctx.fake_dir}: no images to classify")
        target = multi_hot(ctx.image_classes(), stems, ctx.num_classes)
        model = load_classifier(ctx, options)
        result = accuracies(model.predict(ctx.fake_dir, stems, ctx.batch_size), target)
        ceiling = result if ctx.reference else real_ceiling(model, ctx, stems, target)
        protocol = {**model.protocol, "images": len(stems), "cls_classes_counted": result["classes_counted"],
                    "real_cls_acc": _round(ceiling["acc"]), "real_cls_exact": _round(ceiling["exact"])}
        notes = {ACC: "every class is in all or in none of the test images"} if result["acc"] is None else {}
        return MetricResult({ACC: result["acc"], EXACT: result["exact"]}, protocol, notes)


def _round(value):
    return None if value is None else round(value, 6)


@hookimpl
def register_metrics(register):
    register(Classifier())
