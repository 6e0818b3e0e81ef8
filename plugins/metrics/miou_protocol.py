"""The scoring options of ``miou``: how label maps reach the scoring size, whether dontcare pixels
count, and at which resolution the comparison is made; with the published setting per segmenter.

Re-measurements of the same published checkpoints disagree because the evaluation scripts
differ in exactly these points (NVlabs/SPADE issues 39 and 100, the SMIS repository issue 6,
the CC-FPSE repository issue 4, the TSIT repository issue 1; see docs/protocol.md):

``label_resize``
    how the dataset's label maps are brought to the evaluation resolution. ``nearest``: PIL
    nearest neighbour (bench's data pipeline, and what CC-FPSE, CLADE and OASIS describe).
    ``bilinear``: PIL's bilinear resize applied to the 8-bit id image itself, as a script does
    that opens the label PNG and calls ``resize(size, Image.BILINEAR)``: ids are averaged as
    numbers and rounded, so boundary pixels get ids of neither side (often another class, or
    an ignored id). This is the "bilinear downsample method for label maps" of SPADE issue 100.
``count_dontcare``
    whether pixels whose label is not scored (the dataset's ignore label, or an id outside the
    segmenter's classes such as Cityscapes' void ids) stay in the pixel accuracy's denominator.
    They are never correct, so counting them lowers the accuracy; mIoU is the same either way
    (every reference script builds its confusion matrix without them).
``score_at``
    ``evaluation``: the prediction on the generated image is compared with the label map at the
    evaluation resolution (bench's default). ``dataset``: the generated image is first upsampled
    (bilinear) to the size of the dataset's own label map and compared with that map unresized,
    as boschresearch/OASIS issue 18 describes for reproducing SPADE's Cityscapes mIoU.

``average``
    which classes mIoU averages over, as the segmenter's own evaluation script does
    (:mod:`bench_plugins.segmenters.scores`): ``union`` (bench's and fyu/drn's: classes in the
    ground truth or the prediction), ``all`` (CSAIL's: every class, an absent one as 0),
    ``ground-truth`` (kazuto1011/deeplab-pytorch's: classes in the ground truth). Recorded as the
    protocol's ``miou_over`` sentence, which for ``union`` is the one rows always had.

Unset options take the published setting of the run's segmenter (:data:`PUBLISHED`), else
bench's own (nearest, not counted, evaluation, union). The protocol records the values used.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from PIL import Image
from bench_plugins.segmenters.scores import ALL, GROUND_TRUTH, UNION
from pydantic import Field

from benchmark import Options

NEAREST, BILINEAR = "nearest", "bilinear"
AS_GIVEN = "none: the label maps given, at their own size (no dataset label maps in this evaluation)"
_FILTERS = {NEAREST: Image.NEAREST, BILINEAR: Image.BILINEAR}

#: bench's own setting, for segmenters without a published one
BENCH = {"label_resize": NEAREST, "count_dontcare": False, "score_at": "evaluation"}

#: the published scoring of the standard segmenters, and where it is stated
PUBLISHED: dict[str, dict] = {
    "drn-d-105": {"label_resize": BILINEAR, "count_dontcare": True, "score_at": "evaluation", "average": UNION,
                  "source": "SPADE paper's Cityscapes numbers: labels bilinear-downsampled to 512x256 "
                            "(NVlabs/SPADE issues 39, 100); accuracy with the void pixels (the TSIT repository "
                            "issue 1, the CC-FPSE repository issue 4)"},
    "upernet-101": {"label_resize": NEAREST, "count_dontcare": False, "score_at": "evaluation", "average": ALL,
                    "source": "CSAILVision/semantic-segmentation-pytorch eval: label 0 (other) not counted; "
                              "label resize not published (bench's nearest)"},
    "upernet-101-baseline": {"label_resize": NEAREST, "count_dontcare": False, "score_at": "evaluation", "average": ALL,
                             "source": "CSAILVision/semantic-segmentation-pytorch eval.py before August 2019: label 0 "
                                       "(other) not counted; label resize not published (bench's nearest)"},
    "deeplabv2-cocostuff": {"label_resize": NEAREST, "count_dontcare": False, "score_at": "evaluation",
                            "average": GROUND_TRUTH,
                            "source": "kazuto1011/deeplab-pytorch scores: unlabeled (255) not counted; labels "
                                      "nearest to the generated size (the CC-FPSE repository issue 4)"},
}


class MIoUOptions(Options):
    label_resize: Literal["nearest", "bilinear"] | None = Field(
        None, description="how the dataset's label maps are resized to the evaluation resolution: nearest "
                          "(PIL nearest) or bilinear (PIL bilinear on the id image, ids averaged and rounded); "
                          "default: the segmenter's published setting, else nearest")
    count_dontcare: bool | None = Field(
        None, description="keep the ignored/void pixels in the pixel accuracy's denominator (never correct); "
                          "mIoU is unchanged; default: the segmenter's published setting, else false")
    score_at: Literal["evaluation", "dataset"] | None = Field(
        None, description="evaluation: compare at the evaluation resolution; dataset: upsample the generated "
                          "images (bilinear) to the dataset's own label maps and compare there; default: evaluation")
    average: Literal["union", "all", "ground-truth"] | None = Field(
        None, description="the classes mIoU averages over: union (in the ground truth or the prediction; fyu/drn), "
                          "all (every class, an absent one as 0; CSAIL), ground-truth (in the ground truth; "
                          "kazuto1011/deeplab-pytorch); default: the segmenter's own evaluation's rule, else union")


def settings(options: Options | None, segmenter: str) -> dict:
    """The scoring settings to use: the options set, else the published ones of ``segmenter``, else bench's."""
    base = PUBLISHED.get(segmenter, BENCH)
    chosen = {}
    for key in BENCH:
        value = getattr(options, key, None)
        chosen[key] = base.get(key, BENCH[key]) if value is None else value
    return chosen


def average_rule(options: Options | None, segmenter: str) -> str:
    """The classes mIoU averages over: the option set, else the segmenter's own script's rule, else ``union``."""
    value = getattr(options, "average", None)
    return value or PUBLISHED.get(segmenter, {}).get("average", UNION)


def resize_label(label: np.ndarray, height: int, width: int, how: str) -> np.ndarray:
    """An (H, W) uint8 id map at (height, width) by PIL's ``how`` filter applied to the ids."""
    if label.shape == (height, width):
        return label
    return np.asarray(Image.fromarray(label).resize((width, height), _FILTERS[how])).copy()

