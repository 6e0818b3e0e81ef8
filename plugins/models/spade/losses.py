"""SPADE's objective: hinge GAN loss, feature matching, VGG19 perceptual loss, KL divergence.

All follow the official code:

- hinge loss, averaged over the patch grid and over the ``num_D`` scales:
  D minimises ``mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))``, G minimises
  ``-mean(D(fake))``;
- feature matching: L1 between D's intermediate features of the fake and the real
  pair (real detached), every layer but the logits, summed over layers and averaged
  over scales, times ``lambda_feat`` (10);
- VGG loss: L1 between VGG19 features of fake and real (real detached) at relu1_1,
  relu2_1, relu3_1, relu4_1, relu5_1 with weights 1/32, 1/16, 1/8, 1/4, 1, times
  ``lambda_vgg`` (10). The official code feeds images in [-1, 1] to the ImageNet VGG
  without ImageNet normalisation (``vgg_input='raw'``); ``'imagenet'`` normalises;
- KL: ``-0.5 * sum(1 + logvar - mu^2 - exp(logvar))``, a sum over batch and
  dimensions (not a mean), times ``lambda_kld`` (0.05).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from bench_plugins.models import vgg19
from torch import nn

VGG_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)


def hinge_d_loss(logits_real: list[torch.Tensor], logits_fake: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(real term, fake term) of D's hinge loss, each averaged over scales."""
    real = sum(F.relu(1 - r).mean() for r in logits_real) / len(logits_real)
    fake = sum(F.relu(1 + f).mean() for f in logits_fake) / len(logits_fake)
    return real, fake


def hinge_g_loss(logits_fake: list[torch.Tensor]) -> torch.Tensor:
    return sum(-f.mean() for f in logits_fake) / len(logits_fake)


def feature_matching_loss(feats_fake: list[list[torch.Tensor]], feats_real: list[list[torch.Tensor]]) -> torch.Tensor:
    """Sum over intermediate layers, mean over scales, of L1(fake features, real features detached)."""
    total = 0.0
    for fake, real in zip(feats_fake, feats_real):
        for f, r in zip(fake[:-1], real[:-1]):
            total = total + F.l1_loss(f, r.detach())
    return total / len(feats_fake)


def kld_loss(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


class VGGLoss(nn.Module):
    """Weighted L1 between VGG19 features; the network is fixed (eval mode, no gradients to it)."""

    def __init__(self, net: nn.Sequential, vgg_input: str = "raw"):
        super().__init__()
        self.net = net
        self.vgg_input = vgg_input

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.vgg_input == "imagenet":
            x = vgg19.imagenet_normalize(x)
        return vgg19.slice_features(self.net, x, vgg19.PERCEPTUAL_LAYERS)

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            real_feats = self.features(real)
        fake_feats = self.features(fake)
        return sum(w * F.l1_loss(f, r) for w, f, r in zip(VGG_LAYER_WEIGHTS, fake_feats, real_feats))
