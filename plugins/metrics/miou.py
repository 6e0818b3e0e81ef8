"""`miou`: segmentation consistency, mIoU and pixel accuracy of a segmenter on the generated images.

As in source report 000 (and the SPADE paper's evaluation): a segmentation
network labels every generated image, and its prediction is compared with the
label map the image was generated from. Definitions (see
:mod:`bench_plugins.segmenters.scores`):

- one confusion matrix accumulated over all test images; pixels whose label is
  the dataset's ignore index are not counted;
- mIoU: mean of TP / (TP + FP + FN) over the classes present in the ground
  truth or the prediction (union > 0 over the test set); classes absent from
  both are left out;
- pixel accuracy: correctly labelled pixels / counted pixels.

The segmenter is ``eval.segmenter`` or the dataset's default (``trained`` for
facades and faces: a U-Net bench trains on the real training photos;
``deeplabv3-voc`` for PASCAL VOC; the standard segmenters of semantic image
synthesis papers for the others: ``drn-d-105`` for Cityscapes, ``upernet-101``
for ADE20K, ``deeplabv2-cocostuff`` for COCO-Stuff, each with its published
weights and evaluation, which stop the run before training when missing); its options come from its own table
(``--set trained.steps=800``). It reads the images at its own input size
(``trained``: the evaluation resolution unless ``trained.input_size`` is set;
``deeplabv3-voc``: 520x520), and its logits are resized bilinearly to the label
maps, which stay at the evaluation resolution. A segmenter whose classes are not the
dataset's (``drn-d-105``: the 19 Cityscapes train ids) maps the label maps to them
(other ids are not counted) and mIoU is the mean over its classes. The protocol records the
segmenter, its weights' checksum and the same scores on the real test photos
(``real_miou``, ``real_pixel_acc``): the ceiling, also shown as the "real
images" row. Per-class IoU and the confusion matrix go to the run folder's ``miou.json``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from bench_plugins.segmenters import fitting
from bench_plugins.segmenters.scores import MEAN_OVER, confusion, scores

from benchmark import BenchError, EvalContext, Metric, MetricResult, hookimpl
from benchmark.atomic import write_json
from benchmark.imageio import read_label, read_rgb

MIOU, PIXEL_ACC = "mIoU", "pixel acc"


def load_segmenter(ctx: EvalContext):
    """The segmenter of this evaluation, loaded (trained or read from weights); BenchError says why not."""
    if ctx.segmenter is None:
        raise BenchError(f"dataset '{ctx.dataset or '?'}' names no default segmenter; "
                         f"choose one with --set eval.segmenter=trained (see `bench list segmenters`)")
    with ctx.main_first():  # a segmenter trained by bench is trained and cached once, by rank 0
        return ctx.segmenter.segmenter.load(ctx, ctx.segmenter.options)


def confusion_of(model, image_dir: Path, label_dir: Path, stems: list[str], ctx: EvalContext) -> torch.Tensor:
    """The confusion matrix of ``model`` on ``image_dir/STEM.png`` against ``label_dir/STEM.png``; the
    data-parallel workers each segment their run of whole batches and their counts are summed."""
    n, ignore, table = ctx.num_classes, ctx.ignore_index, getattr(model, "target_ids", None)
    if getattr(model, "classes", None):  # the segmenter's own classes (e.g. Cityscapes' 19 train ids)
        n = len(model.classes)
    if table is not None:
        ignore = None  # the table sends ignored ids outside 0..n-1
    cm = torch.zeros(n, n, dtype=torch.int64)
    stems = ctx.shard(stems)
    for i in range(0, len(stems), ctx.batch_size):
        chunk = stems[i:i + ctx.batch_size]
        images = torch.stack([read_rgb(image_dir / f"{s}.png") for s in chunk]).to(ctx.device)
        target = torch.stack([torch.from_numpy(read_label(label_dir / f"{s}.png").astype("int64")) for s in chunk])
        pred = model.predict(images)
        if pred.shape != target.shape:
            raise BenchError(f"segmenter {ctx.segmenter.name!r} predicted maps of shape {tuple(pred.shape)} for labels "
                             f"{tuple(target.shape)}; a segmenter must predict at the label maps' size")
        if table is not None:  # dataset ids -> the segmenter's classes; unmapped ids fall outside 0..n-1
            target = table.cpu()[target.clamp(0, len(table) - 1)]
        cm += confusion(target, pred, n, ignore)
    return ctx.gather(cm[None]).sum(0)


def real_ceiling(model, ctx: EvalContext, stems: list[str]) -> dict:
    """The segmenter's scores on the real test photos, cached per segmenter and test split."""
    data = fitting.png_digest(ctx.real_dir, ctx.label_dir)
    key = hashlib.sha256(json.dumps({"segmenter": model.protocol, "data": data,
                                     "ignore": ctx.ignore_index}, sort_keys=True, default=str).encode())
    path = ctx.cache_dir / "evalnets" / f"ceiling-{key.hexdigest()[:16]}.json"
    if ctx.all_workers(path.is_file()):
        return fitting.cached_json(path, dict)
    found = scores(confusion_of(model, ctx.real_dir, ctx.label_dir, stems, ctx))
    return fitting.cached_json(path, lambda: found) if ctx.main else found


class MIoU(Metric):
    name = "miou"
    summary = "segmentation consistency: mIoU and pixel accuracy of a segmenter on the generated images"
    columns = {MIOU: "up", PIXEL_ACC: "up"}
    kind = "segmentation"
    sharded = True  # the segmenter's passes are shared by the data-parallel workers

    def compute(self, ctx, options):
        stems = ctx.stems()
        if not stems:
            raise BenchError(f"{ctx.fake_dir}: no images to segment")
        model = load_segmenter(ctx)
        cm = confusion_of(model, ctx.fake_dir, ctx.label_dir, stems, ctx)
        result = scores(cm)
        ceiling = result if ctx.reference else real_ceiling(model, ctx, stems)
        protocol = {**model.protocol, "images": len(stems), "miou_over": MEAN_OVER,
                    "real_miou": _round(ceiling["miou"]), "real_pixel_acc": _round(ceiling["pixel_accuracy"])}
        if ctx.ignore_index is not None:
            protocol["ignored_label"] = ctx.ignore_index
        if ctx.run is not None:
            detail = {"classes": list(getattr(model, "classes", None) or ctx.class_names), "iou": result["iou"], "confusion": cm.tolist(),
                      "real_iou": ceiling["iou"], **protocol}
            write_json(ctx.run.side_file("miou.json"), detail, indent=1)
        notes = {}
        if result["miou"] is None:
            notes = {MIOU: "no labelled pixels", PIXEL_ACC: "no labelled pixels"}
        return MetricResult({MIOU: result["miou"], PIXEL_ACC: result["pixel_accuracy"]}, protocol, notes)


def _round(value):
    return None if value is None else round(value, 6)


@hookimpl
def register_metrics(register):
    register(MIoU())
