"""mIoU and pixel accuracy from a confusion matrix accumulated over a whole test set.

The confusion matrix ``cm[t, p]`` counts the pixels whose ground-truth class is
``t`` and whose predicted class is ``p``; pixels whose ground truth is the ignore
index (or any id outside the classes) are left out. From it, for each class c:

    IoU_c = TP_c / (TP_c + FP_c + FN_c) = cm[c, c] / (row_c + col_c - cm[c, c])

Which classes the mean is taken over is each segmenter's own evaluation script's rule
(``average``; :data:`MEAN_OVER_RULES`):

- ``union`` (bench's, and fyu/drn ``segment.py``: ``np.nanmean`` of the per-class IoU of the
  whole-set histogram): a class whose union is empty (absent from every ground-truth map and
  from every prediction) has no IoU and is left out; the mean is over the classes present in
  the ground truth or the prediction;
- ``all`` (CSAILVision/semantic-segmentation-pytorch ``eval.py``: ``intersection.sum /
  (union.sum + 1e-10)``, then ``.mean()``): every class counts, one with an empty union as 0;
- ``ground-truth`` (kazuto1011/deeplab-pytorch ``libs/utils/metric.py``: ``np.nanmean(iu[valid])``
  with ``valid = hist.sum(axis=1) > 0``): the classes present in the ground truth only; a class
  only predicted lowers its neighbours' IoU through its false positives but has none of its own.

Pixel accuracy is trace(cm) / sum(cm) under every rule (all three scripts: the correctly
labelled fraction of the counted pixels). Accumulating over the test set (not averaging
per-image scores) is the usual protocol of segmentation benchmarks.

``uncounted`` pixels (the dontcare pixels that the confusion matrix leaves out) may be
added to the accuracy's denominator: they are never correct, so the accuracy drops
while mIoU, computed from the matrix alone, stays the same. This is how a pixel
accuracy "with the dontcare label" is obtained (the ``miou`` metric's ``count_dontcare``).
"""

from __future__ import annotations

import torch

UNION, ALL, GROUND_TRUTH = "union", "all", "ground-truth"
MEAN_OVER = "classes in the ground truth or the prediction of the test set"
#: what the protocol's ``miou_over`` says for each rule (``union`` keeps the text rows always had)
MEAN_OVER_RULES = {
    UNION: MEAN_OVER,
    ALL: "all classes, one absent from the ground truth and the prediction counted as 0 "
         "(intersection / (union + 1e-10): CSAILVision/semantic-segmentation-pytorch eval.py)",
    GROUND_TRUTH: "classes present in the ground truth of the test set (kazuto1011/deeplab-pytorch metric.py)",
}


def confusion(target: torch.Tensor, pred: torch.Tensor, num_classes: int,
              ignore_index: int | None = None) -> torch.Tensor:
    """(num_classes, num_classes) int64 counts, rows = ground truth, columns = prediction.

    Ground-truth pixels equal to ``ignore_index`` or outside ``0..num_classes-1`` are
    not counted. Predictions must be class ids (a segmenter's argmax).
    """
    target = target.reshape(-1).long().cpu()
    pred = pred.reshape(-1).long().cpu()
    if pred.numel() and (int(pred.min()) < 0 or int(pred.max()) >= num_classes):
        raise ValueError(f"predicted ids must lie in 0..{num_classes - 1}")
    keep = (target >= 0) & (target < num_classes)
    if ignore_index is not None:
        keep &= target != ignore_index
    flat = target[keep] * num_classes + pred[keep]
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def scores(cm: torch.Tensor, uncounted: int = 0, average: str = UNION) -> dict:
    """mIoU (the mean over the classes of rule ``average``), pixel accuracy, the per-class IoU (None
    where the class has no union) and how many classes the mean counts; ``uncounted`` pixels join
    the accuracy's denominator."""
    cm = cm.double()
    tp = cm.diag()
    union = cm.sum(0) + cm.sum(1) - tp
    present = union > 0
    iou = torch.where(present, tp / union.clamp(min=1), torch.zeros_like(tp))
    total = float(cm.sum()) + uncounted
    if average == ALL:
        counted, values = torch.ones_like(present), tp / (union + 1e-10)
    elif average == GROUND_TRUTH:
        counted, values = cm.sum(1) > 0, iou
    elif average == UNION:
        counted, values = present, iou
    else:
        raise ValueError(f"unknown mIoU average {average!r}; one of {', '.join(MEAN_OVER_RULES)}")
    return {
        "miou": float(values[counted].mean()) if bool(counted.any()) and bool(present.any()) else None,
        "pixel_accuracy": float(tp.sum() / total) if total > 0 else None,
        "iou": [float(v) if p else None for v, p in zip(iou.tolist(), present.tolist())],
        "classes_counted": int(counted.sum()),
    }
