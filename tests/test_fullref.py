"""PSNR, SSIM, UQI and VIF against their references: piq (run in float64), sewar, and
direct computations written here (a per-window UQI, a scipy SSIM), as functions and
through a real EvalContext reading PNG folders."""

from __future__ import annotations

import numpy as np
import piq
import pytest
import torch
from bench_plugins.metrics import fullref, image_quality
from bench_plugins.metrics.fullref import PSNR, SSIM, UQI, VIF
from scipy.signal import correlate2d
from sewar import full_ref as sewar

from benchmark.api import EvalContext
from benchmark.util.errors import DataError
from benchmark.util.imageio import write_png


def as8bit(images: torch.Tensor) -> torch.Tensor:
    """Float64 images in [0, 1] that are exactly 8-bit values, like PNGs read back."""
    return (images.clamp(0, 1) * 255).round().double() / 255


def random_pairs(n=3, size=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    real = as8bit(torch.rand(n, 3, size, size + 5, generator=g, dtype=torch.float64))
    noise = torch.randn(real.shape, generator=g, dtype=torch.float64)
    fake = as8bit(real + 0.15 * noise * torch.arange(1, n + 1).view(-1, 1, 1, 1))
    return fake, real


def structured_pairs(size=48):
    """Flat blocks (black, shared, different), gradients, edges, a contrast change, a blur, a shift."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    real = torch.zeros(4, 3, size, size, dtype=torch.float64)
    real[0] = xx  # gradient
    real[1, :, :, size // 2:] = 0.8  # an edge on black
    real[2] = ((torch.arange(size)[:, None] // 6 + torch.arange(size)[None] // 6) % 2).double() * 0.6 + 0.2
    real[3, 0], real[3, 1], real[3, 2] = yy, 1 - xx, 0.5  # a flat channel
    fake = real.clone()
    fake[0] = 0.25 + 0.5 * xx  # contrast lowered
    fake[1, :, :, size // 3:] = 0.7  # the edge moved and dimmed, black block kept
    fake[2] = torch.roll(real[2], 2, dims=-1)  # shifted checkerboard
    fake[3, 0] = yy ** 2  # one channel bent, one kept, the flat one brightened
    fake[3, 2] = 0.6
    return as8bit(fake), as8bit(real)


def both_kinds():
    return [random_pairs(), structured_pairs()]


# ---------------------------------------------------------------------------- PSNR and SSIM


def test_psnr_equals_piq_and_identical_images_score_80_db():
    for fake, real in both_kinds():
        expected = piq.psnr(fake, real, data_range=1.0, reduction="none")
        torch.testing.assert_close(image_quality.psnr(fake, real), expected, rtol=0, atol=1e-9)
    same = image_quality.psnr(real, real)
    assert torch.isfinite(same).all() and torch.equal(same, torch.full_like(same, 80.0))


def test_ssim_equals_piq_on_random_and_structured_pairs():
    for fake, real in both_kinds():
        expected = piq.ssim(fake, real, data_range=1.0, reduction="none", downsample=False)
        assert (image_quality.ssim(fake, real) - expected).abs().max() < 1e-6
    assert torch.equal(image_quality.ssim(real, real), torch.ones(len(real), dtype=torch.float64))


def ssim_by_hand(x, y, size=11, sigma=1.5, k1=0.01, k2=0.03):
    ax = np.arange(size) - (size - 1) / 2
    g = np.exp(-ax ** 2 / (2 * sigma ** 2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = k1 ** 2, k2 ** 2
    per_channel = []
    for a, b in zip(x, y):
        mu_a, mu_b = correlate2d(a, w, "valid"), correlate2d(b, w, "valid")
        var_a = correlate2d(a * a, w, "valid") - mu_a ** 2
        var_b = correlate2d(b * b, w, "valid") - mu_b ** 2
        cov = correlate2d(a * b, w, "valid") - mu_a * mu_b
        s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
        per_channel.append(s.mean())
    return float(np.mean(per_channel))


# ---------------------------------------------------------------------------- UQI


def uqi_per_window(x: np.ndarray, y: np.ndarray, window=8) -> float:
    """Wang and Bovik's Q in every window, straight from the paper's sums (1/(N-1)), then averaged."""
    n = window * window
    values = []
    for a_img, b_img in zip(x, y):  # channels
        for i in range(a_img.shape[0] - window + 1):
            for j in range(a_img.shape[1] - window + 1):
                a = a_img[i:i + window, j:j + window].ravel()
                b = b_img[i:i + window, j:j + window].ravel()
                ma, mb = a.sum() / n, b.sum() / n
                if a.min() == a.max() and b.min() == b.max():  # both flat: the luminance factor alone
                    values.append(1.0 if ma == mb == 0 else 2 * ma * mb / (ma ** 2 + mb ** 2))
                    continue
                va, vb = ((a - ma) ** 2).sum() / (n - 1), ((b - mb) ** 2).sum() / (n - 1)
                cov = ((a - ma) * (b - mb)).sum() / (n - 1)
                values.append(4 * cov * ma * mb / ((va + vb) * (ma ** 2 + mb ** 2)))
    return float(np.mean(values))


def test_uqi_equals_a_per_window_computation_of_the_formula():
    for fake, real in (random_pairs(n=2, size=20), structured_pairs(size=24)):
        ours = image_quality.uqi(fake, real)
        expected = [uqi_per_window(f.numpy(), r.numpy()) for f, r in zip(fake, real)]
        np.testing.assert_allclose(ours.numpy(), expected, rtol=0, atol=1e-9)
    fake, real = structured_pairs(size=24)
    assert torch.equal(image_quality.uqi(real, real), torch.ones(len(real), dtype=torch.float64))
    black = torch.zeros(1, 3, 16, 16, dtype=torch.float64)
    assert float(image_quality.uqi(black, black)) == 1.0  # both windows black: 1, not 0/0
    half = black + 0.5
    assert float(image_quality.uqi(half, black + 0.25)) == pytest.approx(2 * 0.5 * 0.25 / (0.5 ** 2 + 0.25 ** 2))


def test_uqi_is_not_sewars_which_scores_unrelated_noise_about_0_8():
    """sewar.full_ref.uqi puts window means where the formula needs window sums. Do not 'fix' ours to match."""
    g = torch.Generator().manual_seed(3)
    a, b = (torch.rand(2, 3, 48, 48, generator=g, dtype=torch.float64) for _ in range(2))
    ours = image_quality.uqi(a, b)
    theirs = [sewar.uqi(x.permute(1, 2, 0).numpy(), y.permute(1, 2, 0).numpy()) for x, y in zip(a, b)]
    assert ours.abs().max() < 0.05  # unrelated images: no correlation, Q about 0
    assert min(theirs) > 0.6
    same = a[0].permute(1, 2, 0).numpy()
    assert float(image_quality.uqi(a[:1], a[:1])) == 1.0 and sewar.uqi(same, same) == 1.0  # both agree there


# ---------------------------------------------------------------------------- VIF


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # sewar's 0/0, see below
def test_vif_luma_equals_piq_and_rgb_equals_sewar_on_8_bit_images():
    for fake, real in both_kinds():
        expected = piq.vif_p(fake, real, data_range=1.0, reduction="none")  # piq: (distorted, reference)
        assert (image_quality.vif(fake, real, "luma") - expected).abs().max() < 1e-6
        to8 = [(im.permute(1, 2, 0) * 255).round().numpy().astype(np.uint8) for im in (*fake, *real)]
        theirs = [sewar.vifp(r, f) for f, r in zip(to8[:len(fake)], to8[len(fake):])]  # sewar: (reference, distorted)
        ours, theirs = image_quality.vif(fake, real, "rgb").numpy(), np.array(theirs)
        # a flat reference channel: sewar divides 0 by 0, piq's 1e-8 on both sides counts it as 1
        known = np.isfinite(theirs)
        assert known.sum() >= 3 and np.isfinite(ours).all()
        np.testing.assert_allclose(ours[known], theirs[known], rtol=0, atol=1e-3)


def test_vif_of_identical_images_is_1_and_small_images_are_refused():
    fake, real = structured_pairs(size=41)
    for channels in ("luma", "rgb"):
        torch.testing.assert_close(image_quality.vif(real, real, channels), torch.ones(4, dtype=torch.float64),
                                   rtol=0, atol=1e-6)
    flat = torch.full((1, 3, 41, 41), 0.3, dtype=torch.float64)
    assert float(image_quality.vif(flat, flat)) == 1.0
    boosted = image_quality.vif(real * 1.5 - 0.25, real, "rgb")  # more contrast, no noise: above 1
    assert (boosted[:3] > 1.05).all()
    assert image_quality.vif_min_size() == 41
    with pytest.raises(ValueError, match="41x41"):
        image_quality.vif(real[..., :40], real[..., :40])


# ---------------------------------------------------------------------------- batches


def test_values_do_not_depend_on_the_batch_they_are_computed_in(monkeypatch):
    fake, real = random_pairs(n=5, size=44)
    for fn in (image_quality.psnr, image_quality.ssim, image_quality.uqi, image_quality.vif):
        whole = fn(fake, real)
        alone = torch.cat([fn(fake[i:i + 1], real[i:i + 1]) for i in range(5)])
        mixed = torch.cat([fn(fake[:2], real[:2]), fn(fake[2:], real[2:])])
        with monkeypatch.context() as patch:  # the functions' own slicing of large batches: 2 images a slice
            patch.setitem(image_quality.CHUNK, "cpu", 2 * fake[0].numel() + 1)
            sliced = fn(fake, real)
        for other in (alone, mixed, sliced):
            torch.testing.assert_close(whole, other, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------- through EvalContext


def make_folders(tmp_path, n=3, size=48, batch_size=2):
    fake, real = random_pairs(n=n, size=size, seed=7)
    for i, (f, r) in enumerate(zip(fake, real)):
        write_png(tmp_path / "fake" / f"{i}.png", (f.permute(1, 2, 0) * 255).round().numpy().astype(np.uint8))
        write_png(tmp_path / "real" / f"{i}.png", (r.permute(1, 2, 0) * 255).round().numpy().astype(np.uint8))
    ctx = EvalContext(tmp_path / "fake", tmp_path / "real", tmp_path / "labels", ["a"], None,
                      torch.device("cpu"), tmp_path, batch_size=batch_size)
    return ctx, fake, real


def test_the_four_metrics_through_an_eval_context_match_their_references(tmp_path):
    ctx, fake, real = make_folders(tmp_path)
    expected = {
        "PSNR": float(np.mean([10 * np.log10(1 / ((f - r) ** 2).mean().item()) for f, r in zip(fake, real)])),
        "SSIM": float(np.mean([ssim_by_hand(f.numpy(), r.numpy()) for f, r in zip(fake, real)])),
        "VIF": float(piq.vif_p(fake, real, data_range=1.0)),
    }
    values, protocols = {}, {}
    for metric in (PSNR(), SSIM(), UQI(), VIF()):
        result = metric.compute(ctx, metric.Options())
        values.update(result.values)
        protocols[metric.name] = result.protocol
        assert result.protocol["images"] == 3 and not result.notes
    assert values["PSNR"] == pytest.approx(expected["PSNR"], abs=1e-4)
    assert values["SSIM"] == pytest.approx(expected["SSIM"], abs=1e-6)
    assert values["VIF"] == pytest.approx(expected["VIF"], abs=1e-6)
    # the per-window reference is slow, so it checks UQI on a crop; the full images go through the function
    cropped = UQI().compute(make_folders(tmp_path / "crop", size=20)[0], UQI.Options()).values["UQI"]
    assert cropped == pytest.approx(float(np.mean([uqi_per_window(f.numpy(), r.numpy())
                                                   for f, r in zip(*random_pairs(n=3, size=20, seed=7))])), abs=1e-9)
    assert values["UQI"] == pytest.approx(float(image_quality.uqi(fake, real).mean()), abs=1e-6)  # PNGs read as float32
    assert protocols["ssim"]["window"] == "gaussian 11/1.5" and protocols["uqi"]["window"] == "box 8x8"
    assert protocols["vif"]["channels"] == "luma (BT.601)" and protocols["psnr"]["identical"].startswith("80 dB")

    # batch size of the context does not matter
    one_by_one = EvalContext(ctx.fake_dir, ctx.real_dir, ctx.label_dir, ["a"], None, ctx.device, tmp_path,
                             batch_size=1)
    for metric in (PSNR(), SSIM(), UQI(), VIF()):
        (column,) = metric.columns
        assert metric.compute(one_by_one, metric.Options()).values[column] == pytest.approx(values[column], abs=1e-12)

    identical = EvalContext(ctx.real_dir, ctx.real_dir, ctx.label_dir, ["a"], None, ctx.device, tmp_path)
    ideal = {"PSNR": 80.0, "SSIM": 1.0, "UQI": 1.0, "VIF": 1.0}
    for metric in (PSNR(), SSIM(), UQI(), VIF()):
        (column,) = metric.columns
        assert metric.compute(identical, metric.Options()).values[column] == pytest.approx(ideal[column], abs=1e-6)


def test_images_too_small_for_a_window_leave_a_note_not_a_crash(tmp_path):
    ctx, _, _ = make_folders(tmp_path, n=2, size=32)
    result = VIF().compute(ctx, VIF.Options())
    assert result.values == {"VIF": None} and "41x41" in result.notes["VIF"] and "32x37" in result.notes["VIF"]
    note = SSIM().compute(ctx, SSIM.Options(kernel_size=35)).notes["SSIM"]
    assert note.startswith("SSIM needs images of at least 35x35") and "image_size=64" in note
    assert UQI().compute(ctx, UQI.Options()).values["UQI"] is not None


def test_fake_and_real_of_different_sizes_is_a_data_error(tmp_path):
    ctx, _, _ = make_folders(tmp_path, n=1, size=44)
    write_png(ctx.fake_dir / "0.png", np.zeros((44, 40, 3), np.uint8))
    with pytest.raises(DataError, match="differ in size"):
        PSNR().compute(ctx, PSNR.Options())


def test_the_plugin_registers_the_four_metrics():
    names = []
    fullref.register_metrics(lambda metric: names.append(metric.name))
    assert names == ["psnr", "ssim", "uqi", "vif"]
