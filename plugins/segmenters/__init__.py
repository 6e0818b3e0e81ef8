"""Segmenters for mIoU and pixel accuracy: one trained by bench, one loaded from pretrained weights."""
