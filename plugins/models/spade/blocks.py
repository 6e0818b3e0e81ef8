"""Building blocks shared by SPADE's networks: spectral norm, activations, init, noise injection."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def maybe_spectral(layer: nn.Module, enabled: bool) -> nn.Module:
    """``layer`` with spectral normalization of its weight (one power iteration per training forward)."""
    return spectral_norm(layer) if enabled else layer


def activation(kind: str, inplace: bool = False) -> nn.Module:
    """``lrelu``: LeakyReLU 0.2 (the official code's blocks and the Gaussian GAN report); ``relu``: the
    paper's figure. ``inplace`` overwrites its input (for an input no backward needs)."""
    if kind == "lrelu":
        return nn.LeakyReLU(0.2, inplace=inplace)
    if kind == "relu":
        return nn.ReLU(inplace=inplace)
    raise ValueError(f"unknown activation {kind!r}; use 'lrelu' or 'relu'")


def init_xavier(module: nn.Module, gain: float = 0.02) -> None:
    """The official init: Xavier-normal weights with gain 0.02 for convs and linears, zero biases.

    Spectrally normalized layers are initialised through their original weight. Modules
    that hold their own init (``NoiseInjection``) are left alone.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if hasattr(m, "parametrizations") and "weight" in m.parametrizations:
                nn.init.xavier_normal_(m.parametrizations.weight.original, gain=gain)
            else:
                nn.init.xavier_normal_(m.weight, gain=gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class NoiseInjection(nn.Module):
    """``x + weight[c] * noise`` with per-pixel Gaussian noise shared over channels and a learned
    per-channel weight initialised to zero (the noise inputs of "A Style-Based Generator
    Architecture for Generative Adversarial Networks"): at init the block is unchanged."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor, noise_source=None) -> torch.Tensor:
        """``noise_source(shape)`` draws the (N, 1, H, W) noise (seeded per image at generation);
        default: the global RNG."""
        n, _, h, w = x.shape
        if noise_source is None:
            noise = torch.randn(n, 1, h, w, device=x.device, dtype=x.dtype)
        else:
            noise = noise_source((n, 1, h, w)).to(x.device, x.dtype)
        return x + self.weight.to(x.dtype) * noise


class PerImageNoise:
    """Draws noise and latent codes image by image from generators seeded with each image's index,
    so that an image's output does not depend on the batch it is generated in."""

    def __init__(self, seeds: list[int]):
        self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]

    def __call__(self, shape) -> torch.Tensor:
        return torch.cat([torch.randn((1, *shape[1:]), generator=g) for g in self.generators])
