"""PSNR and SSIM against values computed by hand, through the metric plugins' own folder reading."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.signal import correlate2d

from benchmark.api import EvalContext
from benchmark.imageio import write_png
from plugins.metrics.fullref import PSNR, SSIM


def make_folders(tmp_path, n=3, size=40):
    rng = np.random.default_rng(0)
    fakes, reals = [], []
    for i in range(n):
        real = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        noise = rng.integers(-40, 41, real.shape)
        fake = np.clip(real.astype(int) + noise * (i + 1), 0, 255).astype(np.uint8)
        write_png(tmp_path / "fake" / f"{i}.png", fake)
        write_png(tmp_path / "real" / f"{i}.png", real)
        fakes.append(fake / 255.0)
        reals.append(real / 255.0)
    ctx = EvalContext(tmp_path / "fake", tmp_path / "real", tmp_path / "labels", ["a"], None,
                      torch.device("cpu"), tmp_path, batch_size=2)
    return ctx, fakes, reals


def ssim_by_hand(x, y, size=11, sigma=1.5, k1=0.01, k2=0.03):
    ax = np.arange(size) - (size - 1) / 2
    g = np.exp(-ax ** 2 / (2 * sigma ** 2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = k1 ** 2, k2 ** 2
    per_channel = []
    for c in range(3):
        a, b = x[..., c], y[..., c]
        mu_a, mu_b = correlate2d(a, w, "valid"), correlate2d(b, w, "valid")
        var_a = correlate2d(a * a, w, "valid") - mu_a ** 2
        var_b = correlate2d(b * b, w, "valid") - mu_b ** 2
        cov = correlate2d(a * b, w, "valid") - mu_a * mu_b
        s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
        per_channel.append(s.mean())
    return float(np.mean(per_channel))


def test_psnr_is_the_mean_of_per_image_values_by_hand(tmp_path):
    ctx, fakes, reals = make_folders(tmp_path)
    result = PSNR().compute(ctx, PSNR.Options())
    expected = np.mean([10 * np.log10(1 / np.mean((f - r) ** 2)) for f, r in zip(fakes, reals)])
    assert result.values["PSNR"] == pytest.approx(expected, abs=1e-4)
    assert result.protocol["images"] == 3


def test_ssim_matches_a_direct_gaussian_window_computation(tmp_path):
    ctx, fakes, reals = make_folders(tmp_path)
    result = SSIM().compute(ctx, SSIM.Options())
    expected = np.mean([ssim_by_hand(f, r) for f, r in zip(fakes, reals)])
    assert result.values["SSIM"] == pytest.approx(expected, abs=1e-4)
    assert result.protocol["window"] == "gaussian 11/1.5"
    identical = EvalContext(ctx.real_dir, ctx.real_dir, ctx.label_dir, ["a"], None, ctx.device, tmp_path)
    assert SSIM().compute(identical, SSIM.Options()).values["SSIM"] == pytest.approx(1.0, abs=1e-6)
