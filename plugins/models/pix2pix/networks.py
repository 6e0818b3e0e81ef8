"""The pix2pix networks: a U-Net generator and a PatchGAN discriminator.

Both follow "Image-to-Image Translation with Conditional Adversarial Networks"
(pix2pix) and the layer layout of its official code:

- the generator halves the resolution ``num_downs = log2(image_size)`` times,
  down to 1x1 (8 times at 256 px, as in the official ``unet_256``), with encoder
  widths ngf, 2ngf, 4ngf, 8ngf, 8ngf, ...; each decoder level reads the decoder
  output below it concatenated with the encoder output at its own resolution;
- the discriminator is the 70x70 PatchGAN: 4x4 convolutions, one real/fake
  logit per overlapping patch of the pair concat(condition, image).
"""

from __future__ import annotations

from functools import partial

import torch
from bench_plugins.models.unet import init_weights, patch_grid_size, unet_widths
from torch import nn

__all__ = ["Down", "PatchDiscriminator", "Up", "UnetGenerator", "init_weights", "norm_layer", "patch_grid_size",
           "unet_widths"]


def norm_layer(kind: str) -> type[nn.Module] | partial:
    """BatchNorm (learned scale and shift) or InstanceNorm (none), as in the official code."""
    if kind == "batch":
        return nn.BatchNorm2d
    if kind == "instance":
        return partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    raise ValueError(f"unknown norm {kind!r}; use 'batch' or 'instance'")


class Down(nn.Module):
    """Encoder step: [LeakyReLU 0.2] -> 4x4 stride-2 conv -> [norm]."""

    def __init__(self, in_ch: int, out_ch: int, norm, *, activation: bool, normalize: bool,
                 bias: bool):
        super().__init__()
        layers: list[nn.Module] = [nn.LeakyReLU(0.2)] if activation else []
        layers.append(nn.Conv2d(in_ch, out_ch, 4, stride=2, padding=1, bias=bias))
        if normalize:
            layers.append(norm(out_ch))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Up(nn.Module):
    """Decoder step: ReLU -> 4x4 stride-2 transposed conv -> norm -> [dropout 0.5]."""

    def __init__(self, in_ch: int, out_ch: int, norm, *, dropout: bool, bias: bool):
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReLU(),
            nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1, bias=bias),
            norm(out_ch),
        ]
        if dropout:
            layers.append(nn.Dropout(0.5))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class UnetGenerator(nn.Module):
    """U-Net: encoder to 1x1, decoder back, skip connections between equal resolutions.

    Level ``i`` of the encoder maps width ``w[i-1]`` to ``w[i]`` (``w[-1]`` is the
    input), with no activation before the first conv and no norm on the first and
    the innermost (1x1) conv. The decoder mirrors it: the innermost transposed conv
    reads the 1x1 code, every other one reads [decoder output, encoder skip] of
    width ``2 * w[i]``; the last maps ``2 * w[0]`` to the output channels and ends
    in tanh (its conv keeps a bias, as in the official code).

    Dropout 0.5 follows the official ``use_dropout``: it sits in the decoder steps
    below the innermost one whose input and output widths are both 8ngf (3 steps at
    256 px, 1 at 64 px, none at 32 px). The paper's text says "the first 3 decoder
    layers"; the official code leaves the innermost one out, and so do we.
    """

    def __init__(self, in_channels: int, out_channels: int, image_size: int, ngf: int = 64,
                 norm: str = "batch", use_dropout: bool = True, num_downs: int | None = None):
        super().__init__()
        # num_downs None: down to 1 px on the shorter side; a number: that many halvings (the
        # official unet_256 / unet_128 are 8 / 7 whatever the image size)
        if num_downs is None:
            widths = unet_widths(image_size, ngf)
        else:
            widths = [ngf * min(2 ** i, 8) for i in range(num_downs)]
        depth = len(widths)
        Norm = norm_layer(norm)
        bias = norm == "instance"  # a conv followed by BatchNorm needs no bias
        self.num_downs = depth

        self.downs = nn.ModuleList()
        for i, width in enumerate(widths):
            in_ch = in_channels if i == 0 else widths[i - 1]
            innermost = i == depth - 1
            self.downs.append(Down(in_ch, width, Norm, activation=i > 0,
                                   normalize=0 < i and not innermost, bias=bias))

        # self.ups[i] produces the resolution of encoder level i - 1, innermost first.
        self.ups = nn.ModuleList()
        for i in reversed(range(1, depth)):
            in_ch = widths[i] if i == depth - 1 else 2 * widths[i]
            out_ch = widths[i - 1]
            dropout = use_dropout and i < depth - 1 and widths[i] == widths[i - 1] == 8 * ngf
            self.ups.append(Up(in_ch, out_ch, Norm, dropout=dropout, bias=bias))
        self.out = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(2 * widths[0], out_channels, 4, stride=2, padding=1),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for down in self.downs:
            x = down(x)
            skips.append(x)
        skips.pop()  # the 1x1 code itself is not a skip
        for up in self.ups:
            x = torch.cat([up(x), skips.pop()], dim=1)
        return self.out(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN: a grid of real/fake logits, one per overlapping image patch.

    ``n_layers`` stride-2 convs (the first without norm), then one stride-1 conv
    with norm and a stride-1 conv to one channel; LeakyReLU 0.2 between them and
    widths ndf * 2**k capped at 8ndf. ``n_layers=3`` sees 70x70 patches and gives a
    30x30 grid at 256 px. The input is concat(condition, image) along channels.
    """

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        Norm = norm_layer(norm)
        bias = norm == "instance"
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1),
                                   nn.LeakyReLU(0.2)]
        width = ndf
        for k in range(1, n_layers + 1):
            stride = 2 if k < n_layers else 1
            next_width = ndf * min(2 ** k, 8)
            layers += [nn.Conv2d(width, next_width, 4, stride=stride, padding=1, bias=bias),
                       Norm(next_width), nn.LeakyReLU(0.2)]
            width = next_width
        layers.append(nn.Conv2d(width, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, condition: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.model(torch.cat([condition, image], dim=1))
