"""`upernet-101`: UperNet-101 (ResNet-101 encoder + UPerNet decoder), ADE20K's standard mIoU segmenter.

SPADE and its successors score ADE20K with the scene-parsing benchmark's released
``ade20k-resnet101-upernet`` model, two files: ``encoder_epoch_50.pth`` and
``decoder_epoch_50.pth``. Module trees as their keys spell them:

- encoder: a ResNet-101 with the deep stem of that repository (``conv1`` 3x3 3->64 stride 2,
  ``conv2`` 64->64, ``conv3`` 64->128, each with ``bn1``..``bn3``, then a 3x3 max pool),
  ``layer1``..``layer4`` of 3, 4, 23, 3 bottlenecks (stride on the 3x3 conv, projection
  ``downsample.0``/``.1``), not dilated; its four stage outputs feed the decoder;
- decoder (UPerNet, ``fc_dim`` 2048, ``fpn_dim`` 512): ``ppm_conv.i`` 1x1 conv 2048->512 + BN on
  adaptive pools of 1, 2, 3, 6 upsampled (bilinear) to the last stage's size; ``ppm_last_conv`` 3x3 (2048+4*512)->512 + BN; ``fpn_in.i`` 1x1
  256/512/1024->512 + BN; ``fpn_out.i.0`` 3x3 512->512 + BN; ``conv_last.0`` 3x3 2048->512 + BN and
  ``conv_last.1`` 1x1 512->150 with bias.

Published evaluation (the repository's ``eval.py`` with its ``ade20k-resnet101-upernet`` config):
RGB photos in [0, 1] normalised with the ImageNet mean and deviation, resized (bilinear) so that
the short side is each of 300, 375, 450, 525, 600 px (long side at most 1000), rounded up to a
multiple of 32; each scale's softmax is resized bilinearly to the label map and the average is
arg-maxed. Its 150 outputs are ADE20K classes 1..150, bench's ids 0..149; "other" (bench's 255)
is not counted. ``upernet-101.scales`` changes the scales (recorded).
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F

from benchmark import Options, WeightSpec
from bench_plugins.segmenters.published import PublishedSegmenter, hooks, layout_check, read_state_dict
from bench_plugins.segmenters.resnet import stage

URL = "http://sceneparsing.csail.mit.edu/model/pytorch/ade20k-resnet101-upernet/"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PUBLISHED_SCALES = (300, 375, 450, 525, 600)
MAX_SIDE, MULTIPLE = 1000, 32


def cbr(cin: int, cout: int, kernel: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, 1, kernel // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class Encoder(nn.Module):
    """ResNet-101 with a three-conv stem; returns the outputs of its four stages."""

    def __init__(self, blocks=(3, 4, 23, 3)):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 3, 2, 1, bias=False), nn.BatchNorm2d(64)
        self.conv2, self.bn2 = nn.Conv2d(64, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64)
        self.conv3, self.bn3 = nn.Conv2d(64, 128, 3, 1, 1, bias=False), nn.BatchNorm2d(128)
        cin = 128
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), blocks)):
            setattr(self, f"layer{i + 1}", stage(cin, planes, n, stride=1 if i == 0 else 2))
            cin = planes * 4

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        x = F.max_pool2d(torch.relu(self.bn3(self.conv3(x))), 3, 2, 1)
        outs = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            outs.append(x)
        return outs


class Decoder(nn.Module):
    """UPerNet: a pyramid pooling module on the last stage, a feature pyramid over all four."""

    def __init__(self, num_classes: int = 150, fc_dim: int = 2048, fpn_dim: int = 512,
                 inplanes=(256, 512, 1024, 2048), pool_scales=(1, 2, 3, 6)):
        super().__init__()
        self.pool_scales = pool_scales
        self.ppm_conv = nn.ModuleList(nn.Sequential(*cbr(fc_dim, 512, 1)) for _ in pool_scales)
        self.ppm_last_conv = nn.Sequential(*cbr(fc_dim + len(pool_scales) * 512, fpn_dim, 3))
        self.fpn_in = nn.ModuleList(nn.Sequential(*cbr(c, fpn_dim, 1)) for c in inplanes[:-1])
        self.fpn_out = nn.ModuleList(nn.Sequential(nn.Sequential(*cbr(fpn_dim, fpn_dim, 3))) for _ in inplanes[:-1])
        self.conv_last = nn.Sequential(nn.Sequential(*cbr(len(inplanes) * fpn_dim, fpn_dim, 3)),
                                       nn.Conv2d(fpn_dim, num_classes, 1))

    def forward(self, feats):
        top = feats[-1]
        size = top.shape[-2:]
        # as published: each pooled map is upsampled first, then convolved
        pooled = [conv(F.interpolate(F.adaptive_avg_pool2d(top, s), size=size, mode="bilinear", align_corners=False))
                  for s, conv in zip(self.pool_scales, self.ppm_conv)]
        f = self.ppm_last_conv(torch.cat([top, *pooled], 1))
        pyramid = [f]
        for i in reversed(range(len(feats) - 1)):
            lateral = self.fpn_in[i](feats[i])
            f = lateral + F.interpolate(f, size=lateral.shape[-2:], mode="bilinear", align_corners=False)
            pyramid.append(self.fpn_out[i](f))
        pyramid.reverse()
        size = pyramid[0].shape[-2:]
        fused = [pyramid[0]] + [F.interpolate(p, size=size, mode="bilinear", align_corners=False) for p in pyramid[1:]]
        return self.conv_last(torch.cat(fused, 1))


class UperNet(nn.Module):
    def __init__(self, num_classes: int = 150):
        super().__init__()
        self.encoder = Encoder()
        self.decoder = Decoder(num_classes)

    def forward(self, x):
        return self.decoder(self.encoder(x))


def scaled_size(height: int, width: int, short: int) -> tuple[int, int]:
    """The published test size: short side ``short``, long side at most 1000, rounded up to x32."""
    scale = min(short / min(height, width), MAX_SIDE / max(height, width))
    h, w = int(height * scale), int(width * scale)
    return ((h - 1) // MULTIPLE + 1) * MULTIPLE, ((w - 1) // MULTIPLE + 1) * MULTIPLE


class UperNetOptions(Options):
    scales: list[int] = Field(list(PUBLISHED_SCALES), min_length=1, description="short sides the images are "
                              "read at; the softmax is averaged over them (published: 300,375,450,525,600)")


def _encoder_check(state):
    return layout_check(Encoder, "UperNet-101's ResNet-101 encoder")(state)


def _decoder_check(state):
    return layout_check(Decoder, "UperNet-101's UPerNet decoder (150 classes)")(state)


class UperNet101(PublishedSegmenter):
    name = "upernet-101"
    summary = "UperNet-101: ADE20K's standard mIoU segmenter (150 classes), ade20k-resnet101-upernet epoch 50"
    Options = UperNetOptions
    dataset = "ade20k"
    num_classes = 150
    preprocessing = ("RGB in [0,1], ImageNet mean/std; short side at each scale (long side <= 1000, rounded up "
                     "to x32, bilinear); softmax resized bilinearly to the labels and averaged over scales")
    specs = (
        WeightSpec(name="upernet101-ade20k-encoder", filename="ade20k-resnet101-upernet-encoder_epoch_50.pth",
                   sha256=None, url=URL + "encoder_epoch_50.pth",
                   summary="UperNet-101's ResNet-101 encoder (encoder_epoch_50.pth): ADE20K's mIoU segmenter",
                   source="CSAILVision/semantic-segmentation-pytorch (BSD-3-Clause), model ade20k-resnet101-upernet",
                   check=_encoder_check),
        WeightSpec(name="upernet101-ade20k-decoder", filename="ade20k-resnet101-upernet-decoder_epoch_50.pth",
                   sha256=None, url=URL + "decoder_epoch_50.pth",
                   summary="UperNet-101's UPerNet decoder (decoder_epoch_50.pth): ADE20K's mIoU segmenter",
                   source="CSAILVision/semantic-segmentation-pytorch (BSD-3-Clause), model ade20k-resnet101-upernet",
                   check=_decoder_check),
    )

    def build(self) -> nn.Module:
        return UperNet()

    def state_from(self, paths):
        encoder, decoder = (read_state_dict(p) for p in paths)
        return {**{f"encoder.{k}": v for k, v in encoder.items()}, **{f"decoder.{k}": v for k, v in decoder.items()}}

    def forward(self, net, images, options):
        mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=images.device).view(1, 3, 1, 1)
        size = images.shape[-2:]
        total = 0
        for short in options.scales:
            x = F.interpolate(images, size=scaled_size(*size, short), mode="bilinear", align_corners=False)
            scores = F.interpolate(net((x - mean) / std), size=size, mode="bilinear", align_corners=False)
            total = total + scores.softmax(1) / len(options.scales)
        return total

    def describe_options(self, options):
        return "short side " + ", ".join(str(s) for s in options.scales) + " px (softmax averaged)"


register_segmenters, register_weights = hooks(UperNet101())
