"""Sliding windows for the full-reference metrics: separable filters as matrix products.

Every window statistic that SSIM, UQI and VIF need (a local mean, a local mean of
squares or of products) is a *valid* correlation of an image plane with a separable
window: the same 1-D taps along the rows and along the columns, kept only where the
window lies wholly inside the image (no padding), optionally keeping every
``stride``-th output (VIF's downsampling).

A 1-D valid correlation of a line of ``n`` samples is a product with a banded matrix
of shape ``(n, outputs)`` whose column ``j`` holds the taps in rows ``j * stride`` to
``j * stride + k - 1``. Filtering a batch of planes (..., H, W) is then
``rows @ x @ cols``: two batched matrix products, which BLAS (CPU) and cuBLAS (GPU) run
several times faster than ``conv2d`` with a (k, k) or (1, k) kernel on CPU, and for
which the stride costs nothing. A banded matrix does ``n / k`` times more
multiplications than the taps need, so long lines are cut into overlapping blocks of
``BLOCK`` outputs (one small banded matrix shared by all blocks).

Windows here are *correlations* (no flip); every window used is symmetric, so this is
also the convolution ``scipy.signal.convolve2d(..., mode="valid")`` computes.
"""

from __future__ import annotations

import math

import torch

#: outputs per block when a line is long; blocks overlap by (taps - 1) samples
BLOCK = 128


def gaussian_taps(size: int, sigma: float, *, dtype=torch.float64, device=None) -> torch.Tensor:
    """1-D Gaussian taps summing to 1, centred on the middle of ``size`` samples.

    Their outer product is the normalised 2-D Gaussian window (exp(-(a^2 + b^2) / 2 sigma^2)
    separates into a row factor and a column factor, and the normalisation separates too).
    """
    coords = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    taps = torch.exp(-coords ** 2 / (2 * sigma ** 2))
    return taps / taps.sum()


def box_taps(size: int, *, dtype=torch.float64, device=None) -> torch.Tensor:
    """1-D box taps summing to 1: filtering with them gives window means."""
    return torch.full((size,), 1.0 / size, dtype=dtype, device=device)


def valid_length(n: int, size: int, stride: int = 1) -> int:
    """Outputs of a valid correlation of ``n`` samples with ``size`` taps, every ``stride``-th kept."""
    return 0 if n < size else math.ceil((n - size + 1) / stride)


def band_matrix(n: int, taps: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """(n, outputs) matrix M with ``line @ M`` the valid correlation of ``line`` with ``taps``."""
    size = taps.numel()
    outputs = valid_length(n, size, stride)
    matrix = torch.zeros(n, outputs, dtype=taps.dtype, device=taps.device)
    starts = torch.arange(outputs, device=taps.device) * stride
    rows = starts[:, None] + torch.arange(size, device=taps.device)[None]  # (outputs, size)
    matrix.T.scatter_(1, rows, taps.expand(outputs, size))
    return matrix


def filter_last(x: torch.Tensor, taps: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """Valid correlation of every line along the last axis of ``x`` with ``taps``, stride ``stride``."""
    n, size = x.shape[-1], taps.numel()
    outputs = valid_length(n, size, stride)
    if _whole(n, size, stride):
        return x @ band_matrix(n, taps, stride)
    block = BLOCK - BLOCK % stride  # every block starts on a kept output
    # blocks of `block` outputs, each reading block + size - 1 samples; zero-pad the tail so that
    # the last block is whole, then drop the outputs that read the padding
    blocks = math.ceil((n - size + 1) / block)
    span = block + size - 1
    padded = torch.nn.functional.pad(x, (0, (blocks - 1) * block + span - n))
    pieces = padded.unfold(-1, span, block)  # (..., blocks, span)
    out = pieces @ band_matrix(span, taps, stride)  # (..., blocks, block / stride)
    return out.flatten(-2)[..., :outputs]


def filter2d(x: torch.Tensor, taps: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """Valid 2-D correlation of planes (..., H, W) with the separable window ``taps`` x ``taps``.

    Output (..., H', W') with H' = ceil((H - k + 1) / stride): the window centred (for odd
    k) on every ``stride``-th pixel, rows and columns, starting at the first whole window.
    """
    x = filter_last(x, taps, stride)
    if _whole(x.shape[-2], taps.numel(), stride):
        return band_matrix(x.shape[-2], taps, stride).mT @ x  # rows without transposing the planes
    return filter_last(x.transpose(-1, -2), taps, stride).transpose(-1, -2)


def _whole(n: int, size: int, stride: int) -> bool:
    """Whether a line of ``n`` samples is filtered by one banded matrix rather than in blocks."""
    return valid_length(n, size, stride) * stride <= 2 * (BLOCK - BLOCK % stride)
