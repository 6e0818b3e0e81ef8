"""PSNR, SSIM, UQI and VIFp of image batches: one value per image, on CPU or GPU.

Every function takes ``fake`` and ``real`` as float tensors (N, C, H, W) in [0, 1] on
the same device and returns a float64 tensor of N values (image ``i`` of ``fake``
against image ``i`` of ``real``). The work is done in float64: window variances are
differences of nearly equal numbers, which float32 gets wrong by ~1e-7 of the squared
values (~1e-4 of an SSIM term in a flat window, and flat-window tests of UQI and VIF
would fail). Whole batches are processed at once by tensor operations, with no Python
loop over images or pixels; on a CPU the batch is cut into slices of one or two images
(``CHUNK``) whose temporaries fit in the core's cache, which is 2-3x faster. Window
statistics come from :mod:`bench_plugins.metrics.windows`. On an Apple GPU (MPS, which has no
float64) the values are computed on the CPU.

The definitions and their conventions (identical images, flat windows, colour) are
in each function's docstring; the plugins in :mod:`bench_plugins.metrics.fullref` record
them in their protocol.
"""

from __future__ import annotations

import functools
import math

import torch
from bench_plugins.metrics.windows import box_taps, filter2d, gaussian_taps, rows_first

#: added to the MSE before the logarithm, as piq does: identical images score PSNR_IDENTICAL, not inf
_PSNR_EPS_TEXT = "1e-8"
PSNR_EPS = float(_PSNR_EPS_TEXT)
#: the PSNR of identical images, -10 log10(PSNR_EPS) dB: the one place this protocol fact is stated
PSNR_IDENTICAL = f"{-10 * math.log10(PSNR_EPS):g} dB (MSE + {_PSNR_EPS_TEXT})"
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


#: values (images x channels x pixels) one call works on: on a CPU, one or two 256x256 RGB images,
#: so that its float64 temporaries stay in the core's cache (2-3x faster than whole batches of 16);
#: on a GPU, large batches
CHUNK = {"cpu": 2 ** 18, "other": 2 ** 24}


def _check(fake: torch.Tensor, real: torch.Tensor) -> None:
    if fake.shape != real.shape or fake.dim() != 4:
        raise ValueError(f"expected two (N, C, H, W) batches of the same shape, got {tuple(fake.shape)} "
                         f"and {tuple(real.shape)}")


