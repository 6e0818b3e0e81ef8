"""`drn-d-105`: the DRN-D-105 Cityscapes segmenter (Dilated Residual Networks) of SPADE's mIoU.

SPADE and its successors score Cityscapes with the released DRN-D-105 segmentation model
``drn-d-105_ms_cityscapes.pth`` (19 Cityscapes train ids). Its module tree, as the published
file's keys spell it: ``base.0`` .. ``base.8`` are the DRN-D levels (``base.0``: 7x7 conv
3->16 + BN; ``base.1``, ``base.2``: 3x3 conv + BN stacks with 16 and 32 channels, the second
with stride 2; ``base.3``..``base.6``: bottleneck stages of 3, 4, 23, 3 blocks, 64..512 planes x4,
stride 2, 2, then dilation 2 and 4; ``base.7``, ``base.8``: 3x3 conv + BN with 512 channels,
dilation 2 and 1), ``seg`` a 1x1 conv to the 19 classes, ``up`` a grouped 16x16 transposed conv
that upsamples by 8 (its fixed bilinear weights are in the file).

Published evaluation (``segment.py test``): RGB photos in [0, 1] normalised with the Cityscapes
mean (0.290101, 0.328081, 0.286964) and deviation (0.182954, 0.186566, 0.184475) of the
repository's ``info.json``, read at their own size, one scale; the argmax of the upsampled
scores; ground truth in train ids (labelIds -> trainIds of the official label table, every
other id 255 and ignored), mIoU over the 19 classes. bench reads the generated images at the
evaluation resolution (``drn-d-105.input_height`` resizes them, bilinear) and resizes scores
bilinearly to the label maps when the network's output (a multiple of 8) differs.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from benchmark import Options, WeightSpec
from bench_plugins.segmenters.published import PublishedSegmenter, hooks, layout_check
from bench_plugins.segmenters.resnet import stage

FILENAME = "drn-d-105_ms_cityscapes.pth"
MEAN = (0.290101, 0.328081, 0.286964)
STD = (0.182954, 0.186566, 0.184475)

#: the 19 Cityscapes train ids, in order
TRAIN_CLASSES = ["road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
                 "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle",
                 "bicycle"]
#: official labelId -> trainId (cityscapesScripts' label table); every other id is ignored
LABEL_TO_TRAIN = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
                  26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}

STAGES = (1, 1, 3, 4, 23, 3, 1, 1)  # DRN-D-105
CHANNELS = (16, 32, 64, 128, 256, 512, 512, 512)


def conv_bn_relu(cin: int, cout: int, n: int, stride: int = 1, dilation: int = 1) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i in range(n):
        layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, stride if i == 0 else 1, dilation, dilation, bias=False),
                   nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    return layers


class DRNSegmenter(nn.Module):
    """DRN-D-105 with its segmentation head, keys as in the published file."""

    def __init__(self, num_classes: int = 19, stages=STAGES, channels=CHANNELS):
        super().__init__()
        c = channels
        levels = [nn.Sequential(nn.Conv2d(3, c[0], 7, 1, 3, bias=False), nn.BatchNorm2d(c[0]), nn.ReLU(inplace=True)),
                  nn.Sequential(*conv_bn_relu(c[0], c[0], stages[0])),
                  nn.Sequential(*conv_bn_relu(c[0], c[1], stages[1], stride=2)),
                  # DRN-D's dilated stages are not new levels: every block of one uses its dilation
                  stage(c[1], c[2], stages[2], 2, 1),
                  stage(c[2] * 4, c[3], stages[3], 2, 1),
                  stage(c[3] * 4, c[4], stages[4], 1, 2),
                  stage(c[4] * 4, c[5], stages[5], 1, 4),
                  nn.Sequential(*conv_bn_relu(c[5] * 4, c[6], stages[6], dilation=2)),
                  nn.Sequential(*conv_bn_relu(c[6], c[7], stages[7], dilation=1))]
        self.base = nn.Sequential(*levels)
        self.seg = nn.Conv2d(c[7], num_classes, 1)
        self.up = nn.ConvTranspose2d(num_classes, num_classes, 16, stride=8, padding=4, groups=num_classes, bias=False)

    def forward(self, x):
        return self.up(self.seg(self.base(x)))


class DRNOptions(Options):
    input_height: int | None = Field(None, ge=16, description="height the network reads (bilinear resize, aspect "
                                     "kept); default: the images as generated, as the published test reads them")


class DRND105(PublishedSegmenter):
    name = "drn-d-105"
    summary = "DRN-D-105: Cityscapes' standard mIoU segmenter (19 train ids), drn-d-105_ms_cityscapes.pth"
    Options = DRNOptions
    dataset = "cityscapes"
    num_classes = 35
    classes = TRAIN_CLASSES
    target_map = LABEL_TO_TRAIN
    preprocessing = ("RGB in [0,1], Cityscapes mean/std of the repository's info.json, one scale; bilinear "
                     "resize of scores to the labels; labelIds -> 19 trainIds, others ignored")
    specs = (WeightSpec(
        name="drn-d-105-cityscapes",
        filename=FILENAME,
        sha256=None,  # not published: checked by structure at import, recorded
        url=f"http://dl.yf.io/drn/{FILENAME}",
        summary="DRN-D-105 segmentation model, 19 Cityscapes train ids: the standard mIoU segmenter for cityscapes",
        source="fyu/drn (BSD-3-Clause), linked from http://go.yf.io/drn-cityscapes-models; used by SPADE's "
               "Cityscapes mIoU",
        check=layout_check(DRNSegmenter, "DRN-D-105 (19 classes)")),)

    def build(self) -> nn.Module:
        return DRNSegmenter()

    def forward(self, net, images, options):
        if options.input_height and options.input_height != images.shape[-2]:
            width = round(images.shape[-1] * options.input_height / images.shape[-2])
            images = nn.functional.interpolate(images, size=(options.input_height, width), mode="bilinear",
                                               align_corners=False, antialias=True)
        mean = torch.tensor(MEAN, device=images.device).view(1, 3, 1, 1)
        std = torch.tensor(STD, device=images.device).view(1, 3, 1, 1)
        return net((images - mean) / std)

    def describe_options(self, options):
        return f"height {options.input_height} px" if options.input_height else "the evaluation resolution"


register_segmenters, register_weights = hooks(DRND105())
