"""mIoU and pixel accuracy from a confusion matrix accumulated over a whole test set.

The confusion matrix ``cm[t, p]`` counts the pixels whose ground-truth class is
``t`` and whose predicted class is ``p``; pixels whose ground truth is the ignore
index (or any id outside the classes) are left out. From it, for each class c:

    IoU_c = TP_c / (TP_c + FP_c + FN_c) = cm[c, c] / (row_c + col_c - cm[c, c])

A class whose union is empty (absent from every ground-truth map and from every
prediction of the test set) has no IoU and is left out of the mean: mIoU is the
mean over the classes present in the ground truth or the prediction. Pixel
accuracy is trace(cm) / sum(cm): the correctly labelled fraction of the counted
pixels. Accumulating over the test set (not averaging per-image scores) is the
usual protocol of segmentation benchmarks.

``uncounted`` pixels (the dontcare pixels that the confusion matrix leaves out) may be
added to the accuracy's denominator: they are never correct, so the accuracy drops
while mIoU, computed from the matrix alone, stays the same. This is how a pixel
accuracy "with the dontcare label" is obtained (the ``miou`` metric's ``count_dontcare``).
"""

from __future__ import annotations

import torch

MEAN_OVER = "classes in the ground truth or the prediction of the test set"


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


def scores(cm: torch.Tensor, uncounted: int = 0) -> dict:
    """mIoU, pixel accuracy, the per-class IoU (None where the class has no union) and
    how many classes the mean counts; ``uncounted`` pixels join the accuracy's denominator."""
    cm = cm.double()
    tp = cm.diag()
    union = cm.sum(0) + cm.sum(1) - tp
    present = union > 0
    iou = torch.where(present, tp / union.clamp(min=1), torch.zeros_like(tp))
    total = float(cm.sum()) + uncounted
    return {
        "miou": float(iou[present].mean()) if bool(present.any()) else None,
        "pixel_accuracy": float(tp.sum() / total) if total > 0 else None,
        "iou": [float(v) if p else None for v, p in zip(iou.tolist(), present.tolist())],
        "classes_counted": int(present.sum()),
    }
