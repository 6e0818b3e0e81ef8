"""PSNR, SSIM, UQI and VIFp of image batches: one value per image, on CPU or GPU.

Every function takes ``fake`` and ``real`` as float tensors (N, C, H, W) in [0, 1] on
the same device and returns a float64 tensor of N values (image ``i`` of ``fake``
against image ``i`` of ``real``). The work is done in float64 (window variances are
differences of nearly equal numbers, which float32 gets wrong by ~1e-7, i.e. ~1e-4 of
an SSIM term in a flat window), in whole batches: no Python loop over images or pixels.
Window statistics come from :mod:`plugins.metrics.windows`.

The definitions and their conventions (identical images, flat windows, colour) are
in each function's docstring; the plugins in :mod:`plugins.metrics.fullref` record
them in their protocol.
"""

from __future__ import annotations

import torch

from plugins.metrics.windows import box_taps, filter2d, gaussian_taps

#: added to the MSE before the logarithm, as piq does: identical images score 80 dB, not inf
PSNR_EPS = 1e-8
#: ITU-R BT.601 luma weights, as piq's VIF uses
LUMA = (0.299, 0.587, 0.114)
#: VIF's Gaussian windows per scale (side, sigma = side / 5); scales 2-4 first blur with
#: that scale's window and keep every other pixel
VIF_WINDOWS = (17, 9, 5, 3)
#: VIF's stabilising constant (piq's)
VIF_EPS = 1e-8
#: a UQI window pair whose two variances sum to less than this (in [0, 1] units) is flat;
#: one 8-bit step in one pixel of an 8x8 window already gives 2.4e-7
UQI_FLAT = 1e-12


