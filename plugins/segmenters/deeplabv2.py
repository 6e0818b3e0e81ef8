"""`deeplabv2-cocostuff`: DeepLabV2-ResNet101 (multi-scale inputs), COCO-Stuff's standard mIoU segmenter.

SPADE and its successors score COCO-Stuff with the released DeepLabV2 model
``deeplabv2_resnet101_msc-cocostuff164k-100000.pth`` (182 classes, trained 100k iterations on
COCO-Stuff 164k). Module tree as its keys spell it: ``base`` is the DeepLabV2 network inside a
multi-scale wrapper; ``base.layer1.conv1`` a 7x7 conv 3->64 stride 2 (``.conv``, ``.bn``) then a
3x3 max pool (stride 2, ceil mode); ``base.layer2``..``base.layer5`` residual layers of 3, 4, 23, 3
bottlenecks named ``block1``.. with ``reduce`` (1x1, carries the stride), ``conv3x3`` (dilated),
``increase`` (1x1) and, in each first block, ``shortcut`` (each a conv + BN pair); layer3 has
stride 2, layer4 and layer5 dilation 2 and 4 (output stride 8); ``base.aspp.c0``..``c3`` are 3x3
convs 2048->182 with bias and dilation 6, 12, 18, 24, summed.

Published evaluation (the repository's ``main.py test`` with ``cocostuff164k.yaml``): photos as
0..255 BGR minus the mean (B 104.008, G 116.669, R 122.675), no deviation, at their own size;
the network runs at scales 1, 0.5 and 0.75 and takes the element-wise maximum of the logits
(resized bilinearly to the scale-1 logits); the logits are resized bilinearly to the label map
and arg-maxed. Its 182 classes are COCO-Stuff's 0-based ids, bench's ids; 255 (unlabeled) is
not counted. ``deeplabv2-cocostuff.input_size`` resizes the images first (recorded).
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F

from benchmark import Options, WeightSpec
from bench_plugins.segmenters.published import PublishedSegmenter, hooks, layout_check

FILENAME = "deeplabv2_resnet101_msc-cocostuff164k-100000.pth"
MEAN_BGR = (104.008, 116.669, 122.675)
RATES = (6, 12, 18, 24)
PYRAMID = (0.5, 0.75)


class ConvBN(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, dilation if kernel == 3 else kernel // 2, dilation, bias=False)
        self.bn = nn.BatchNorm2d(cout)


class Bottleneck(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, dilation: int, project: bool):
        super().__init__()
        mid = cout // 4
        self.reduce = ConvBN(cin, mid, 1, stride)
        self.conv3x3 = ConvBN(mid, mid, 3, 1, dilation)
        self.increase = ConvBN(mid, cout, 1)
        self.shortcut = ConvBN(cin, cout, 1, stride) if project else nn.Identity()

    def forward(self, x):
        h = torch.relu(self.reduce(x))
        h = torch.relu(self.conv3x3(h))
        return torch.relu(self.increase(h) + self.shortcut(x))


class ResLayer(nn.Sequential):
    def __init__(self, n: int, cin: int, cout: int, stride: int, dilation: int):
        super().__init__()
        for i in range(n):
            self.add_module(f"block{i + 1}", Bottleneck(cin if i == 0 else cout, cout, stride if i == 0 else 1,
                                                        dilation, project=i == 0))


class Stem(nn.Sequential):
    def __init__(self):
        super().__init__()
        self.conv1 = ConvBN(3, 64, 7, 2)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(3, 2, 1, ceil_mode=True)


class ASPP(nn.Module):
    def __init__(self, cin: int, num_classes: int, rates=RATES):
        super().__init__()
        for i, rate in enumerate(rates):
            self.add_module(f"c{i}", nn.Conv2d(cin, num_classes, 3, 1, rate, rate, bias=True))

    def forward(self, x):
        return sum(conv(x) for conv in self.children())


class DeepLabV2(nn.Sequential):
    def __init__(self, num_classes: int = 182, blocks=(3, 4, 23, 3)):
        super().__init__()
        self.layer1 = Stem()
        self.layer2 = ResLayer(blocks[0], 64, 256, 1, 1)
        self.layer3 = ResLayer(blocks[1], 256, 512, 2, 1)
        self.layer4 = ResLayer(blocks[2], 512, 1024, 1, 2)
        self.layer5 = ResLayer(blocks[3], 1024, 2048, 1, 4)
        self.aspp = ASPP(2048, num_classes)


class MultiScale(nn.Module):
    """The published wrapper: logits at scale 1 and the element-wise max over the pyramid."""

    def __init__(self, num_classes: int = 182, pyramid=PYRAMID):
        super().__init__()
        self.base = DeepLabV2(num_classes)
        self.pyramid = pyramid

    def forward(self, x):
        logits = self.base(x)
        size = logits.shape[-2:]
        scaled = [F.interpolate(self.base(F.interpolate(x, scale_factor=p, mode="bilinear", align_corners=False)),
                                size=size, mode="bilinear", align_corners=False) for p in self.pyramid]
        return torch.stack([logits, *scaled]).max(0).values


class DeepLabV2Options(Options):
    input_size: int | None = Field(None, ge=16, description="side the images are resized to first (bilinear); "
                                   "default: as generated, as the published test reads them at their own size")


class DeepLabV2CocoStuff(PublishedSegmenter):
    name = "deeplabv2-cocostuff"
    summary = "DeepLabV2-ResNet101: COCO-Stuff's standard mIoU segmenter (182 classes), cocostuff164k-100000"
    Options = DeepLabV2Options
    dataset = "coco-stuff"
    num_classes = 182
    preprocessing = ("0..255 BGR minus the mean (104.008, 116.669, 122.675), no deviation; max over scales 1, "
                     "0.5, 0.75; logits resized bilinearly to the labels")
    specs = (WeightSpec(
        name="deeplabv2-resnet101-cocostuff164k",
        filename=FILENAME,
        sha256=None,  # not published: checked by structure at import, recorded
        url=f"https://github.com/kazuto1011/deeplab-pytorch/releases/download/v1.0/{FILENAME}",
        summary="DeepLabV2-ResNet101 (MSC), 182 COCO-Stuff classes: the standard mIoU segmenter for coco-stuff",
        source="kazuto1011/deeplab-pytorch (MIT), release v1.0; used by SPADE's COCO-Stuff mIoU",
        check=layout_check(MultiScale, "DeepLabV2-ResNet101 (182 classes)")),)

    def build(self) -> nn.Module:
        return MultiScale()

    def forward(self, net, images, options):
        if options.input_size and tuple(images.shape[-2:]) != (options.input_size,) * 2:
            images = F.interpolate(images, size=(options.input_size,) * 2, mode="bilinear", align_corners=False,
                                   antialias=True)
        bgr = images.flip(1) * 255.0
        return net(bgr - torch.tensor(MEAN_BGR, device=images.device).view(1, 3, 1, 1))

    def describe_options(self, options):
        return f"{options.input_size} px" if options.input_size else "the evaluation resolution"


register_segmenters, register_weights = hooks(DeepLabV2CocoStuff())
