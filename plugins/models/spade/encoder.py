"""The image encoder of SPADE's VAE mode: an image -> (mu, logvar) of a 256-d Gaussian.

Strided 3x3 convs (stride 2) with spectral norm and instance norm and LeakyReLU 0.2,
widths ndf, 2ndf, 4ndf, 8ndf, 8ndf, 8ndf, down to a 4x4 grid, then two linear layers to
``mu`` and ``logvar``. The official code resizes every image to 256 px and uses six
convs; here the encoder reads the training size and uses ``log2(size / 4)`` convs,
which is the same network at 256 px and a shallower one at 64 px.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import maybe_spectral


def encoder_depth(image_size: int) -> int:
    """Stride-2 convs from ``image_size`` down to 4x4."""
    return max(1, (image_size // 4).bit_length() - 1)


class ConvEncoder(nn.Module):
    def __init__(self, image_size: int, *, ndf: int = 64, z_dim: int = 256, spectral: bool = True):
        super().__init__()
        #: the square side it reads; other inputs are first resized to it (bilinear, as the official
        #: encoder resizes to 256x256)
        self.side = image_size
        layers, cin = [], 3
        for i in range(encoder_depth(image_size)):
            cout = ndf * min(2 ** i, 8)
            layers.append(nn.Sequential(maybe_spectral(nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False),
                                                       spectral),
                                        nn.InstanceNorm2d(cout, affine=False)))
            cin = cout
        self.layers = nn.ModuleList(layers)
        self.grid = image_size // 2 ** len(layers)
        self.fc_mu = nn.Linear(cin * self.grid * self.grid, z_dim)
        self.fc_var = nn.Linear(cin * self.grid * self.grid, z_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[-2:] != (self.side, self.side):
            x = F.interpolate(x, size=(self.side, self.side), mode="bilinear", align_corners=False)
        for i, layer in enumerate(self.layers):
            x = layer(x if i == 0 else F.leaky_relu(x, 0.2))
        x = F.leaky_relu(x, 0.2).flatten(1)
        return self.fc_mu(x), self.fc_var(x)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``z = mu + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)``."""
    std = torch.exp(0.5 * logvar)
    return mu + std * torch.randn_like(std)
