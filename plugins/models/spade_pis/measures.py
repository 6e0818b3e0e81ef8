"""The numbers spade-pis measures while generating: style match, diversity and stage timings.

- ``STYLE``: how close the colours of the output are to those of its style photo. Each
  image's pixel colours (RGB in [0, 1]) are summarised by a Gaussian (mean, 3x3
  covariance); the value is the 2-Wasserstein distance between the two Gaussians,
  ``sqrt(|m1 - m2|^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2))``, in colour units,
  averaged over the test images (first stylization). Lower is better.
- ``STYLE_SPADE``: the same distance for SPADE's own output against the same style photo:
  where the stylization started from (not ranked).
- ``DIVERSITY``: mean absolute pixel difference (in [0, 1]) between the stylizations of the
  same label map with different style photos, averaged over pairs and images (not ranked;
  needs ``num_styles >= 2``).
- ``T_SPADE_MS`` (per image), ``T_PWCT_MS`` and ``T_SMOOTH_MS`` (per stylization): wall
  time of each stage in milliseconds on the run's device (not ranked).
"""

from __future__ import annotations

import itertools
import time
from contextlib import contextmanager

import torch


def colour_gaussian(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (3,) and covariance (3,3) of the pixel colours of a (3,H,W) image."""
    pixels = image.reshape(3, -1).double()
    mean = pixels.mean(dim=1)
    centred = pixels - mean[:, None]
    return mean, centred @ centred.T / max(1, pixels.shape[1] - 1)


def _psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return vectors @ torch.diag(values.clamp(min=0).sqrt()) @ vectors.T


def colour_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """2-Wasserstein distance between the colour Gaussians of two (3,H,W) images in [0, 1]."""
    (ma, sa), (mb, sb) = colour_gaussian(a), colour_gaussian(b)
    root = _psd_sqrt(sa)
    cross = _psd_sqrt(root @ sb @ root)
    squared = float((ma - mb).square().sum() + torch.trace(sa + sb - 2 * cross))
    return max(squared, 0.0) ** 0.5


def diversity(images: list[torch.Tensor]) -> float | None:
    """Mean absolute difference over all pairs of (3,H,W) images in [0, 1]; None for fewer than 2."""
    pairs = list(itertools.combinations(images, 2))
    if not pairs:
        return None
    return sum(float((x - y).abs().mean()) for x, y in pairs) / len(pairs)


class Tally:
    """Running sums of the measured numbers over the test split."""

    def __init__(self):
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, name: str, value: float | None, count: int = 1) -> None:
        if value is None:
            return
        self.sums[name] = self.sums.get(name, 0.0) + value
        self.counts[name] = self.counts.get(name, 0) + count

    def mean(self, name: str) -> float | None:
        return self.sums[name] / self.counts[name] if self.counts.get(name) else None

    @contextmanager
    def timed(self, name: str, count: int = 1, device: torch.device | None = None):
        """Add the wall time of the block in ms, counted as ``count`` items."""
        if device is not None and device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        yield
        if device is not None and device.type == "cuda":
            torch.cuda.synchronize(device)
        self.add(name, (time.perf_counter() - t0) * 1000, count)
