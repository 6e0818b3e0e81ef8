"""pix2pixHD's objective: a multi-scale GAN loss (LSGAN by default), feature matching, VGG.

As the official code:

- GAN loss, summed (not averaged) over the ``num_D`` scales, each the mean over its patch
  grid: LSGAN (official default) ``mean((D - target)^2)`` with target 1 (real) or 0
  (fake); ``vanilla`` (official ``no_lsgan``): binary cross-entropy of the logits; ``hinge``
  (not in the official code, offered as an option): D ``relu(1 - D(real))``,
  ``relu(1 + D(fake))``, G ``-D(fake)``. D's loss is half the sum of its real and fake terms.
- feature matching: for every scale and every D layer but the output, L1 between the
  features of the fake and of the real pair (real detached), weighted
  ``4 / (n_layers_D + 1)`` per layer and ``1 / num_D`` per scale, times ``lambda_feat`` (10).
- VGG loss: SPADE's (the same in both official codes): L1 between VGG19 features at relu1_1 ...
  relu5_1 weighted 1/32 ... 1, images in [-1, 1], times ``lambda_vgg`` (10).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gan_term(logits: torch.Tensor, real: bool, mode: str, *, for_generator: bool = False) -> torch.Tensor:
    """The loss of one scale's patch logits against ``real`` (True: should be judged real)."""
    if mode == "lsgan":
        return F.mse_loss(logits, torch.full_like(logits, 1.0 if real else 0.0))
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, 1.0 if real else 0.0))
    if mode == "hinge":
        if for_generator:
            return -logits.mean()
        return F.relu(1 - logits).mean() if real else F.relu(1 + logits).mean()
    raise ValueError(f"unknown gan_mode {mode!r}; use lsgan, vanilla or hinge")


def gan_loss(outputs: list[list[torch.Tensor]], real: bool, mode: str, *, for_generator: bool = False) -> torch.Tensor:
    """Sum over the scales of :func:`gan_term` on each scale's last output (its logits)."""
    return sum(gan_term(scale[-1], real, mode, for_generator=for_generator) for scale in outputs)


def feature_matching_loss(feats_fake: list[list[torch.Tensor]], feats_real: list[list[torch.Tensor]],
                          n_layers_D: int) -> torch.Tensor:
    """sum over scales and inner layers of ``4 / (n_layers_D + 1) / num_D * L1(fake, real detached)``."""
    weight = 4.0 / (n_layers_D + 1) / len(feats_fake)
    total = 0.0
    for fake, real in zip(feats_fake, feats_real):
        for f, r in zip(fake[:-1], real[:-1]):
            total = total + weight * F.l1_loss(f, r.detach())
    return total
