"""The banded-matrix window filters against scipy's direct 2-D correlation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bench_plugins.metrics.windows import BLOCK, box_taps, filter2d, gaussian_taps, rows_first, valid_length
from scipy.signal import correlate2d


@pytest.mark.parametrize("height,width,taps,stride", [
    (40, 37, gaussian_taps(11, 1.5), 1),   # SSIM's window, one banded matrix per axis
    (23, 5 * BLOCK + 60, gaussian_taps(17, 3.4), 2),  # VIF's first blur: long rows go in blocks
    (5 * BLOCK + 41, 30, box_taps(8), 1),  # UQI's even box window, long columns in blocks
    (3 * BLOCK + 7, 3 * BLOCK + 1, gaussian_taps(BLOCK + 1, 20.0), 3),  # a window longer than a block
    (41, 41, gaussian_taps(9, 1.8), 2),
    (3, 5, gaussian_taps(3, 0.6), 2),
])
def test_filter2d_is_scipy_valid_correlation_then_every_stride_th_pixel(height, width, taps, stride):
    planes = torch.rand(2, 1, height, width, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    window = np.outer(taps.numpy(), taps.numpy())
    expected = np.stack([correlate2d(p[0], window, "valid")[::stride, ::stride] for p in planes.numpy()])
    out = filter2d(rows_first(planes), taps, stride).permute(1, 2, 0, 3)[:, 0].numpy()
    assert out.shape == expected.shape == (2, valid_length(height, taps.numel(), stride),
                                           valid_length(width, taps.numel(), stride))
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12)


def test_gaussian_taps_outer_product_is_the_normalised_2d_gaussian():
    taps = gaussian_taps(11, 1.5)
    ax = np.arange(11) - 5.0
    g2 = np.exp(-(ax[:, None] ** 2 + ax[None] ** 2) / (2 * 1.5 ** 2))
    np.testing.assert_allclose(np.outer(taps, taps), g2 / g2.sum(), rtol=1e-12)