def _chunked(fn):
    """Run ``fn(fake, real, ...)`` on slices of the batch of at most CHUNK values, concatenated."""

    @functools.wraps(fn)
    def run(fake: torch.Tensor, real: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        _check(fake, real)
        if fake.device.type == "mps":  # Apple GPUs have no float64: the CPU does it
            fake, real = fake.cpu(), real.cpu()
        limit = CHUNK["cpu" if fake.device.type == "cpu" else "other"]
        per_chunk = max(1, limit // max(1, fake[0].numel())) if len(fake) else 1
        if len(fake) <= per_chunk:
            return fn(fake, real, *args, **kwargs)
        return torch.cat([fn(f, r, *args, **kwargs) for f, r in zip(fake.split(per_chunk), real.split(per_chunk))])

    return run


def _rows_first64(images: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    return rows_first(images, torch.float64, scale)


def _moments(fake: torch.Tensor, real: torch.Tensor, taps: torch.Tensor) -> list[torch.Tensor]:
    """Window means and means of squares and product of two (H, N, C, W) stacks:
    [E f, E r, E f^2, E r^2, E fr], each (H', N, C, W'), fresh tensors the caller may overwrite."""
    return [filter2d(fake, taps), filter2d(real, taps), filter2d(fake * fake, taps),
            filter2d(real * real, taps), filter2d(fake * real, taps)]


def _image_mean(maps: torch.Tensor) -> torch.Tensor:
    """(H', N, C, W') maps -> (N,): the mean over positions, then over channels."""
    return maps.mean(dim=(0, 3)).mean(dim=1)


@_chunked
def psnr(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, piq's definition on [0, 1]: -10 log10(MSE + 1e-8).

    The MSE is over all pixels and channels of an image. :data:`PSNR_EPS` (piq's) makes
    identical images score :data:`PSNR_IDENTICAL` instead of infinity; it moves any image whose MSE is above
    1e-5 (PSNR below 50 dB) by less than 0.005 dB.
    """
    mse = (fake.to(torch.float64) - real.to(torch.float64)).square_().mean(dim=(1, 2, 3))
    return -10 * torch.log10(mse + PSNR_EPS)


@_chunked
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
    taps = gaussian_taps(kernel_size, kernel_sigma, device=fake.device)
    mu_f, mu_r, e_ff, e_rr, e_fr = _moments(_rows_first64(fake), _rows_first64(real), taps)
    c1, c2 = k1 ** 2, k2 ** 2
    # in place, to spare memory traffic; var_f + var_r is summed as (E f^2 - mu_f^2) + (E r^2 - mu_r^2)
    # so that identical images give exactly 1
    mu_fr = mu_f * mu_r
    cov_term = e_fr.sub_(mu_fr).mul_(2).add_(c2)  # 2 cov + C2
    sq_f, sq_r = mu_f.square_(), mu_r.square_()
    var_term = e_ff.sub_(sq_f).add_(e_rr.sub_(sq_r)).add_(c2)  # var_f + var_r + C2
    mean_term = sq_f.add_(sq_r).add_(c1)  # mu_f^2 + mu_r^2 + C1
    ssim_map = mu_fr.mul_(2).add_(c1).mul_(cov_term).div_(mean_term.mul_(var_term))
    return _image_mean(ssim_map)


#: the five scales' exponents of MS-SSIM (Wang, Simoncelli and Bovik 2003), finest first
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim_min_side(scales: int = 5, kernel_size: int = 11) -> int:
    """The smallest image side at which the window fits at the coarsest of ``scales`` (halved each time)."""
    return (kernel_size - 1) * 2 ** (scales - 1) + 1


def ms_ssim_weights(scales: int = 5) -> tuple[float, ...]:
    """The exponents of the first ``scales`` scales, summing to 1 (the paper's five when all are used)."""
    used = MS_SSIM_WEIGHTS[:scales]
    return tuple(w / sum(used) for w in used) if scales < len(MS_SSIM_WEIGHTS) else used


@_chunked
def ms_ssim(fake: torch.Tensor, real: torch.Tensor, scales: int = 5, kernel_size: int = 11,
            kernel_sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03) -> torch.Tensor:
    """Multi-scale SSIM (Wang, Simoncelli and Bovik 2003) on [0, 1], as piq's ``multi_scale_ssim``.

    At each scale the window statistics of :func:`ssim` (Gaussian 11 / 1.5, valid positions); the
    contrast-structure term averaged per channel at every scale but the last, the whole SSIM at
    the last; between scales a 2x2 average pool (where a side is odd, the first row and column
    are first repeated, as piq does; even sides, such as 256, need no such convention). Per channel the product of the terms (negative ones clipped to 0) raised to
    :data:`MS_SSIM_WEIGHTS` (renormalised to sum 1 for fewer than 5 scales), then the channels
    averaged. Identical images score 1. Sides must be at least :func:`ms_ssim_min_side`.
    """
    taps = gaussian_taps(kernel_size, kernel_sigma, device=fake.device)
    c1, c2 = k1 ** 2, k2 ** 2
    f, r = fake.to(torch.float64), real.to(torch.float64)
    total = torch.ones(fake.shape[:2], dtype=torch.float64, device=fake.device)  # (N, C)
    for scale, weight in enumerate(ms_ssim_weights(scales)):
        if scale:  # piq's halving: an odd side first repeats the first row and column (both, if either is odd)
            pad = [max(f.shape[-2] % 2, f.shape[-1] % 2)] * 2
            f, r = (torch.nn.functional.avg_pool2d(torch.nn.functional.pad(x, [pad[0], 0, pad[1], 0], mode="replicate"), 2)
                    for x in (f, r))
        mu_f, mu_r, e_ff, e_rr, e_fr = _moments(rows_first(f), rows_first(r), taps)
        mu_fr = mu_f * mu_r
        sq_f, sq_r = mu_f.square(), mu_r.square()
        term = (2 * (e_fr - mu_fr) + c2) / ((e_ff - sq_f) + (e_rr - sq_r) + c2)
        if scale == scales - 1:
            term = term * (2 * mu_fr + c1) / (sq_f + sq_r + c1)
        total = total * term.mean(dim=(0, 3)).clamp(min=0) ** weight
    return total.mean(dim=1)


@_chunked
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
    taps = box_taps(window, device=fake.device)
    mu_f, mu_r, e_ff, e_rr, e_fr = _moments(_rows_first64(fake), _rows_first64(real), taps)
    prod = mu_f * mu_r  # mx my
    cov = e_fr.sub_(prod)
    sq_f, sq_r = mu_f.square_(), mu_r.square_()
    var_sum = e_ff.sub_(sq_f).add_(e_rr.sub_(sq_r))  # sx^2 + sy^2
    mean_sq = sq_f.add_(sq_r)  # mx^2 + my^2
    flat, black = var_sum < UQI_FLAT, mean_sq == 0
    q = cov.mul_(prod).mul_(4).div_(var_sum.mul_(mean_sq))  # 0/0 in flat windows, replaced below
    luminance = prod.mul_(2).div_(mean_sq)
    q = torch.where(flat, luminance, q).masked_fill_(black, 1.0)
    return _image_mean(q)


def vif_min_size() -> int:
    """The smallest image side VIF's four scales fit in (41 for windows 17, 9, 5, 3)."""
    size = VIF_WINDOWS[-1]  # the last scale needs one whole window
    for scale in range(len(VIF_WINDOWS) - 1, 0, -1):
        # scale s holds ceil((n - k_s + 1) / 2) pixels of an n-pixel scale s - 1
        size = 2 * size - 1 + VIF_WINDOWS[scale] - 1
    return max(size, VIF_WINDOWS[0])


@_chunked
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
    if channels == "luma":
        weights = torch.tensor(LUMA, dtype=torch.float64, device=fake.device).view(1, 3, 1, 1)
        fake, real = (fake * weights).sum(1, keepdim=True), (real * weights).sum(1, keepdim=True)
    elif channels != "rgb":
        raise ValueError(f"channels must be 'luma' or 'rgb', got {channels!r}")
    fake, real = _rows_first64(fake, 255.0), _rows_first64(real, 255.0)
    height, width = fake.shape[0], fake.shape[-1]
    if min(height, width) < vif_min_size():
        raise ValueError(f"VIF needs images of at least {vif_min_size()}x{vif_min_size()} pixels, "
                         f"got {(height, width)}")
    num = torch.zeros(fake.shape[1:3], dtype=torch.float64, device=fake.device)
    den = torch.zeros_like(num)
    for scale, size in enumerate(VIF_WINDOWS):
        taps = gaussian_taps(size, size / 5, device=fake.device)
        if scale > 0:
            fake, real = filter2d(fake, taps, stride=2), filter2d(real, taps, stride=2)
        mu_f, mu_r, e_ff, e_rr, e_fr = _moments(fake, real, taps)
        # in place, reusing the moments' buffers: mu_r becomes the gain, mu_f the noise variance
        cov = e_fr.sub_(mu_f * mu_r)
        var_f = e_ff.sub_(mu_f.square_()).clamp_min_(0)
        var_r = e_rr.sub_(mu_r.square_()).clamp_min_(0)
        ref_flat, fake_flat = var_r < VIF_EPS, var_f < VIF_EPS
        gain = torch.div(cov, torch.add(var_r, VIF_EPS, out=mu_r), out=mu_r)
        noise = torch.sub(var_f, torch.mul(gain, cov, out=mu_f), out=mu_f)
        gain.masked_fill_(ref_flat, 0.0)  # flat reference window: no gain, all of the fake is noise
        noise = torch.where(ref_flat, var_f, noise, out=noise)
        var_r.masked_fill_(ref_flat, 0.0)
        gain.masked_fill_(fake_flat, 0.0)  # flat fake window: neither gain nor noise
        noise.masked_fill_(fake_flat, 0.0)
        noise = torch.where(gain < 0, var_f, noise, out=noise)  # a negative gain: none, and all noise
        gain.clamp_min_(0)
        noise.clamp_min_(VIF_EPS).add_(sigma_n_sq)
        num += gain.square_().mul_(var_r).div_(noise).log1p_().sum(dim=(0, 3)).div_(math.log(10))
        den += var_r.div_(sigma_n_sq).log1p_().sum(dim=(0, 3)).div_(math.log(10))
    return ((num + VIF_EPS) / (den + VIF_EPS)).mean(dim=1)
