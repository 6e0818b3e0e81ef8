"""Whitening and colouring transforms of deep features, whole-image and per class region.

From "Universal Style Transfer via Feature Transforms" (WCT), as used by PhotoWCT in
"A Closed-form Solution to Photorealistic Image Stylization":

- whitening: centre the content features ``f`` (C x N, one column per pixel) and multiply
  by ``E D^-1/2 E^T`` where ``E D E^T`` is the eigen-decomposition of their covariance;
  the result has identity covariance on the kept eigen-directions.
- colouring: multiply the whitened features by ``E_s D_s^1/2 E_s^T`` of the style
  features' covariance and add the style mean; the result has the style's covariance.

Eigenvalues below ``eig_eps`` (relative to the largest) are dropped, so a covariance of
low rank (few pixels, flat regions) never divides by zero. The computation runs in
float64: the eigen-decomposition of a nearly singular covariance is not stable in float32.

Label-aware WCT transfers each class region of the content onto the same class region of
the style. A class is skipped (its content features are left as they are) when it is
missing from either image, covers fewer than ``min_pixels`` feature pixels in either, or
when one region is more than ``max_ratio`` times larger than the other. Pixels of no
transferred class keep their content features.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

#: default thresholds of label-aware WCT (feature pixels at the level being transferred)
MIN_PIXELS = 10
MAX_RATIO = 100.0
EIG_EPS = 1e-5


def covariance(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (C,1) and unbiased covariance (C,C) of features (C,N)."""
    mean = features.mean(dim=1, keepdim=True)
    centred = features - mean
    return mean, centred @ centred.T / max(1, features.shape[1] - 1)


def _eig(cov: torch.Tensor, eig_eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues and eigenvectors of a symmetric matrix, without the tiny eigenvalues."""
    values, vectors = torch.linalg.eigh(cov)
    keep = values > eig_eps * max(float(values.max()), 1e-30)
    return values[keep], vectors[:, keep]


def whiten(features: torch.Tensor, eig_eps: float = EIG_EPS) -> torch.Tensor:
    """Centred content features (C,N) with identity covariance on their kept eigen-directions."""
    f = features.double()
    mean, cov = covariance(f)
    values, vectors = _eig(cov, eig_eps)
    return (vectors @ torch.diag(values.rsqrt()) @ vectors.T @ (f - mean)).to(features.dtype)


def colour(whitened: torch.Tensor, style: torch.Tensor, eig_eps: float = EIG_EPS) -> torch.Tensor:
    """Whitened features (C,N) given the mean and covariance of the style features (C,M)."""
    s = style.double()
    mean, cov = covariance(s)
    values, vectors = _eig(cov, eig_eps)
    out = vectors @ torch.diag(values.sqrt()) @ vectors.T @ whitened.double() + mean
    return out.to(whitened.dtype)


def wct(content: torch.Tensor, style: torch.Tensor, eig_eps: float = EIG_EPS) -> torch.Tensor:
    """Content features (C,N) carrying the mean and covariance of the style features (C,M)."""
    return colour(whiten(content, eig_eps), style, eig_eps)


@dataclass(frozen=True)
class RegionDecision:
    """What label-aware WCT did with one class: ``transferred`` or why it was skipped."""

    class_id: int
    content_pixels: int
    style_pixels: int
    action: str


def region_decision(class_id: int, content_pixels: int, style_pixels: int, min_pixels: int = MIN_PIXELS,
                    max_ratio: float = MAX_RATIO) -> RegionDecision:
    if content_pixels == 0 or style_pixels == 0:
        action = "skipped: missing from " + ("the content" if content_pixels == 0 else "the style")
    elif min(content_pixels, style_pixels) < min_pixels:
        action = f"skipped: fewer than {min_pixels} pixels"
    elif max(content_pixels, style_pixels) > max_ratio * min(content_pixels, style_pixels):
        action = f"skipped: sizes differ more than {max_ratio:g} times"
    else:
        action = "transferred"
    return RegionDecision(class_id, content_pixels, style_pixels, action)


def labels_at(label: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A label map (H,W) resized with nearest neighbour to a feature map's (h,w)."""
    return F.interpolate(label[None, None].float(), size=size, mode="nearest")[0, 0].long()


def label_wct(content: torch.Tensor, style: torch.Tensor, content_label: torch.Tensor | None,
              style_label: torch.Tensor | None, *, min_pixels: int = MIN_PIXELS, max_ratio: float = MAX_RATIO,
              eig_eps: float = EIG_EPS, ignore_index: int | None = None) -> tuple[torch.Tensor, list[RegionDecision]]:
    """WCT of feature maps (C,H,W) and (C,H',W'), per class region when both label maps are given.

    Label maps may have any size; they are resized to the feature maps with nearest
    neighbour. Without labels the whole image is transferred. Returns the new content
    features and one :class:`RegionDecision` per class present in either image.
    """
    c, h, w = content.shape
    cf = content.reshape(c, -1)
    sf = style.reshape(c, -1)
    if content_label is None or style_label is None:
        return wct(cf, sf, eig_eps).reshape(c, h, w), []
    cl = labels_at(content_label, (h, w)).reshape(-1)
    sl = labels_at(style_label, style.shape[1:]).reshape(-1)
    out = cf.clone()
    decisions = []
    for k in torch.unique(torch.cat([cl, sl])).tolist():
        if ignore_index is not None and k == ignore_index:
            continue
        cmask, smask = cl == k, sl == k
        decision = region_decision(k, int(cmask.sum()), int(smask.sum()), min_pixels, max_ratio)
        decisions.append(decision)
        if decision.action == "transferred":
            out[:, cmask] = wct(cf[:, cmask], sf[:, smask], eig_eps)
    return out.reshape(c, h, w), decisions
