"""The OASIS discriminator: a U-Net of residual blocks that labels every pixel with N + 1 classes.

Layout of the official code (``n`` = 6 blocks per half, widths 128, 128, 256, 256, 512,
512, i.e. 2, 2, 4, 4, 8, 8 x ``ndf`` with ``ndf`` = 64):

- encoder: ``n`` residual blocks, each ending in a 2x2 average pooling; the first has
  no activation before its conv and pools its shortcut before the 1x1 conv;
- decoder: ``n`` residual blocks, each starting with a 2x nearest upsampling, reading
  the previous block's output concatenated with the encoder's output at that scale
  (skip connections); the last has ``ndf`` channels;
- a 1x1 conv to N + 1 logits per pixel (class 0: "fake").

A block is ``act, [up], conv3x3, act, conv3x3, [pool]`` plus a shortcut (1x1 conv when the
width changes), LeakyReLU 0.2, every conv spectrally normalised. D reads the image alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from bench_plugins.models.spade.blocks import maybe_spectral
from torch import nn

WIDTHS = (2, 2, 4, 4, 8, 8)


class ResBlockD(nn.Module):
    def __init__(self, fin: int, fout: int, direction: int, *, first: bool = False, spectral: bool = True):
        super().__init__()
        self.direction, self.first = direction, first
        self.conv1 = maybe_spectral(nn.Conv2d(fin, fout, 3, padding=1), spectral)
        self.conv2 = maybe_spectral(nn.Conv2d(fout, fout, 3, padding=1), spectral)
        self.conv_s = maybe_spectral(nn.Conv2d(fin, fout, 1), spectral) if fin != fout else None

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.direction > 0:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        elif self.first:
            x = F.avg_pool2d(x, 2)
        if self.conv_s is not None:
            x = self.conv_s(x)
        if self.direction < 0 and not self.first:
            x = F.avg_pool2d(x, 2)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dx = x if self.first else F.leaky_relu(x, 0.2)
        if self.direction > 0:
            dx = F.interpolate(dx, scale_factor=2, mode="nearest")
        dx = self.conv2(F.leaky_relu(self.conv1(dx), 0.2))
        if self.direction < 0:
            dx = F.avg_pool2d(dx, 2)
        return self.shortcut(x) + dx


class OasisDiscriminator(nn.Module):
    def __init__(self, num_classes: int, *, ndf: int = 64, num_res_blocks: int = 6, spectral: bool = True):
        super().__init__()
        ch = [3, *(w * ndf for w in WIDTHS[:num_res_blocks])]
        n = num_res_blocks
        self.body_down = nn.ModuleList(ResBlockD(ch[i], ch[i + 1], -1, first=i == 0, spectral=spectral)
                                       for i in range(n))
        ups = [ResBlockD(ch[-1], ch[-2], 1, spectral=spectral)]
        ups += [ResBlockD(2 * ch[-1 - i], ch[-2 - i], 1, spectral=spectral) for i in range(1, n - 1)]
        ups.append(ResBlockD(2 * ch[1], ndf, 1, spectral=spectral))
        self.body_up = nn.ModuleList(ups)
        self.layer_up_last = nn.Conv2d(ndf, num_classes + 1, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(N, num_classes + 1, H, W) logits; class 0 is "fake"."""
        skips, x = [], image
        for block in self.body_down:
            x = block(x)
            skips.append(x)
        x = self.body_up[0](x)
        for i in range(1, len(self.body_down)):
            x = self.body_up[i](torch.cat([skips[-i - 1], x], dim=1))
        return self.layer_up_last(x)
