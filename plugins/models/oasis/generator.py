"""The OASIS generator: SPADE residual blocks conditioned on the label map with 3D noise concatenated.

Layout of the official code (``ngf`` = 64, 6 blocks):

- a noise vector z of ``z_dim`` (64) per image, repeated over every pixel and
  concatenated before the label channels: "3D noise", so one label map gives many
  images (the paper also allows a spatially varying z; the official code repeats one
  vector, as here);
- start grid ``(height, width) / 2**(n - 1)``, the label+noise map resized to it
  (nearest) and a 3x3 conv to ``16 * ngf`` channels;
- ``n`` SPADE residual blocks (the SPADE family's :class:`SPADEResBlock`, reading the
  label+noise map, LeakyReLU 0.2, spectral norm on the convs, parameter-free batch norm)
  of widths 16, 16, 16, 8, 4, 2, 1 x ngf (the last ``n + 1`` of them), a 2x nearest
  upsampling after each but the last;
- LeakyReLU 0.2, a 3x3 conv to RGB and tanh.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from bench_plugins.models.spade.generator import SPADEResBlock
from torch import nn

from benchmark import Size

WIDTHS = (16, 16, 16, 8, 4, 2, 1)


def start_grid(size: int | Size, num_res_blocks: int) -> tuple[int, int]:
    height, width = Size.of(size)
    return height // 2 ** (num_res_blocks - 1), width // 2 ** (num_res_blocks - 1)


class OasisGenerator(nn.Module):
    def __init__(self, label_channels: int, image_size: int | Size, *, ngf: int = 64, num_res_blocks: int = 6,
                 z_dim: int = 64, norm: str = "batch", hidden: int = 128, spectral: bool = True):
        super().__init__()
        self.z_dim = z_dim
        self.grid = start_grid(image_size, num_res_blocks)
        widths = [w * ngf for w in WIDTHS[-(num_res_blocks + 1):]]
        cond = label_channels + z_dim
        self.fc = nn.Conv2d(cond, widths[0], 3, padding=1)
        self.body = nn.ModuleList(
            SPADEResBlock(fin, fout, cond, norm=norm, hidden=hidden, spectral=spectral, act="lrelu")
            for fin, fout in zip(widths[:-1], widths[1:]))
        self.conv_img = nn.Conv2d(widths[-1], 3, 3, padding=1)

    def forward(self, label: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """``label`` (N,C,H,W); ``z`` (N, z_dim), drawn from N(0, I) when None."""
        seg = label
        if self.z_dim:
            if z is None:
                z = torch.randn(label.shape[0], self.z_dim, device=label.device, dtype=label.dtype)
            noise = z.to(label.dtype)[:, :, None, None].expand(-1, -1, *label.shape[2:])
            seg = torch.cat([noise, label], dim=1)
        x = self.fc(F.interpolate(seg, size=self.grid, mode="nearest"))
        for i, block in enumerate(self.body):
            x = block(x, seg)
            if i < len(self.body) - 1:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
        return torch.tanh(self.conv_img(F.leaky_relu(x, 0.2)))
