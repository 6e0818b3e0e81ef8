"""PhotoWCT's parts against hand-built references: WCT statistics, label-aware skipping,
closed-form smoothing against a dense solve, the guided filter against a per-window loop,
and decoders that learn and come back from their cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bench_plugins.datasets.synthetic_render import render_facade
from bench_plugins.models import vgg19
from bench_plugins.models.spade_pis.decoders import DecoderTraining, pixel_error, prepare_decoders
from bench_plugins.models.spade_pis.photowct import PhotoWCT
from bench_plugins.models.spade_pis.smoothing import exact_smooth_array, guided_filter
from bench_plugins.models.spade_pis.whitening import covariance, label_wct, wct, whiten


def correlated(channels: int, pixels: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(channels, channels, generator=g, dtype=torch.float64)
    return mix @ torch.randn(channels, pixels, generator=g, dtype=torch.float64) + torch.randn(
        channels, 1, generator=g, dtype=torch.float64)


def test_whitening_gives_identity_covariance_and_colouring_the_style_statistics():
    content, style = correlated(8, 400, 0), correlated(8, 300, 1) * 3
    _, white_cov = covariance(whiten(content))
    assert torch.allclose(white_cov, torch.eye(8, dtype=torch.float64), atol=1e-8)
    out = wct(content, style)
    (out_mean, out_cov), (style_mean, style_cov) = covariance(out), covariance(style)
    assert torch.allclose(out_mean, style_mean, atol=1e-8)
    assert torch.allclose(out_cov, style_cov, atol=1e-8 * float(style_cov.abs().max()))
    # float32 features: the same to float32 precision
    out32 = wct(content.float(), style.float())
    assert out32.dtype == torch.float32
    assert torch.allclose(covariance(out32.double())[1], style_cov, rtol=1e-3, atol=1e-3)


def test_label_aware_wct_transfers_per_class_and_leaves_skipped_regions_untouched():
    c, h, w = 6, 16, 16
    content = correlated(c, h * w, 2).reshape(c, h, w).float()
    style = (correlated(c, h * w, 3) * 2).reshape(c, h, w).float()
    content_label = torch.zeros(h, w, dtype=torch.long)
    content_label[:2, :2] = 1  # 4 pixels: below the 10-pixel minimum
    content_label[8:, :] = 2  # 128 pixels
    content_label[0, 8] = 3  # class 3 only in the content
    style_label = torch.zeros(h, w, dtype=torch.long)
    style_label[:, :8] = 1
    style_label[12:, 8:] = 2  # 32 pixels: transferred
    out, decisions = label_wct(content, style, content_label, style_label)
    actions = {d.class_id: d.action for d in decisions}
    assert actions[0] == actions[2] == "transferred"
    assert actions[1].startswith("skipped: fewer than 10")
    assert actions[3].startswith("skipped: missing from the style")
    for skipped in (1, 3):
        mask = content_label == skipped
        assert torch.equal(out[:, mask], content[:, mask])
    region = out[:, content_label == 2].double()
    target = style[:, style_label == 2].double()
    assert torch.allclose(covariance(region)[1], covariance(target)[1], rtol=1e-3, atol=1e-3)
    # sizes that differ more than max_ratio times are skipped too
    _, decisions = label_wct(content, style, content_label, style_label, max_ratio=3.0)
    assert {d.class_id: d.action for d in decisions}[2].startswith("skipped: sizes differ")


def dense_reference(stylized: np.ndarray, content: np.ndarray, lam: float, eps: float) -> np.ndarray:
    """The closed form written out with explicit window loops and a dense solve."""
    h, w, _ = content.shape
    n = h * w
    affinity = np.zeros((n, n))
    for y in range(1, h - 1):
        for x in range(1, w - 1):
            ids = [(y + dy) * w + (x + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
            pixels = content.reshape(n, 3)[ids]
            mu = pixels.mean(axis=0)
            sigma = (pixels - mu).T @ (pixels - mu) / 9
            inv = np.linalg.inv(sigma + eps / 9 * np.eye(3))
            for a, i in enumerate(ids):
                for b, j in enumerate(ids):
                    affinity[i, j] += (1 + (pixels[a] - mu) @ inv @ (pixels[b] - mu)) / 9
    d = affinity.sum(axis=1)
    s = affinity / np.sqrt(d)[:, None] / np.sqrt(d)[None, :]
    alpha = 1 / (1 + lam)
    return ((1 - alpha) * np.linalg.solve(np.eye(n) - alpha * s, stylized.reshape(n, 3))).reshape(h, w, 3)


def test_exact_smoothing_equals_a_dense_solve_of_the_closed_form():
    rng = np.random.default_rng(0)
    content = rng.random((7, 9, 3))
    content[:, 4:] *= 0.3  # an edge for the affinity to respect
    stylized = rng.random((7, 9, 3))
    for lam, eps in ((1e-4, 1e-7), (1e-1, 1e-3)):
        got = exact_smooth_array(stylized, content, lam, eps)
        want = dense_reference(stylized, content, lam, eps)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    # it smooths: the output varies less than the noisy input
    assert exact_smooth_array(stylized, content, 1e-4, 1e-7).std() < stylized.std()


def guided_reference(p: np.ndarray, guide: np.ndarray, r: int, eps: float) -> np.ndarray:
    """The guided filter with explicit windows clipped at the border."""
    h, w, _ = guide.shape
    a = np.zeros((h, w, 3))
    b = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            win = (slice(max(0, y - r), y + r + 1), slice(max(0, x - r), x + r + 1))
            gi = guide[win].reshape(-1, 3)
            pi = p[win].reshape(-1)
            mu = gi.mean(axis=0)
            sigma = (gi - mu).T @ (gi - mu) / len(gi)
            cov = ((gi - mu) * (pi - pi.mean())[:, None]).mean(axis=0)
            a[y, x] = np.linalg.solve(sigma + eps * np.eye(3), cov)
            b[y, x] = pi.mean() - a[y, x] @ mu
    out = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            win = (slice(max(0, y - r), y + r + 1), slice(max(0, x - r), x + r + 1))
            out[y, x] = a[win].reshape(-1, 3).mean(axis=0) @ guide[y, x] + b[win].mean()
    return out


def test_guided_filter_matches_the_per_window_definition():
    rng = np.random.default_rng(1)
    guide, source = rng.random((9, 10, 3)), rng.random((9, 10, 2))
    got = guided_filter(torch.from_numpy(source).permute(2, 0, 1)[None], torch.from_numpy(guide).permute(2, 0, 1)[None],
                        radius=2, eps=1e-2)[0].permute(1, 2, 0).numpy()
    for ch in range(2):
        np.testing.assert_allclose(got[..., ch], guided_reference(source[..., ch], guide, 2, 1e-2), atol=1e-10)


@pytest.fixture(scope="module")
def facade_photos():
    return torch.stack([torch.from_numpy(render_facade(seed, 32)[0]).permute(2, 0, 1) for seed in range(24)])


def test_decoders_learn_to_invert_the_encoder_and_are_reused_from_the_cache(tmp_path, facade_photos):
    file = vgg19.write_random_file(tmp_path / "vgg.pth", width=4)
    torch.manual_seed(0)
    model = PhotoWCT(vgg19.load_features(file, depth="relu4_1"))
    train, held_out = facade_photos[:16], facade_photos[16:]
    before = {k: pixel_error(model, held_out, k) for k in (1, 4)}
    training = DecoderTraining(steps=60, batch_size=8, lr=3e-3, feature_weight=1.0, seed=0)
    record = prepare_decoders(model, train, training, tmp_path / "cache")
    assert not record.cached
    after = {k: pixel_error(model, held_out, k) for k in (1, 4)}
    for k in (1, 4):  # measured: relu1_1 0.27 -> 0.076, relu4_1 0.35 -> 0.072
        assert after[k] < 0.5 * before[k], (k, before, after)
    trained = {k: v.clone() for k, v in model.decoders.state_dict().items()}
    torch.manual_seed(1)
    fresh = PhotoWCT(vgg19.load_features(file, depth="relu4_1"))
    again = prepare_decoders(fresh, train, training, tmp_path / "cache")
    assert again.cached and again.path == record.path
    assert all(torch.equal(trained[k], v) for k, v in fresh.decoders.state_dict().items())
    # other photos or options: another cache entry
    other = prepare_decoders(fresh, held_out, DecoderTraining(1, 2, 1e-3, 1.0, 0), tmp_path / "cache")
    assert not other.cached and other.path != record.path
