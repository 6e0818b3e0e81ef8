"""`miou`: segmentation consistency, mIoU and pixel accuracy of a segmenter on the generated images.

As in the Gaussian GAN report (and the SPADE paper's evaluation): a segmentation
network labels every generated image, and its prediction is compared with the
label map the image was generated from. Definitions (see
:mod:`bench_plugins.segmenters.scores`):

- one confusion matrix accumulated over all test images; pixels whose label is
  the dataset's ignore index are not counted;
- mIoU: mean of TP / (TP + FP + FN) over the classes of the segmenter's own
  evaluation script's rule (``miou.average``, recorded as ``miou_over``): bench's
  and fyu/drn's ``union`` (classes present in the ground truth or the prediction),
  CSAIL's ``all`` (every class, an absent one as 0) for ``upernet-101``,
  kazuto1011/deeplab-pytorch's ``ground-truth`` for ``deeplabv2-cocostuff``;
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

Scoring options (``--set miou.label_resize=bilinear``, ``miou.count_dontcare=true``,
``miou.score_at=dataset``; see :mod:`bench_plugins.metrics.miou_protocol` and
docs/protocol.md): unset, they take the published setting of the segmenter (DRN-D-105:
bilinear labels, void pixels counted in the accuracy) or bench's (nearest, not counted, at
the evaluation resolution). The protocol records the values used.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from bench_plugins.metrics import miou_protocol
from bench_plugins.metrics.miou_protocol import AS_GIVEN, NEAREST, MIoUOptions
from bench_plugins.segmenters import fitting
from bench_plugins.segmenters.scores import MEAN_OVER_RULES, confusion, scores

from benchmark import BenchError, EvalContext, Metric, MetricResult, hookimpl
from benchmark import write_json
from benchmark import read_label, read_rgb

MIOU, PIXEL_ACC = "mIoU", "pixel acc"


def load_segmenter(ctx: EvalContext):
    """The segmenter of this evaluation, loaded (trained or read from weights); BenchError says why not."""
    if ctx.segmenter is None:
        raise BenchError(f"dataset '{ctx.dataset or '?'}' names no default segmenter; "
                         f"choose one with --set eval.segmenter=trained (see `bench list segmenters`)")
    with ctx.main_first():  # a segmenter trained by bench is trained and cached once, by rank 0
        return ctx.segmenter.segmenter.load(ctx, ctx.segmenter.options)


def confusion_of(model, image_dir: Path, label_dir: Path, stems: list[str], ctx: EvalContext) -> torch.Tensor:
    """The confusion matrix of ``model`` on ``image_dir/STEM.png`` against ``label_dir/STEM.png``."""
    return counted_confusion(model, image_dir, stems, ctx, lambda s: read_label(label_dir / f"{s}.png"))[0]


def counted_confusion(model, image_dir: Path, stems: list[str], ctx: EvalContext, target_of,
                      upsample: bool = False) -> tuple[torch.Tensor, int]:
    """The confusion matrix and the number of label pixels it leaves out (ignored or unmapped ids); the
    data-parallel workers each segment their run of whole batches and their counts are summed.

    ``target_of(stem)`` gives the (H, W) uint8 label map to score against; with ``upsample`` each
    image is first resized (bilinear) to its label map's size, one image at a time."""
    n, ignore, table = ctx.num_classes, ctx.ignore_index, getattr(model, "target_ids", None)
    if getattr(model, "classes", None):  # the segmenter's own classes (e.g. Cityscapes' 19 train ids)
        n = len(model.classes)
    if table is not None:
        ignore = None  # the table sends ignored ids outside 0..n-1
    cm = torch.zeros(n, n, dtype=torch.int64)
    pixels = 0
    step = 1 if upsample else ctx.batch_size
    stems = ctx.shard(stems, step)
    for i in range(0, len(stems), step):
        chunk = stems[i:i + step]
        images = torch.stack([read_rgb(image_dir / f"{s}.png") for s in chunk]).to(ctx.device)
        target = torch.stack([torch.from_numpy(target_of(s).astype("int64")) for s in chunk])
        if upsample and images.shape[-2:] != target.shape[-2:]:
            images = F.interpolate(images, size=tuple(target.shape[-2:]), mode="bilinear", align_corners=False)
        pred = model.predict(images)
        if pred.shape != target.shape:
            raise BenchError(f"segmenter {ctx.segmenter.name!r} predicted maps of shape {tuple(pred.shape)} for labels "
                             f"{tuple(target.shape)}; a segmenter must predict at the label maps' size")
        if table is not None:  # dataset ids -> the segmenter's classes; unmapped ids fall outside 0..n-1
            target = table.cpu()[target.clamp(0, len(table) - 1)]
        cm += confusion(target, pred, n, ignore)
        pixels += target.numel()
    cm = ctx.gather(cm[None]).sum(0)
    pixels = int(ctx.gather(torch.tensor([pixels], dtype=torch.int64)).sum())
    return cm, pixels - int(cm.sum())


