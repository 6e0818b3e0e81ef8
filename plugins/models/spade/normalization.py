"""SPADE: spatially-adaptive (de)normalization.

From "Semantic Image Synthesis with Spatially-Adaptive Normalization" (SPADE, also
called GauGAN). A normalization layer whose scale and shift are not one learned number
per channel but a map predicted from the label map, so the layout reaches every layer
of the generator instead of being washed away by normalization:

1. normalize the activation ``x`` without learned parameters: batch norm (the
   official default; the harness may convert it to synchronized batch norm with
   ``torch.nn.SyncBatchNorm.convert_sync_batchnorm`` under multi-GPU, as the official
   code does) or instance norm (option);
2. resize the one-hot label map to ``x``'s height and width with nearest neighbour;
3. a shared 3x3 conv (``hidden`` = 128 channels) + ReLU, then two 3x3 convs predict
   ``gamma`` and ``beta``, one value per channel and pixel;
4. ``out = normalized * (1 + gamma) + beta``.

The two convs of step 3 run as one conv with both weights stacked (2C output channels): the
same function, one pass over the hidden activation instead of two. The parameters stay two
layers (``gamma``, ``beta``: the official ``mlp_gamma`` / ``mlp_beta``), so every checkpoint,
bench's and the official code's, loads as it is.

The label map is resized once per residual block (its two or three SPADE layers share the size;
the official code resizes it in each layer): a map already at ``x``'s size is used as it is.

Step 4 follows the official code: the paper writes ``gamma * normalized + beta``, the
code adds 1 to gamma so that a freshly initialised layer (gamma close to 0) starts as
the identity on the normalized activation instead of zeroing it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def param_free_norm(kind: str, channels: int) -> nn.Module:
    """Normalization without learned scale and shift: ``batch`` (running statistics) or ``instance``."""
    if kind == "batch":
        return nn.BatchNorm2d(channels, affine=False)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    raise ValueError(f"unknown parameter-free norm {kind!r}; use 'batch' or 'instance'")


def resized(label: torch.Tensor, size) -> torch.Tensor:
    """``label`` at ``size`` (nearest neighbour, as the official code), itself when it is that size already."""
    if tuple(label.shape[2:]) == tuple(size):
        return label
    return F.interpolate(label, size=tuple(size), mode="nearest")


class SPADE(nn.Module):
    """``norm(x) * (1 + gamma(m)) + beta(m)`` with ``gamma``, ``beta`` predicted from the label map ``m``."""

    def __init__(self, channels: int, label_channels: int, *, hidden: int = 128, kernel: int = 3,
                 norm: str = "batch"):
        super().__init__()
        pad = kernel // 2
        self.param_free_norm = param_free_norm(norm, channels)
        self.shared = nn.Sequential(nn.Conv2d(label_channels, hidden, kernel, padding=pad), nn.ReLU())
        self.gamma = nn.Conv2d(hidden, channels, kernel, padding=pad)
        self.beta = nn.Conv2d(hidden, channels, kernel, padding=pad)

    def modulation(self, x: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(gamma, beta), each (N, C, H, W) at ``x``'s size, from one conv with both layers' weights."""
        m = resized(label, x.shape[2:])
        hidden = self.shared(m)
        weight = torch.cat([self.gamma.weight, self.beta.weight])
        bias = torch.cat([self.gamma.bias, self.beta.bias])
        return F.conv2d(hidden, weight, bias, padding=self.gamma.padding).chunk(2, dim=1)

    def forward(self, x: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        normalized = self.param_free_norm(x)
        gamma, beta = self.modulation(x, label)
        return normalized * (1 + gamma) + beta
