"""The Frechet distance between the Gaussians of two feature sets, exactly, without a matrix square root.

FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr(sqrt(S1 S2)). Only the *trace* of the square root
is needed, and that is the sum of the square roots of the eigenvalues of S1 S2, which are real
and non-negative (S1 S2 is similar to the positive semi-definite S1^1/2 S2 S1^1/2). Two exact
routes, in torch float64 on the evaluation device (the CPU for MPS, which has no float64):

``singular values`` (the smaller set has fewer rows than the feature size, as at every test-set
    size of the field below 2048 images): with A (n1 x d) and B (n2 x d) the centred feature
    matrices, S1 S2 = A^T A B^T B / ((n1-1)(n2-1)) has the same non-zero eigenvalues as
    (A B^T)(A B^T)^T / ((n1-1)(n2-1)), so tr(sqrt(S1 S2)) is the sum of the singular values of
    the n1 x n2 matrix A B^T over sqrt((n1-1)(n2-1)) (taken as the square roots of the
    eigenvalues of the smaller symmetric product with its transpose): a problem of the image
    count's size, not of the feature size.
``cholesky`` (both sets at least as large as the feature size, so both covariances are positive
    definite): with S1 = L1 L1^T and S2 = L2 L2^T, S1 S2 is similar to L1^T S2 L1 = K K^T for
    K = L1^T L2, so tr(sqrt(S1 S2)) is the sum of the square roots of the eigenvalues of the
    symmetric K K^T: two Cholesky factorisations, two products and one symmetric eigenvalue
    problem without vectors.
``symmetric eigenvalues`` (a covariance that is only semi-definite, so that Cholesky fails: a
    constant feature, or statistics of fewer images than features): R = S1^1/2 from the
    eigen-decomposition of S1, then the eigenvalues of the symmetric R S2 R, whose square roots
    sum to the same trace. Two d x d symmetric eigenproblems instead of a general Schur-based
    square root.

:func:`fid_from_features` is the one function every FID implementation variant calls with its
features; :func:`frechet_distance` takes statistics (mean and covariance) where only those are
known. Both equal clean-fid's ``fid_from_feats`` / ``frechet_distance`` (``scipy.linalg.sqrtm``
of S1 S2) to 1e-6 relative or better (tests/test_frechet.py, benchmarks/fid_speed.py).
"""

from __future__ import annotations

import numpy as np
import torch

#: below this many rows in the smaller set (the Inception feature size) the singular-value route
#: is the cheaper one; at and above it the symmetric eigenvalue route is
FEATURE_SIZE = 2048


def math_device(device: torch.device | str | None) -> torch.device:
    """Where float64 linear algebra runs: the evaluation device, the CPU for MPS (no float64 there)."""
    device = torch.device(device or "cpu")
    return torch.device("cpu") if device.type == "mps" else device


def route(n1: int, n2: int, dim: int) -> str:
    """``svd`` when the smaller set has fewer rows than features, else ``cholesky`` (which falls
    back to symmetric eigenvalues when a covariance turns out singular)."""
    return "svd" if min(n1, n2) < dim else "cholesky"


def _float64(x, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).to(device, torch.float64)


def trace_sqrt_product_of_features(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """tr(sqrt(S1 S2)) of two centred (n, d) float64 matrices, S = X^T X / (n - 1), by the cheaper route."""
    n1, n2 = len(a), len(b)
    if route(n1, n2, a.shape[1]) == "svd":
        # the singular values of M = A B^T as the square roots of the eigenvalues of the symmetric
        # M M^T (or M^T M, the smaller): M has rank min(n1, n2) - 1, so only one eigenvalue is at
        # rounding level and its square root is negligible next to the sum
        m = a @ b.T
        return _sum_of_roots(m @ m.T if n1 <= n2 else m.T @ m) / float(np.sqrt((n1 - 1) * (n2 - 1)))
    return trace_sqrt_product(a.T @ a / (n1 - 1), b.T @ b / (n2 - 1))


def trace_sqrt_product(sigma1: torch.Tensor, sigma2: torch.Tensor) -> torch.Tensor:
    """tr(sqrt(S1 S2)) of two symmetric positive semi-definite float64 matrices: by Cholesky
    factors when both are positive definite, else by symmetric eigenvalues."""
    factor1, info1 = torch.linalg.cholesky_ex(sigma1)
    factor2, info2 = torch.linalg.cholesky_ex(sigma2)
    if int(info1) == 0 and int(info2) == 0:
        product = factor1.T @ factor2
        return _sum_of_roots(product @ product.T)
    return trace_sqrt_product_by_eigenvalues(sigma1, sigma2)


def trace_sqrt_product_by_eigenvalues(sigma1: torch.Tensor, sigma2: torch.Tensor) -> torch.Tensor:
    """tr(sqrt(S1 S2)) from the eigenvalues of S1^1/2 S2 S1^1/2 (works for singular matrices)."""
    values, vectors = torch.linalg.eigh(sigma1)
    root = (vectors * values.clamp(min=0).sqrt()) @ vectors.T
    inner = root @ sigma2 @ root
    return _sum_of_roots((inner + inner.T) / 2)


def _sum_of_roots(symmetric: torch.Tensor) -> torch.Tensor:
    """The sum of the square roots of a positive semi-definite matrix's eigenvalues, read from its
    lower triangle (rounding makes the smallest ones a little negative: they are 0)."""
    return torch.linalg.eigvalsh(symmetric).clamp(min=0).sqrt().sum()


def fid_from_features(feats1, feats2, device: torch.device | str | None = None) -> float:
    """FID of two (n, d) feature arrays (numpy or torch, any float dtype; n >= 2 each): clean-fid's
    ``fid_from_feats`` (means, unbiased covariances, Frechet distance), computed in float64."""
    device = math_device(device)
    a, b = _float64(feats1, device), _float64(feats2, device)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"FID needs two (n>=2, d) feature arrays of the same d, not {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    mu1, mu2 = a.mean(0), b.mean(0)
    a, b = a - mu1, b - mu2
    diff = mu1 - mu2
    traces = (a * a).sum() / (len(a) - 1) + (b * b).sum() / (len(b) - 1)
    return float(diff @ diff + traces - 2 * trace_sqrt_product_of_features(a, b))


def frechet_distance(mu1, sigma1, mu2, sigma2, device: torch.device | str | None = None) -> float:
    """The Frechet distance of two Gaussians given by their statistics (clean-fid's ``frechet_distance``)."""
    device = math_device(device)
    mu1, mu2 = _float64(mu1, device), _float64(mu2, device)
    sigma1, sigma2 = _float64(sigma1, device), _float64(sigma2, device)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"Frechet distance needs means (d,) and covariances (d, d) of the same d, not "
                         f"{tuple(mu1.shape)}, {tuple(sigma1.shape)}, {tuple(mu2.shape)}, {tuple(sigma2.shape)}")
    diff = mu1 - mu2
    return float(diff @ diff + sigma1.trace() + sigma2.trace() - 2 * trace_sqrt_product(sigma1, sigma2))
