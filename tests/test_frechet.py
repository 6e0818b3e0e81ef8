"""FID's and KID's statistics-to-distance math against clean-fid's own functions.

clean-fid's ``fid_from_feats`` (``scipy.linalg.sqrtm`` of S1 S2) and ``kernel_distance`` (per-subset
products; in float64 on float64 features, in float32 on Inception's float32 features) are the
references; the features are random non-negative (as Inception's
pool features are) at a small feature size so that the reference ``sqrtm`` takes milliseconds;
each of bench's routes is taken (fewer images than features: singular values; more: Cholesky
factors; a singular covariance: symmetric eigenvalues). benchmarks/fid_speed.py checks the same at 2048 features and 106 to 5000 images.
"""

from __future__ import annotations

import warnings

import cleanfid.fid
import numpy as np
import pytest
import torch
from bench_plugins.metrics import kernel_distance as kid_math
from bench_plugins.metrics.frechet import fid_from_features, frechet_distance, route, trace_sqrt_product_of_features
from scipy.linalg import LinAlgWarning


def features(n: int, d: int, seed: int, scale: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (np.abs(rng.normal(0.3, 0.4, (n, d))) * scale * (1 + 0.3 * rng.random(d))).astype(np.float32)


def reference_fid(a: np.ndarray, b: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LinAlgWarning)  # singular covariances below d images, as always
        return float(cleanfid.fid.fid_from_feats(a, b))


def rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


@pytest.mark.parametrize("n1,n2,d,expected_route", [(10, 10, 64, "svd"), (106, 120, 256, "svd"),
                                                     (40, 300, 64, "svd"), (300, 500, 64, "cholesky")])
def test_fid_equals_clean_fid_by_either_route(n1, n2, d, expected_route):
    a, b = features(n1, d, 0), features(n2, d, 1, scale=1.2)
    assert route(n1, n2, d) == expected_route
    ref = reference_fid(a, b)
    assert ref > 0.1
    assert rel(fid_from_features(a, b), ref) < 1e-6
    stats = frechet_distance(a.mean(0, dtype=np.float64), np.cov(a, rowvar=False),
                             b.mean(0, dtype=np.float64), np.cov(b, rowvar=False))
    assert rel(stats, ref) < 1e-6  # the statistics route (symmetric eigenvalues) always


def test_both_routes_agree_at_the_inception_feature_size():
    a = torch.from_numpy(features(106, 2048, 2)).double()
    b = torch.from_numpy(features(106, 2048, 3, scale=0.9)).double()
    a, b = a - a.mean(0), b - b.mean(0)
    by_svd = trace_sqrt_product_of_features(a, b)
    s1, s2 = a.T @ a / 105, b.T @ b / 105
    from bench_plugins.metrics.frechet import trace_sqrt_product
    assert rel(float(trace_sqrt_product(s1, s2)), float(by_svd)) < 1e-6  # rank 105 of 2048: rounding-level eigenvalues


def test_a_singular_covariance_falls_back_to_symmetric_eigenvalues():
    a, b = features(300, 64, 8), features(400, 64, 9, scale=1.1)
    a[:, 5] = 0.25  # a constant feature: S1 is singular, its Cholesky factorisation fails
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    assert int(torch.linalg.cholesky_ex(torch.from_numpy(s1))[1]) != 0
    ref = reference_fid(a, b)
    assert rel(fid_from_features(a, b), ref) < 1e-6
    from bench_plugins.metrics.frechet import trace_sqrt_product, trace_sqrt_product_by_eigenvalues
    t1, t2 = torch.from_numpy(np.cov(features(300, 64, 10), rowvar=False)), torch.from_numpy(s2)
    assert rel(float(trace_sqrt_product(t1, t2)), float(trace_sqrt_product_by_eigenvalues(t1, t2))) < 1e-10


def test_fid_of_a_set_with_itself_is_zero_and_the_shapes_are_checked():
    a = features(50, 32, 4)
    assert abs(fid_from_features(a, a)) < 1e-9
    with pytest.raises(ValueError, match="same d"):
        fid_from_features(a, features(50, 16, 5))
    with pytest.raises(ValueError, match="n>=2"):
        fid_from_features(a[:1], a)


@pytest.mark.parametrize("all_rows", [True, False])
@pytest.mark.parametrize("n1,n2,subsets,size", [(6, 6, 100, 1000), (106, 90, 20, 50), (200, 150, 7, 1000)])
def test_kid_equals_clean_fids_kernel_distance_with_the_same_draws(n1, n2, subsets, size, all_rows, monkeypatch):
    if not all_rows:
        monkeypatch.setattr(kid_math, "KERNEL_BYTES", 0)  # each batch of subsets from its own rows
    a, b = features(n1, 128, 6), features(n2, 128, 7, scale=1.1)
    np.random.seed(11)
    exact = cleanfid.fid.kernel_distance(a.astype(np.float64), b.astype(np.float64), num_subsets=subsets,
                                         max_subset_size=size)  # clean-fid's arithmetic, in float64
    after_ref = np.random.random()
    np.random.seed(11)
    ref32 = cleanfid.fid.kernel_distance(a, b, num_subsets=subsets, max_subset_size=size)  # as clean-fid runs
    np.random.seed(11)
    ours = kid_math.kernel_distance(a, b, subsets, size)
    assert np.random.random() == after_ref  # the same draws from numpy's generator, in the same order
    assert rel(ours, exact) < 1e-9, (ours, exact)
    # clean-fid on float32 features rounds each kernel value (~2 here) to float32: ~1e-7 of it
    assert abs(ours - ref32) < 1e-6, (ours, ref32)
