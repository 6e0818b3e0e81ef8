"""KID's unbiased MMD with the cubic polynomial kernel, batched in torch float64.

clean-fid's ``kernel_distance(feats1, feats2, num_subsets, max_subset_size)`` draws, for each
subset, ``m`` rows of ``feats2`` then ``m`` rows of ``feats1`` without replacement from numpy's
global generator, and averages over the subsets

    (sum_{i != j} k(x_i, x_j) + sum_{i != j} k(y_i, y_j)) / (m (m - 1)) - 2 sum_{i,j} k(x_i, y_j) / m^2

with k(x, y) = (x.y / d + 1)^3. Here the same draws are made in the same order (so a seeded
run gives the same subsets), and the kernel sums are computed in float64: from the kernel
matrices of all rows, computed once, when they fit in :data:`KERNEL_BYTES` (every subset is
then a product with 0/1 indicator rows), else from batches of subsets at a time. clean-fid computes in the
features' float32; the float64 value differs from it by that rounding only.
"""

from __future__ import annotations

import numpy as np
import torch

from bench_plugins.metrics.frechet import math_device

#: the largest size of the three all-rows kernel matrices (float64) computed once; above it each
#: subset's kernel is computed from its own rows
KERNEL_BYTES = 1 << 30
#: subsets whose rows are gathered in one batched product on the per-subset route
SUBSETS_PER_BATCH = 8


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(..., m, d) and (..., n, d) -> (..., m, n): (x.y / d + 1)^3."""
    return (x @ y.transpose(-1, -2) / x.shape[-1] + 1) ** 3


def draw_subsets(n1: int, n2: int, subsets: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """clean-fid's draws from numpy's global generator, in its order: per subset, ``size`` rows of
    set 2 then ``size`` rows of set 1, without replacement. -> (subsets, size) index arrays."""
    rows2, rows1 = [], []
    for _ in range(subsets):
        rows2.append(np.random.choice(n2, size, replace=False))
        rows1.append(np.random.choice(n1, size, replace=False))
    return np.stack(rows1), np.stack(rows2)


def _indicators(rows: np.ndarray, n: int, device: torch.device) -> torch.Tensor:
    """(S, m) row indices -> (S, n) float64 0/1 rows: sum_{i,j in subset s} K_ij = (C K C^T)_ss, exactly."""
    out = torch.zeros(len(rows), n, dtype=torch.float64, device=device)
    out.scatter_(1, torch.as_tensor(rows, device=device), 1.0)
    return out


def _subset_sums(c1: torch.Tensor, k: torch.Tensor, c2: torch.Tensor) -> torch.Tensor:
    """sum over each subset's block of ``k``: row s of c1 picks rows, row s of c2 columns -> (S,)."""
    return ((c1 @ k) * c2).sum(1)


def _mmd_terms(kxx: torch.Tensor, kyy: torch.Tensor, kxy: torch.Tensor, m: int) -> torch.Tensor:
    """(S, m, m) kernels of each subset -> (S,) sums as clean-fid adds them before the last division."""
    same = kxx.sum((-1, -2)) - kxx.diagonal(0, -2, -1).sum(-1) + kyy.sum((-1, -2)) - kyy.diagonal(0, -2, -1).sum(-1)
    return same / (m - 1) - kxy.sum((-1, -2)) * 2 / m


def kernel_distance(feats1, feats2, subsets: int = 100, max_subset_size: int = 1000,
                    device: torch.device | str | None = None) -> float:
    """clean-fid's ``kernel_distance`` (same draws from numpy's global generator), in float64.

    The all-rows route (the kernel matrices of all rows once, each subset's sums as products
    with its 0/1 indicator rows) when those matrices fit in :data:`KERNEL_BYTES` and cost less
    than the subsets' own kernels; else each batch of subsets' kernels from its gathered rows."""
    device = math_device(device)
    f1 = torch.as_tensor(np.asarray(feats1)).to(device, torch.float64)
    f2 = torch.as_tensor(np.asarray(feats2)).to(device, torch.float64)
    n1, n2 = len(f1), len(f2)
    m = min(n1, n2, max_subset_size)
    rows1, rows2 = draw_subsets(n1, n2, subsets, m)
    all_rows = n1 * n1 + n2 * n2 + n1 * n2
    if all_rows * 8 <= KERNEL_BYTES and all_rows <= 3 * subsets * m * m:
        c1, c2 = _indicators(rows1, n1, device), _indicators(rows2, n2, device)
        k11, k22, k21 = polynomial_kernel(f1, f1), polynomial_kernel(f2, f2), polynomial_kernel(f2, f1)
        same = (_subset_sums(c2, k22, c2) - c2 @ k22.diagonal() + _subset_sums(c1, k11, c1) - c1 @ k11.diagonal())
        terms = same / (m - 1) - _subset_sums(c2, k21, c1) * 2 / m
        return float(terms.sum() / subsets / m)
    total = torch.zeros((), dtype=torch.float64, device=device)
    for start in range(0, subsets, SUBSETS_PER_BATCH):
        x = f2[torch.as_tensor(rows2[start:start + SUBSETS_PER_BATCH], device=device)]
        y = f1[torch.as_tensor(rows1[start:start + SUBSETS_PER_BATCH], device=device)]
        total += _mmd_terms(polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y), m).sum()
    return float(total / subsets / m)
