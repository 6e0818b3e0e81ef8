"""The columns semantic image synthesis papers print for a label-map dataset: FID, mIoU and pixel
accuracy, the last two in percent (the headline of every built-in dataset's paper tables)."""

HEADLINE = ("FID", "mIoU", "pixel acc")
PERCENT = ("mIoU", "pixel acc")
