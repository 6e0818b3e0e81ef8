"""SPADE's discriminator: multi-scale PatchGANs on concat(label map, image), returning their features.

``num_D`` (2) PatchGANs of the pix2pixHD kind, each on the pair downsampled once more
(3x3 average pooling, stride 2, padding not counted) than the one before. Each has
``n_layers`` (4) 4x4 convs with padding 2 (widths ndf, 2ndf, 4ndf, 8ndf capped at 512;
stride 2 except the last, stride 1) and LeakyReLU 0.2, then a 4x4 conv to one logit
per patch. Every conv but the first and the output one is spectrally normalized and
followed by instance norm (the official ``spectralinstance``). All intermediate outputs
are returned for the feature-matching loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import maybe_spectral


class NLayerDiscriminator(nn.Module):
    def __init__(self, in_channels: int, *, ndf: int = 64, n_layers: int = 4, spectral: bool = True,
                 norm: bool = True):
        super().__init__()
        seq = [nn.Sequential(nn.Conv2d(in_channels, ndf, 4, stride=2, padding=2), nn.LeakyReLU(0.2))]
        nf = ndf
        for n in range(1, n_layers):
            prev, nf = nf, min(nf * 2, 512)
            stride = 1 if n == n_layers - 1 else 2
            conv = maybe_spectral(nn.Conv2d(prev, nf, 4, stride=stride, padding=2, bias=not norm), spectral)
            seq.append(nn.Sequential(conv, *( [nn.InstanceNorm2d(nf, affine=False)] if norm else []),
                                     nn.LeakyReLU(0.2)))
        seq.append(nn.Sequential(nn.Conv2d(nf, 1, 4, stride=1, padding=2)))
        self.layers = nn.ModuleList(seq)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for layer in self.layers:
            x = layer(x)
            outs.append(x)
        return outs  # the last one is the patch logits


class MultiscaleDiscriminator(nn.Module):
    def __init__(self, in_channels: int, *, num_D: int = 2, ndf: int = 64, n_layers: int = 4,
                 spectral: bool = True, norm: bool = True):
        super().__init__()
        self.discriminators = nn.ModuleList(
            NLayerDiscriminator(in_channels, ndf=ndf, n_layers=n_layers, spectral=spectral, norm=norm)
            for _ in range(num_D))

    def forward(self, label: torch.Tensor, image: torch.Tensor) -> list[list[torch.Tensor]]:
        """Per scale, the features of every layer (the last is the logits)."""
        x = torch.cat([label, image], dim=1)
        results = []
        for i, d in enumerate(self.discriminators):
            if i > 0:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            results.append(d(x))
        return results
