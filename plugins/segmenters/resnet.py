"""ResNet's bottleneck block, as the published segmenters built on a ResNet spell its keys.

``conv1`` (1x1, cin -> planes), ``conv2`` (3x3, carries the stride and the dilation), ``conv3``
(1x1, planes -> 4 planes), each followed by ``bn1``..``bn3``; ``downsample.0``/``.1`` project the
input (1x1 conv + BN) where the block changes the shape. DRN-D-105 (``drn.py``) and UperNet-101's
encoder (``upernet.py``) read their published files into it; DeepLabV2 (``deeplabv2.py``) computes
the same block under other key names (``reduce``, ``conv3x3``, ``increase``, ``shortcut``).
"""

from __future__ import annotations

import torch
from torch import nn

EXPANSION = 4


class Bottleneck(nn.Module):
    def __init__(self, cin: int, planes: int, stride: int = 1, dilation: int = 1, project: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, dilation, dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * EXPANSION, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * EXPANSION)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, planes * EXPANSION, 1, stride, bias=False),
                                         nn.BatchNorm2d(planes * EXPANSION)) if project else None)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return torch.relu(out + (x if self.downsample is None else self.downsample(x)))


def bottleneck(cin: int, planes: int, stride: int = 1, dilation: int = 1) -> Bottleneck:
    """A bottleneck projected where its shape changes (a stride, or other input channels)."""
    return Bottleneck(cin, planes, stride, dilation, project=stride != 1 or cin != planes * EXPANSION)


def stage(cin: int, planes: int, blocks: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """``blocks`` bottlenecks; the first carries the stride (and the projection), all the dilation."""
    return nn.Sequential(bottleneck(cin, planes, stride, dilation),
                         *[bottleneck(planes * EXPANSION, planes, 1, dilation) for _ in range(blocks - 1)])
