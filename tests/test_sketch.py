"""Sketches for label-cgan: XDoG against a hand computation and scipy's Gaussian filter; label edges by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from bench_plugins.models.label_cgan.sketch import XDOG_DEFAULTS, label_edges, luma, xdog
from scipy.ndimage import gaussian_filter


def gray(luma_map: torch.Tensor) -> torch.Tensor:
    """(H,W) luma in [0, 1] -> (1,3,H,W) gray photo in [-1, 1]."""
    return (luma_map * 2 - 1)[None, None].expand(1, 3, *luma_map.shape).clone()


def step_image(dark: float, bright: float, size: int = 24, at: int = 12) -> torch.Tensor:
    """Columns < ``at`` have luma ``dark``, the others ``bright``."""
    lum = torch.full((size, size), dark)
    lum[:, at:] = bright
    return gray(lum)


def test_step_edge_is_dark_on_its_dark_side_and_white_in_flat_regions():
    sketch = xdog(step_image(0.2, 0.8))[0, 0]
    assert sketch.shape == (24, 24)
    assert sketch.min() >= -1 and sketch.max() <= 1
    # flat: farther from the step than the outer blur reaches (ceil(3 * 1.6 * 0.8) = 4 px)
    flat = torch.cat([sketch[:, :12 - 4], sketch[:, 12 + 4:]], dim=1)
    assert torch.equal(flat, torch.ones_like(flat))
    assert (sketch[:, 11] < -0.99).all()  # the dark side of the step: a black line
    assert (sketch[:, 12:] == 1).all()  # the bright side stays white


def test_xdog_at_the_step_matches_a_hand_computation():
    # 1-D along a row: Gaussian blur of a step from a to b between columns 11 and 12, at column 11,
    # is a + (b - a) * (share of the kernel's weight at offsets >= +1).
    a, b = 0.3, 0.6
    sigma, k, p, eps, phi = (XDOG_DEFAULTS[n] for n in ("sigma", "k", "p", "eps", "phi"))

    def blurred_at_11(s):
        r = math.ceil(3 * s)
        w = [math.exp(-i * i / (2 * s * s)) for i in range(-r, r + 1)]
        return a + (b - a) * sum(w[r + 1:]) / sum(w)

    s_value = (1 + p) * blurred_at_11(sigma) - p * blurred_at_11(k * sigma)
    tone = 1.0 if s_value >= eps else 1 + math.tanh(phi * (s_value - eps))
    got = xdog(step_image(a, b))[0, 0, 5, 11].item()
    assert got == pytest.approx(2 * tone - 1, abs=1e-5)
    assert got < 0.5  # and this step draws a line


def test_xdog_matches_scipy_gaussian_filter_on_a_random_photo():
    torch.manual_seed(0)
    photo = torch.rand(2, 3, 20, 18) * 2 - 1
    sigma, k, p, eps, phi = 1.1, 1.6, 30.0, 0.05, 7.0
    got = xdog(photo, sigma=sigma, k=k, p=p, eps=eps, phi=phi)
    for n in range(2):
        lum = ((photo[n].double() + 1) / 2 * torch.tensor([0.299, 0.587, 0.114], dtype=torch.double)[:, None, None]).sum(0)
        lum = lum.numpy()
        # torch's 'reflect' padding is scipy's 'mirror' (the edge pixel is not repeated)
        g1 = gaussian_filter(lum, sigma, mode="mirror", radius=math.ceil(3 * sigma))
        g2 = gaussian_filter(lum, k * sigma, mode="mirror", radius=math.ceil(3 * k * sigma))
        s = (1 + p) * g1 - p * g2
        ref = 2 * np.where(s >= eps, 1.0, 1 + np.tanh(phi * (s - eps))) - 1
        np.testing.assert_allclose(got[n, 0].numpy(), ref, atol=1e-4)  # fp32 vs fp64, amplified by p * phi


def test_the_documented_contrast_threshold():
    # sketch.py: with p = 40 a step 0.5 -> 0.7 draws a black line, 0.5 -> 0.6 none
    assert xdog(step_image(0.5, 0.7))[0, 0, :, 11].max() < -0.9
    assert torch.equal(xdog(step_image(0.5, 0.6)), torch.ones(1, 1, 24, 24))


def test_xdog_is_deterministic_batched_and_in_range():
    torch.manual_seed(1)
    photos = torch.rand(3, 3, 32, 32) * 2 - 1
    first, second = xdog(photos), xdog(photos.clone())
    assert torch.equal(first, second)
    assert torch.equal(torch.cat([xdog(photos[i:i + 1]) for i in range(3)]), first)  # batching changes nothing
    assert first.shape == (3, 1, 32, 32) and first.dtype == torch.float32
    assert first.min() >= -1 and first.max() <= 1
    assert (first < 0).any() and (first == 1).any()  # noise draws some lines, not all


def test_luma_uses_bt601_weights():
    photo = torch.tensor([1.0, -1.0, 0.0]).view(1, 3, 1, 1)  # rgb (1, 0, 0.5) in [0, 1]
    assert luma(photo).item() == pytest.approx(0.299 + 0.114 * 0.5)


def test_label_edges_of_a_hand_made_map():
    label = torch.tensor([[0, 0, 1, 1, 1],
                          [0, 0, 1, 1, 1],
                          [2, 2, 2, 1, 1],
                          [2, 2, 2, 1, 1]])
    # a pixel is a boundary when it differs from the pixel above or the pixel to its left
    expected = {(0, 2), (1, 2), (2, 0), (2, 1), (2, 2), (2, 3), (3, 3)}
    edges = label_edges(label[None])
    assert edges.shape == (1, 1, 4, 5) and edges.dtype == torch.float32
    got = {(int(i), int(j)) for i, j in (edges[0, 0] == -1).nonzero()}
    assert got == expected
    assert set(edges.unique().tolist()) == {-1.0, 1.0}


def test_label_edges_uniform_map_is_blank_and_batches_are_independent():
    uniform = torch.full((1, 6, 6), 3)
    split = torch.zeros(1, 6, 6, dtype=torch.long)
    split[:, :, 3:] = 1
    edges = label_edges(torch.cat([uniform, split]))
    assert torch.equal(edges[0], torch.ones(1, 6, 6))
    assert ((edges[1, 0] == -1).nonzero()[:, 1] == 3).all() and (edges[1, 0, :, 3] == -1).all()