def _check(fake: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if fake.shape != real.shape or fake.dim() != 4:
        raise ValueError(f"expected two (N, C, H, W) batches of the same shape, got {tuple(fake.shape)} "
                         f"and {tuple(real.shape)}")
    return fake.to(torch.float64), real.to(torch.float64)


def psnr(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, piq's definition on [0, 1]: -10 log10(MSE + 1e-8).

    The MSE is over all pixels and channels of an image. The 1e-8 (piq's) makes identical
    images score exactly 80 dB instead of infinity; it moves any image whose MSE is above
    1e-5 (PSNR below 50 dB) by less than 0.005 dB.
    """
    fake, real = _check(fake, real)
    mse = (fake - real).square().mean(dim=(1, 2, 3))
    return -10 * torch.log10(mse + PSNR_EPS)


def ssim(fake: torch.Tensor, real: torch.Tensor, kernel_size: int = 11, kernel_sigma: float = 1.5,
         k1: float = 0.01, k2: float = 0.03) -> torch.Tensor:
    """Structural similarity (Wang, Bovik, Sheikh and Simoncelli, 2004), piq's definition.

    Per channel, with local statistics under a Gaussian window (``kernel_size``,
    ``kernel_sigma``) at every position where it lies wholly inside the image (no
    padding), constants C1 = (k1 * 1)^2 and C2 = (k2 * 1)^2 for the range [0, 1]; the
    SSIM map is averaged over positions, then over channels. This is
    ``piq.ssim(fake, real, data_range=1, downsample=False, reduction="none")``.
    Identical images score exactly 1. Images need at least ``kernel_size`` pixels a side.
    """
    fake, real = _check(fake, real)
    taps = gaussian_taps(kernel_size, kernel_sigma, device=fake.device)
    mu_f, mu_r = filter2d(fake, taps), filter2d(real, taps)
    var_f = filter2d(fake * fake, taps) - mu_f * mu_f
    var_r = filter2d(real * real, taps) - mu_r * mu_r
    cov = filter2d(fake * real, taps) - mu_f * mu_r
    c1, c2 = k1 ** 2, k2 ** 2
    ssim_map = ((2 * mu_f * mu_r + c1) * (2 * cov + c2)) / ((mu_f ** 2 + mu_r ** 2 + c1) * (var_f + var_r + c2))
    return ssim_map.mean(dim=(2, 3)).mean(dim=1)


def uqi(fake: torch.Tensor, real: torch.Tensor, window: int = 8) -> torch.Tensor:
    """Universal quality index (Wang and Bovik, 2002), per channel, averaged over channels.

    In every ``window`` x ``window`` square window wholly inside the image (stride 1,
    no padding), with the window means mx, my, variances sx^2, sy^2 and covariance sxy,

        Q = 4 sxy mx my / ((sx^2 + sy^2) (mx^2 + my^2)),

    the product of correlation, luminance closeness and contrast closeness; the index is
    the mean of Q over all windows, then over the channels. The 1/N or 1/(N - 1)
    normalisation of the (co)variances cancels in Q.

    Flat windows (sx^2 + sy^2 below 1e-12, i.e. both windows of the pair constant): the
    correlation and contrast factors are 0/0 and are taken as 1, so Q is the luminance
    factor 2 mx my / (mx^2 + my^2), and Q = 1 when both windows are black too (the
    convention of the authors' own code). A window pair where only one is flat has
    sxy = 0, so Q = 0. Identical images score exactly 1. Images need at least ``window``
    pixels a side.

    Not ``sewar.full_ref.uqi``: that one puts window *means* into the formula written for
    window *sums* (N sum(xy) - sum(x) sum(y)), which gives about 0.8 for two unrelated
    noise images where Q is about 0.
    """
    fake, real = _check(fake, real)
    taps = box_taps(window, device=fake.device)
    mu_f, mu_r = filter2d(fake, taps), filter2d(real, taps)
    var_f = filter2d(fake * fake, taps) - mu_f * mu_f
    var_r = filter2d(real * real, taps) - mu_r * mu_r
    cov = filter2d(fake * real, taps) - mu_f * mu_r
    var_sum, mean_sq = var_f + var_r, mu_f * mu_f + mu_r * mu_r
    flat = var_sum < UQI_FLAT
    general = 4 * cov * mu_f * mu_r / torch.where(flat, 1.0, var_sum * mean_sq)
    luminance = 2 * mu_f * mu_r / torch.where(mean_sq > 0, mean_sq, 1.0)
    q = torch.where(flat, torch.where(mean_sq > 0, luminance, 1.0), general)
    return q.mean(dim=(2, 3)).mean(dim=1)


def vif_min_size() -> int:
    """The smallest image side VIF's four scales fit in (41 for windows 17, 9, 5, 3)."""
    size = VIF_WINDOWS[-1]  # the last scale needs one whole window
    for scale in range(len(VIF_WINDOWS) - 1, 0, -1):
        # scale s holds ceil((n - k_s + 1) / 2) pixels of an n-pixel scale s - 1
        size = 2 * size - 1 + VIF_WINDOWS[scale] - 1
    return max(size, VIF_WINDOWS[0])


def vif(fake: torch.Tensor, real: torch.Tensor, channels: str = "luma", sigma_n_sq: float = 2.0) -> torch.Tensor:
    """Visual information fidelity in the pixel domain, VIFp (Sheikh and Bovik, 2006).

    ``real`` is the reference, ``fake`` the distorted image (VIF is not symmetric).
    Images are scaled to [0, 255] (the model's noise variance ``sigma_n_sq`` = 2 is in
    those units). ``channels``: "luma" computes it on Y = 0.299 R + 0.587 G + 0.114 B, as
    ``piq.vif_p`` does; "rgb" on each channel and averages the three VIF values, as
    ``sewar.full_ref.vifp`` does on a colour image.

    Four scales with Gaussian windows of 17, 9, 5 and 3 pixels (sigma = side / 5);
    before scales 2-4 the image is blurred with that scale's window (valid) and every
    other pixel kept. At each scale, in every window: the gain g = cov / var_ref and
    the distortion noise var_v = var_fake - g cov, with piq's guards (negative variances
    set to 0; g = 0 and var_v = var_fake where the reference window is flat; g = 0 and
    var_v = 0 where the fake window is flat; a negative gain set to 0 with var_v =
    var_fake; var_v at least 1e-8). VIF = (sum log10(1 + g^2 var_ref / (var_v + sigma_n^2))
    + 1e-8) / (sum log10(1 + var_ref / sigma_n^2) + 1e-8), sums over windows and scales.
    Identical images score 1 (to ~1e-8); a flat reference against a flat fake scores 1.
    Images need at least :func:`vif_min_size` (41) pixels a side.
    """
    fake, real = _check(fake, real)
    if channels == "luma":
        weights = torch.tensor(LUMA, dtype=torch.float64, device=fake.device).view(1, 3, 1, 1)
        fake, real = (fake * weights).sum(1, keepdim=True), (real * weights).sum(1, keepdim=True)
    elif channels != "rgb":
        raise ValueError(f"channels must be 'luma' or 'rgb', got {channels!r}")
    fake, real = fake * 255, real * 255
    smallest = min(fake.shape[-2:])
    if smallest < vif_min_size():
        raise ValueError(f"VIF needs images of at least {vif_min_size()}x{vif_min_size()} pixels, "
                         f"got {tuple(fake.shape[-2:])}")
    num = torch.zeros(fake.shape[:2], dtype=torch.float64, device=fake.device)
    den = torch.zeros_like(num)
    for scale, size in enumerate(VIF_WINDOWS):
        taps = gaussian_taps(size, size / 5, device=fake.device)
        if scale > 0:
            fake, real = filter2d(fake, taps, stride=2), filter2d(real, taps, stride=2)
        mu_f, mu_r = filter2d(fake, taps), filter2d(real, taps)
        var_f = (filter2d(fake * fake, taps) - mu_f * mu_f).clamp_min(0)
        var_r = (filter2d(real * real, taps) - mu_r * mu_r).clamp_min(0)
        cov = filter2d(fake * real, taps) - mu_f * mu_r
        gain = cov / (var_r + VIF_EPS)
        noise = var_f - gain * cov
        ref_flat, fake_flat = var_r < VIF_EPS, var_f < VIF_EPS
        gain = torch.where(ref_flat, 0.0, gain)
        noise = torch.where(ref_flat, var_f, noise)
        var_r = torch.where(ref_flat, 0.0, var_r)
        gain = torch.where(fake_flat, 0.0, gain)
        noise = torch.where(fake_flat, 0.0, noise)
        noise = torch.where(gain < 0, var_f, noise)
        gain = gain.clamp_min(0)
        noise = noise.clamp_min(VIF_EPS)
        num += torch.log10(1 + gain * gain * var_r / (noise + sigma_n_sq)).sum(dim=(2, 3))
        den += torch.log10(1 + var_r / sigma_n_sq).sum(dim=(2, 3))
    return ((num + VIF_EPS) / (den + VIF_EPS)).mean(dim=1)
