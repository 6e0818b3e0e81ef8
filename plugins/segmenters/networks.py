"""The networks bench trains itself for evaluation: a small U-Net segmenter and a small CNN classifier.

Both start from random weights (nothing pretrained is downloaded) and use
BatchNorm, which is run on its running statistics at evaluation time, so that a
prediction depends on its image alone.
"""

from __future__ import annotations

import torch
from torch import nn


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """Two 3x3 convolutions, each followed by BatchNorm and ReLU (the U-Net paper's block, padded)."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
    )


class SmallUNet(nn.Module):
    """A U-Net ("U-Net: Convolutional Networks for Biomedical Image Segmentation") of ``depth``
    2x2 max-pool halvings, ``width`` channels at full resolution doubling per level, bilinear
    upsampling (to the size of the skip, so any input side works) and skip concatenation; a 1x1
    convolution gives the class logits at the input size."""

    def __init__(self, num_classes: int, width: int = 16, depth: int = 3):
        super().__init__()
        widths = [width * 2 ** i for i in range(depth + 1)]
        self.down = nn.ModuleList([conv_block(3, widths[0])] +
                                  [conv_block(widths[i], widths[i + 1]) for i in range(depth)])
        self.up = nn.ModuleList([conv_block(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(depth))])
        self.head = nn.Conv2d(widths[0], num_classes, 1)
        self.depth = depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else nn.functional.max_pool2d(x, 2))
            skips.append(x)
        skips.pop()
        for block in self.up:
            skip = skips.pop()
            x = nn.functional.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], 1))
        return self.head(x)


class SmallClassifier(nn.Module):
    """``depth`` stages of a stride-2 and a stride-1 3x3 conv, each with BatchNorm and ReLU (``width``
    channels, doubling), global average and global max pooling side by side (the max answers "is it
    anywhere?", which is what a class-presence label asks), and a linear layer: one logit per class
    (multi-label, read with a sigmoid)."""

    def __init__(self, num_classes: int, width: int = 16, depth: int = 4):
        super().__init__()
        layers, c_in = [], 3
        for i in range(depth):
            c_out = width * 2 ** i
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c_out),
                       nn.ReLU(inplace=True), nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(2 * c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)
        return self.head(torch.cat([f.mean((2, 3)), f.amax((2, 3))], 1))
