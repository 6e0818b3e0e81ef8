"""UperNet-101's module tree as CSAILVision/semantic-segmentation-pytorch's files spell their keys.

- encoder (``encoder_epoch_*.pth``): a ResNet-101 with that repository's deep stem (``conv1`` 3x3
  3->64 stride 2, ``conv2`` 64->64, ``conv3`` 64->128, each with ``bn1``..``bn3``, then a 3x3 max
  pool), ``layer1``..``layer4`` of 3, 4, 23, 3 bottlenecks (stride on the 3x3 conv, projection
  ``downsample.0``/``.1``), not dilated; its four stage outputs feed the decoder;
- decoder (``decoder_epoch_*.pth``; UPerNet, ``fc_dim`` 2048, ``fpn_dim`` 512): ``ppm_conv.i`` 1x1
  conv 2048->512 + BN on adaptive pools of 1, 2, 3, 6 upsampled (bilinear) to the last stage's size;
  ``ppm_last_conv`` 3x3 (2048+4*512)->512 + BN; ``fpn_in.i`` 1x1 256/512/1024->512 + BN;
  ``fpn_out.i.0`` 3x3 512->512 + BN; ``conv_last.0`` 3x3 2048->512 + BN and ``conv_last.1`` 1x1
  512->150 with bias.

Both published versions (``baseline-resnet101-upernet`` and ``ade20k-resnet101-upernet``) have this
tree; they differ in their weights and in how photos are prepared (:mod:`.upernet`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from bench_plugins.segmenters.resnet import stage


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
