"""pix2pixHD's coarse-to-fine generator: the global generator G1 and the local enhancers G2 around it.

From "High-Resolution Image Synthesis and Semantic Manipulation with Conditional GANs"
(pix2pixHD, CVPR 2018) and the layer layout of its official code:

- global generator: reflection pad 3 + 7x7 conv to ``ngf``, ``n_downsample`` 3x3
  stride-2 convs (widths doubling), ``n_blocks`` residual blocks (reflection pad 1,
  3x3 conv, norm, ReLU, reflection pad 1, 3x3 conv, norm; plus the input), as many
  3x3 stride-2 transposed convs back (output padding 1), and reflection pad 3 + 7x7
  conv to RGB + tanh. Instance norm without affine parameters after every conv but the last.
- local enhancer ``n`` of ``L`` (``n_local_enhancers``): the global generator runs at
  ``ngf * 2**L`` on the input downsampled ``L`` times (3x3 average pooling, stride 2,
  padding not counted) without its RGB layer; enhancer ``n`` reads the input
  downsampled ``L - n`` times through a 7x7 conv and one 3x3 stride-2 conv (width
  ``ngf * 2**(L-n)``, doubled), adds the coarser output, then ``n_blocks_local`` residual
  blocks and one transposed conv; the last enhancer ends in the RGB layer.

The modules are named for what they are (``front``, ``down``, ``blocks``, ``up``, ``rgb``);
:mod:`.official` maps the official code's ``model.<i>`` / ``model1_1.<i>`` keys onto them.
"""

from __future__ import annotations

import torch
from torch import nn


def norm(channels: int) -> nn.Module:
    """The official ``instance`` norm: no affine parameters, no running statistics."""
    return nn.InstanceNorm2d(channels, affine=False)


class ResnetBlock(nn.Module):
    """``x + norm(conv(pad(relu(norm(conv(pad(x)))))))`` with reflection padding of 1."""

    def __init__(self, dim: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), norm(dim), nn.ReLU(),
                                  nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), norm(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def stem(in_ch: int, out_ch: int) -> nn.Sequential:
    """Reflection pad 3, 7x7 conv, norm, ReLU."""
    return nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(in_ch, out_ch, 7), norm(out_ch), nn.ReLU())


def down(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, stride=2, padding=1), norm(out_ch), nn.ReLU())


def up(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(in_ch, out_ch, 3, stride=2, padding=1, output_padding=1), norm(out_ch),
                         nn.ReLU())


def rgb(in_ch: int) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(in_ch, 3, 7), nn.Tanh())


class GlobalGenerator(nn.Module):
    """G1: front conv, ``n_downsample`` downsamplings, ``n_blocks`` residual blocks, upsamplings, RGB
    (``with_rgb=False`` inside a local enhancer, which ends in its own)."""

    def __init__(self, in_channels: int, *, ngf: int = 64, n_downsample: int = 4, n_blocks: int = 9,
                 with_rgb: bool = True):
        super().__init__()
        self.front = stem(in_channels, ngf)
        self.down = nn.Sequential(*(down(ngf * 2 ** i, ngf * 2 ** (i + 1)) for i in range(n_downsample)))
        width = ngf * 2 ** n_downsample
        self.blocks = nn.Sequential(*(ResnetBlock(width) for _ in range(n_blocks)))
        self.up = nn.Sequential(*(up(ngf * 2 ** (n_downsample - i), ngf * 2 ** (n_downsample - i - 1))
                                  for i in range(n_downsample)))
        self.rgb = rgb(ngf) if with_rgb else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.up(self.blocks(self.down(self.front(x))))
        return self.rgb(x) if self.rgb is not None else x


class LocalEnhancer(nn.Module):
    """G2: a 7x7 conv and one downsampling of the finer input, the coarser output added, residual
    blocks, one upsampling (and the RGB layer when it is the last)."""

    def __init__(self, in_channels: int, ngf: int, n_blocks: int, with_rgb: bool):
        super().__init__()
        self.front = nn.Sequential(*stem(in_channels, ngf), *down(ngf, 2 * ngf))
        self.blocks = nn.Sequential(*(ResnetBlock(2 * ngf) for _ in range(n_blocks)))
        self.up = up(2 * ngf, ngf)
        self.rgb = rgb(ngf) if with_rgb else None

    def forward(self, x: torch.Tensor, coarser: torch.Tensor) -> torch.Tensor:
        x = self.up(self.blocks(self.front(x) + coarser))
        return self.rgb(x) if self.rgb is not None else x


class Pix2PixHDGenerator(nn.Module):
    """The global generator alone (``n_local_enhancers=0``, the official ``netG global``) or wrapped in
    ``n_local_enhancers`` local enhancers (``netG local``; ``ngf`` is then the finest enhancer's width and
    the global generator's is ``ngf * 2**n_local_enhancers``, as the official code)."""

    def __init__(self, in_channels: int, *, ngf: int = 64, n_downsample_global: int = 4, n_blocks_global: int = 9,
                 n_local_enhancers: int = 0, n_blocks_local: int = 3):
        super().__init__()
        L = self.n_local_enhancers = n_local_enhancers
        self.global_net = GlobalGenerator(in_channels, ngf=ngf * 2 ** L, n_downsample=n_downsample_global,
                                          n_blocks=n_blocks_global, with_rgb=L == 0)
        self.enhancers = nn.ModuleList(LocalEnhancer(in_channels, ngf * 2 ** (L - n), n_blocks_local, n == L)
                                       for n in range(1, L + 1))
        self.pool = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pyramid = [x]
        for _ in range(self.n_local_enhancers):
            pyramid.append(self.pool(pyramid[-1]))
        out = self.global_net(pyramid[-1])
        for n, enhancer in enumerate(self.enhancers, start=1):
            out = enhancer(pyramid[self.n_local_enhancers - n], out)
        return out
