"""The SPADE generator: SPADE residual blocks that upsample from a small start grid.

Layout of the official code (``ngf`` = 64 there):

- start grid ``sh x sw = (height / 2**num_up) x (width / 2**num_up)`` with ``num_up`` = 5
  (``normal``), 6 (``more``) or 7 (``most``); 8x8 at 256 px with ``normal``, 8x16 at
  Cityscapes' 512x256 (the official ``sw = crop_size / 2**num_up``, ``sh = sw / aspect_ratio``);
- start tensor of ``16 * ngf`` channels from a linear layer on ``z`` (VAE mode) or
  from a 3x3 conv on the label map downsampled (nearest) to ``sh x sw`` (no VAE: the
  output is then a function of the label map alone);
- ``head`` (16ngf), up, ``middle_0`` (16ngf), [up, with ``more``/``most``],
  ``middle_1`` (16ngf), then up + block to 8, 4, 2, 1 x ngf, and with ``most`` one
  more up + block to ngf/2: widths 16/16/16/8/4/2/1 x ngf; nearest 2x upsampling;
- LeakyReLU 0.2, a 3x3 conv to RGB and tanh.

A :class:`SPADEResBlock` is SPADE, activation, 3x3 conv, twice, plus a shortcut that
is learned (SPADE + 1x1 conv without bias) when the channel count changes. Spectral
norm wraps the block convs (the official ``spectralspadesyncbatch3x3``).

Two additions serve ``face-spade`` and are off for ``spade``: noise injection after
each block conv (a learned per-channel weight, zero at init) and per-block style
modulation from ``z`` (a linear layer per block, zero at init, giving a per-channel
scale and shift of the block output), which makes style mixing possible: blocks
before a crossover read ``z1``, the others ``z2``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from benchmark import Size

from .blocks import NoiseInjection, activation, maybe_spectral
from .normalization import SPADE, resized

NUM_UP = {"normal": 5, "more": 6, "most": 7}


def start_size(image_size: int, num_upsampling_layers: str) -> int:
    """Side of the start grid: ``image_size / 2**num_up`` (0 when the image is too small)."""
    return image_size // 2 ** NUM_UP[num_upsampling_layers]


def start_grid(size: int | Size, num_upsampling_layers: str) -> tuple[int, int]:
    """(sh, sw): the start grid of an image of ``size`` (a side, or height and width)."""
    height, width = Size.of(size)
    return start_size(height, num_upsampling_layers), start_size(width, num_upsampling_layers)


class SPADEResBlock(nn.Module):
    def __init__(self, fin: int, fout: int, label_channels: int, *, norm: str = "batch", hidden: int = 128,
                 spectral: bool = True, act: str = "lrelu", noise: bool = False, z_dim: int = 0):
        super().__init__()
        fmid = min(fin, fout)
        self.learned_shortcut = fin != fout
        self.conv_0 = maybe_spectral(nn.Conv2d(fin, fmid, 3, padding=1), spectral)
        self.conv_1 = maybe_spectral(nn.Conv2d(fmid, fout, 3, padding=1), spectral)
        self.norm_0 = SPADE(fin, label_channels, hidden=hidden, norm=norm)
        self.norm_1 = SPADE(fmid, label_channels, hidden=hidden, norm=norm)
        if self.learned_shortcut:
            self.conv_s = maybe_spectral(nn.Conv2d(fin, fout, 1, bias=False), spectral)
            self.norm_s = SPADE(fin, label_channels, hidden=hidden, norm=norm)
        # in place on SPADE's output, which no backward reads (its last op is an addition)
        self.act = activation(act, inplace=True)
        self.noise_0 = NoiseInjection(fmid) if noise else None
        self.noise_1 = NoiseInjection(fout) if noise else None
        self.style = nn.Linear(z_dim, 2 * fout) if z_dim else None

    def forward(self, x: torch.Tensor, label: torch.Tensor, z: torch.Tensor | None = None,
                noise_source=None) -> torch.Tensor:
        label = resized(label, x.shape[2:])  # once for the block's two or three SPADE layers
        shortcut = self.conv_s(self.norm_s(x, label)) if self.learned_shortcut else x
        dx = self.conv_0(self.act(self.norm_0(x, label)))
        if self.noise_0 is not None:
            dx = self.noise_0(dx, noise_source)
        dx = self.conv_1(self.act(self.norm_1(dx, label)))
        if self.noise_1 is not None:
            dx = self.noise_1(dx, noise_source)
        out = shortcut + dx
        if self.style is not None and z is not None:
            scale, shift = self.style(z).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
            out = out * (1 + scale) + shift
        return out


class SPADEGenerator(nn.Module):
    def __init__(self, label_channels: int, image_size: int | Size, *, ngf: int = 64,
                 num_upsampling_layers: str = "normal", use_vae: bool = False, z_dim: int = 256,
                 norm: str = "batch", hidden: int = 128, spectral: bool = True, act: str = "lrelu",
                 noise: bool = False, block_styles: bool = False):
        super().__init__()
        self.mode = num_upsampling_layers
        self.use_vae = use_vae
        self.z_dim = z_dim
        self.sh, self.sw = start_grid(image_size, num_upsampling_layers)
        self.s = self.sh
        if min(self.sh, self.sw) < 1:
            raise ValueError(f"image size {image_size} is smaller than 2**{NUM_UP[num_upsampling_layers]}")
        nf = ngf
        if use_vae:
            self.fc = nn.Linear(z_dim, 16 * nf * self.sh * self.sw)
        else:
            self.fc = nn.Conv2d(label_channels, 16 * nf, 3, padding=1)

        def block(fin, fout):
            return SPADEResBlock(fin, fout, label_channels, norm=norm, hidden=hidden, spectral=spectral, act=act,
                                 noise=noise, z_dim=z_dim if block_styles else 0)

        names = [("head_0", 16, 16), ("G_middle_0", 16, 16), ("G_middle_1", 16, 16),
                 ("up_0", 16, 8), ("up_1", 8, 4), ("up_2", 4, 2), ("up_3", 2, 1)]
        self.blocks = nn.ModuleDict({n: block(a * nf, b * nf) for n, a, b in names})
        final = nf
        if num_upsampling_layers == "most":
            self.blocks["up_4"] = block(nf, nf // 2)
            final = nf // 2
        self.conv_img = nn.Conv2d(final, 3, 3, padding=1)

    def block_order(self) -> list[tuple[str, bool]]:
        """(block name, upsample before it) in forward order."""
        more = self.mode in ("more", "most")
        order = [("head_0", False), ("G_middle_0", True), ("G_middle_1", more),
                 ("up_0", True), ("up_1", True), ("up_2", True), ("up_3", True)]
        if self.mode == "most":
            order.append(("up_4", True))
        return order

    def start(self, label: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        if self.use_vae:
            if z is None:
                raise ValueError("the VAE generator needs a latent code z")
            return self.fc(z).view(z.shape[0], -1, self.sh, self.sw)
        return self.fc(F.interpolate(label, size=(self.sh, self.sw), mode="nearest"))

    def forward(self, label: torch.Tensor, z: torch.Tensor | None = None, *, z2: torch.Tensor | None = None,
                crossover: int | None = None, noise_source=None) -> torch.Tensor:
        """``label`` one-hot (N, C, H, W); ``z`` (N, z_dim) in VAE mode. With ``z2`` and
        ``crossover`` k, blocks from the k-th on read ``z2`` (style mixing; needs block styles)."""
        x = self.start(label, z)
        for i, (name, up) in enumerate(self.block_order()):
            if up:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            code = z2 if (z2 is not None and crossover is not None and i >= crossover) else z
            x = self.blocks[name](x, label, code, noise_source)
        x = self.conv_img(F.leaky_relu(x, 0.2))
        return torch.tanh(x)

    def num_blocks(self) -> int:
        return len(self.block_order())
