"""A reference for the official pix2pix ``UnetGenerator`` (pytorch-CycleGAN-and-pix2pix).

Written independently of bench's U-Net and of the official source, from the
published layout: one skip-connection level per halving, each a module whose
``model`` Sequential holds, in this order,

- outermost: conv(input_nc -> ngf), the next level, ReLU, conv^T(2 ngf -> output_nc,
  with bias), tanh; it returns the Sequential's output;
- middle: LeakyReLU(0.2, in place), conv, norm, the next level, ReLU, conv^T, norm,
  [Dropout(0.5) on the 8ngf -> 8ngf levels below the innermost]; it returns
  ``cat([input, output])`` -- the input as the in-place LeakyReLU left it;
- innermost: LeakyReLU(0.2, in place), conv to the 1x1 code, ReLU, conv^T, norm.

Convs carry a bias only with InstanceNorm (affine-free); with BatchNorm only the
last conv^T has one. Its ``state_dict`` keys are those of the official files
(``model.model.0.weight``, ``model.model.1.model.1.weight``, ...).
"""

from __future__ import annotations

import torch
from torch import nn


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class Level(nn.Module):
    def __init__(self, outer: int, inner: int, *, input_nc: int | None = None, child: nn.Module | None = None,
                 role: str = "middle", norm: str = "batch", dropout: bool = False):
        super().__init__()
        bias = norm == "instance"
        source = outer if input_nc is None else input_nc
        self.returns_concat = role != "outermost"
        down = nn.Conv2d(source, inner, 4, 2, 1, bias=bias)
        if role == "outermost":
            parts = [down, child, nn.ReLU(True), nn.ConvTranspose2d(2 * inner, outer, 4, 2, 1), nn.Tanh()]
        elif role == "innermost":
            parts = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True), nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=bias),
                     _norm(norm, outer)]
        else:
            parts = [nn.LeakyReLU(0.2, True), down, _norm(norm, inner), child, nn.ReLU(True),
                     nn.ConvTranspose2d(2 * inner, outer, 4, 2, 1, bias=bias), _norm(norm, outer)]
            if dropout:
                parts.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*parts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.model(x)  # the in-place LeakyReLU has rewritten x by now
        return torch.cat([x, y], 1) if self.returns_concat else y


class ReferenceUnet(nn.Module):
    """``num_downs`` halvings (8: unet_256, 7: unet_128), widths ngf, 2ngf, 4ngf, 8ngf, 8ngf, ..."""

    def __init__(self, input_nc: int, output_nc: int, num_downs: int, ngf: int = 64, norm: str = "batch",
                 dropout: bool = True):
        super().__init__()
        level = Level(8 * ngf, 8 * ngf, role="innermost", norm=norm)
        for _ in range(num_downs - 5):
            level = Level(8 * ngf, 8 * ngf, child=level, norm=norm, dropout=dropout)
        for outer in (4 * ngf, 2 * ngf, ngf):
            level = Level(outer, 2 * outer, child=level, norm=norm)
        self.model = Level(output_nc, ngf, input_nc=input_nc, child=level, role="outermost", norm=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def randomise(net: nn.Module, seed: int) -> None:
    """Every parameter random, biases and norm shifts too (so that a misplaced one shows), convs scaled
    by their fan-in so that activations stay O(1) and tanh does not saturate."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                taps = 16 if isinstance(m, nn.Conv2d) else 4  # a stride-2 conv^T output sees 2x2 of each 4x4
                fan_in = m.in_channels * taps
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) / fan_in ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