def scoring(ctx: EvalContext, options) -> dict:
    """The scoring settings of this evaluation (options, else the segmenter's published ones), as recorded."""
    name = ctx.segmenter.name if ctx.segmenter is not None else ""
    chosen = miou_protocol.settings(options, name)
    if ctx.native_label_dir is None:
        if chosen["score_at"] == "dataset":
            raise BenchError("miou.score_at=dataset needs the dataset's own label maps, which this evaluation "
                             "lacks (scoring folders); use --set miou.score_at=evaluation")
        chosen["label_resize"] = AS_GIVEN
    elif chosen["score_at"] == "dataset":
        chosen["label_resize"] = "none: the dataset's label maps at their own size"
    return chosen


def scored_confusion(model, image_dir: Path, stems: list[str], ctx: EvalContext, chosen: dict) -> tuple:
    """(confusion matrix, uncounted pixels) of ``model`` on ``image_dir`` under the settings ``chosen``."""
    native, how = ctx.native_label_dir, chosen["label_resize"]
    if native is None or (how == NEAREST and chosen["score_at"] == "evaluation"):
        # nearest from the dataset's maps is what the evaluation's label maps already are
        return counted_confusion(model, image_dir, stems, ctx, lambda s: read_label(ctx.label_dir / f"{s}.png"))
    if chosen["score_at"] == "dataset":
        return counted_confusion(model, image_dir, stems, ctx, lambda s: read_label(native / f"{s}.png"), True)

    def target_of(stem: str):
        height, width = read_label(ctx.label_dir / f"{stem}.png").shape
        return miou_protocol.resize_label(read_label(native / f"{stem}.png"), height, width, how)

    return counted_confusion(model, image_dir, stems, ctx, target_of)


def real_ceiling(model, ctx: EvalContext, stems: list[str], chosen: dict, average: str) -> dict:
    """The segmenter's scores on the real test photos, cached per segmenter, test split and scoring."""
    data = fitting.png_digest(ctx.real_dir, ctx.label_dir)
    scoring_key = chosen if average == "union" else {**chosen, "average": average}  # union: the key it always had
    key = hashlib.sha256(json.dumps({"segmenter": model.protocol, "data": data, "scoring": scoring_key,
                                     "ignore": ctx.ignore_index}, sort_keys=True, default=str).encode())
    path = ctx.cache_dir / "evalnets" / f"ceiling-{key.hexdigest()[:16]}.json"
    if ctx.all_workers(path.is_file()):
        return fitting.cached_json(path, dict)
    found = _scores(*scored_confusion(model, ctx.real_dir, stems, ctx, chosen), chosen, average)
    return fitting.cached_json(path, lambda: found) if ctx.main else found


def _scores(cm: torch.Tensor, uncounted: int, chosen: dict, average: str) -> dict:
    return scores(cm, uncounted if chosen["count_dontcare"] else 0, average)


class MIoU(Metric):
    name = "miou"
    summary = "segmentation consistency: mIoU and pixel accuracy of a segmenter on the generated images"
    columns = {MIOU: "up", PIXEL_ACC: "up"}
    kind = "segmentation"
    sharded = True  # the segmenter's passes are shared by the data-parallel workers
    Options = MIoUOptions

    def compute(self, ctx, options):
        stems = ctx.stems()
        if not stems:
            raise BenchError(f"{ctx.fake_dir}: no images to segment")
        chosen = scoring(ctx, options)
        average = miou_protocol.average_rule(options, ctx.segmenter.name if ctx.segmenter is not None else "")
        model = load_segmenter(ctx)
        cm, uncounted = scored_confusion(model, ctx.fake_dir, stems, ctx, chosen)
        result = _scores(cm, uncounted, chosen, average)
        ceiling = result if ctx.reference else real_ceiling(model, ctx, stems, chosen, average)
        protocol = {**model.protocol, "images": len(stems), "miou_over": MEAN_OVER_RULES[average], **chosen,
                    "real_miou": _round(ceiling["miou"]), "real_pixel_acc": _round(ceiling["pixel_accuracy"])}
        if ctx.ignore_index is not None:
            protocol["ignored_label"] = ctx.ignore_index
        if ctx.run is not None:
            detail = {"classes": list(getattr(model, "classes", None) or ctx.class_names), "iou": result["iou"],
                      "confusion": cm.tolist(), "uncounted_pixels": uncounted, "real_iou": ceiling["iou"], **protocol}
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
