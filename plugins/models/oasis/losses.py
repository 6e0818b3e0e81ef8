"""OASIS's objective: the (N+1)-class segmentation loss of D with class balancing, and LabelMix.

From "You Only Need Adversarial Supervision for Semantic Image Synthesis" (OASIS):

- D labels every pixel with one of N + 1 classes: 0 is "fake", 1 ... N the real classes.
  On a real image the target of a pixel is its class + 1, on a generated one 0; G's
  adversarial loss is D's real loss on the generated image (its pixels should be
  recognised as their classes).
- class balancing: the per-pixel cross-entropy of the real targets is weighted by
  ``numel(onehot) / (present classes * N) / count(class)`` (count over the batch), so
  rare classes weigh as much as frequent ones; the dontcare channel gets weight 0. The
  fake term is a plain mean.
- LabelMix: a per-class coin mixes the real and the generated image into one, with a
  mask ``M``; D's logits on the mix should equal ``M * D(real) + (1 - M) * D(fake)``
  (mean squared error), times ``lambda_labelmix``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def class_weights(onehot: torch.Tensor, *, dontcare_first: bool) -> torch.Tensor:
    """(N,H,W) weight of each pixel's class: inverse class frequency over the batch, normalised."""
    counts = onehot.sum(dim=(0, 2, 3))
    if dontcare_first:
        counts = counts.clone()
        counts[0] = 0
    present = (counts > 0).sum().clamp(min=1)
    coefficients = torch.where(counts > 0, onehot.numel() / (present * onehot.shape[1] * counts.clamp(min=1)),
                               torch.zeros_like(counts))
    return coefficients[onehot.argmax(dim=1)]


def n_plus_one_targets(onehot: torch.Tensor, real: bool) -> torch.Tensor:
    """(N,H,W) int64: class + 1 on a real image, 0 ("fake") on a generated one."""
    classes = onehot.argmax(dim=1)
    return classes + 1 if real else torch.zeros_like(classes)


def segmentation_loss(logits: torch.Tensor, onehot: torch.Tensor, *, real: bool, balance: bool,
                      dontcare_first: bool) -> torch.Tensor:
    """D's (N+1)-class cross-entropy; balanced by class frequency for real targets when ``balance``."""
    loss = F.cross_entropy(logits, n_plus_one_targets(onehot, real), reduction="none")
    if real and balance:
        return (loss * class_weights(onehot, dontcare_first=dontcare_first)).mean()
    return loss.mean()


def labelmix(onehot: torch.Tensor, fake: torch.Tensor, real: torch.Tensor,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(mixed image, mask (N,1,H,W)): each class present in the batch takes the real image with
    probability 1/2 (one coin per class), the generated one otherwise."""
    classes = onehot.argmax(dim=1, keepdim=True)
    coins = torch.randint(0, 2, (onehot.shape[1],), generator=generator).to(onehot.device, real.dtype)
    mask = coins[classes]
    return mask * real + (1 - mask) * fake, mask


def labelmix_loss(mask: torch.Tensor, logits_mixed: torch.Tensor, logits_fake: torch.Tensor,
                  logits_real: torch.Tensor) -> torch.Tensor:
    """MSE between D's logits on the mix and the same mix of its logits on real and fake."""
    return F.mse_loss(logits_mixed, mask * logits_real + (1 - mask) * logits_fake)
