"""Full-reference metrics: each generated image against the real photo of the same label map.

Four plugins, ``psnr``, ``ssim``, ``uqi`` and ``vif``, each the mean over the test
images of a per-image value computed by :mod:`bench_plugins.metrics.image_quality` (batched
torch in float64, on the evaluation device). Images are read as RGB in [0, 1]; the
protocol of every value records the window, the range, the channels and the
conventions that make it comparable:

- PSNR: piq's -10 log10(MSE + 1e-8) over all pixels and channels; identical images
  score a finite value (``image_quality.PSNR_IDENTICAL``, recorded in the protocol).
- SSIM: piq's, Gaussian window 11 / sigma 1.5, valid windows, per channel and averaged,
  no automatic downsampling.
- UQI: Wang and Bovik's index in 8x8 box windows, per channel and averaged; flat
  window pairs score their luminance factor (not sewar's ``uqi``, which is wrong).
- VIF: pixel-domain VIFp on luma (as piq; ``--set vif.channels=rgb`` for sewar's
  per-channel mean), 4 scales, images of at least 41x41.

An image set smaller than a metric's window leaves that metric's cell empty with a
note saying the size it needs.
"""

from __future__ import annotations

from typing import Callable, Literal

import torch
from bench_plugins.metrics import image_quality
from pydantic import Field, field_validator

from benchmark import DataError, EvalContext, Metric, MetricResult, Options, hookimpl
from benchmark import read_rgb

PerImage = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def per_image_values(ctx: EvalContext, fn: PerImage) -> torch.Tensor:
    """``fn(fake, real)`` of every test image (one float64 value each)."""
    values = []
    for fake, real in ctx.pairs():
        if fake.shape != real.shape:
            raise DataError(f"generated images {tuple(fake.shape[-2:])} and real photos {tuple(real.shape[-2:])} "
                            f"differ in size ({ctx.fake_dir} vs {ctx.real_dir}); regenerate the test images")
        values.append(fn(fake, real))  # the functions slice large batches themselves (image_quality.CHUNK)
    return torch.cat(values) if values else torch.empty(0, dtype=torch.float64)


def too_small(ctx: EvalContext, stem: str, side: int, what: str) -> str | None:
    """A note when the test images (as the real photo ``stem``) are under ``side`` pixels a side, else None."""
    h, w = read_rgb(ctx.real_dir / f"{stem}.png").shape[-2:]
    if min(h, w) >= side:
        return None
    return (f"{what} needs images of at least {side}x{side} pixels, these are {h}x{w} "
            f"(evaluate at a larger size: --set image_size={max(64, side)})")


def result(ctx: EvalContext, column: str, fn: PerImage, protocol: dict, side: int, what: str) -> MetricResult:
    """The metric's MetricResult: the mean of ``fn`` over the test images, or an empty cell with a note."""
    stems = ctx.stems()
    note = too_small(ctx, stems[0], side, what) if stems else "no generated images"
    if note:
        return MetricResult({column: None}, protocol, {column: note})
    flat = per_image_values(ctx, fn)
    return MetricResult({column: float(flat.mean())}, {"images": int(flat.numel()), **protocol},
                        per_image={column: flat.tolist()})


class PSNR(Metric):
    """Peak signal-to-noise ratio in dB, piq's definition: -10 log10(MSE + 1e-8) on [0, 1].

    Per image over all pixels and all three RGB channels, then the mean over the test
    images. Identical images score ``image_quality.PSNR_IDENTICAL`` (piq's 1e-8 caps it; a
    plain formula would give infinity); it shifts any PSNR below 50 dB by under 0.005 dB.
    """

    name = "psnr"
    summary = "peak signal-to-noise ratio (dB) of each fake against its real photo (piq's definition)"
    columns = {"PSNR": "up"}

    def compute(self, ctx, options):
        protocol = {"range": "[0,1]", "channels": "RGB", "identical": image_quality.PSNR_IDENTICAL}
        return result(ctx, "PSNR", image_quality.psnr, protocol, 1, "PSNR")


class SSIMOptions(Options):
    kernel_size: int = Field(11, ge=3, description="side of the Gaussian window (odd)")
    kernel_sigma: float = Field(1.5, gt=0, description="standard deviation of the Gaussian window")

    @field_validator("kernel_size")
    @classmethod
    def odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"the window must have a centre pixel: use an odd size, not {value}")
        return value


class SSIM(Metric):
    """Structural similarity (Wang et al., 2004), piq's ``ssim(..., downsample=False)``.

    Images in [0, 1] (C1 = 0.01^2, C2 = 0.03^2), local statistics under a Gaussian
    window of 11 pixels, sigma 1.5 (options ``kernel_size``, ``kernel_sigma``) at every
    position where it lies wholly inside the image (no padding), the SSIM map averaged
    per channel, the three RGB channels averaged, then the test images averaged.
    Identical images score 1. Images need at least ``kernel_size`` pixels a side.
    """

    name = "ssim"
    summary = "structural similarity, Gaussian window 11 / sigma 1.5 on [0, 1] (piq's definition)"
    columns = {"SSIM": "up"}
    Options = SSIMOptions

    def compute(self, ctx, options):
        def fn(fake, real):
            return image_quality.ssim(fake, real, options.kernel_size, options.kernel_sigma)

        protocol = {"window": f"gaussian {options.kernel_size}/{options.kernel_sigma}", "range": "[0,1]",
                    "channels": "RGB mean"}
        return result(ctx, "SSIM", fn, protocol, options.kernel_size, "SSIM")


class UQIOptions(Options):
    window: int = Field(8, ge=2, description="side of the square sliding window (the paper's 8)")


class UQI(Metric):
    """Universal quality index (Wang and Bovik, 2002) in square sliding windows.

    In every 8x8 window (option ``window``) wholly inside the image, stride 1, Q = 4 sxy
    mx my / ((sx^2 + sy^2)(mx^2 + my^2)) from the two windows' means, variances and
    covariance; Q averaged over windows, over the three RGB channels (each in [0, 1]),
    then over the test images. Flat window pairs (both constant: sx^2 + sy^2 < 1e-12)
    score their luminance factor 2 mx my / (mx^2 + my^2), and 1 if both are black; a pair
    with one flat window scores 0. Identical images score 1, unrelated noise about 0.
    ``sewar.full_ref.uqi`` differs (about 0.8 for unrelated noise): it puts window means
    into a formula written for window sums. Images need at least ``window`` pixels a side.
    """

    name = "uqi"
    summary = "universal quality index (Wang and Bovik 2002), 8x8 sliding windows, RGB mean"
    columns = {"UQI": "up"}
    Options = UQIOptions

    def compute(self, ctx, options):
        def fn(fake, real):
            return image_quality.uqi(fake, real, options.window)

        protocol = {"window": f"box {options.window}x{options.window}", "range": "[0,1]", "channels": "RGB mean",
                    "flat windows": "luminance factor"}
        return result(ctx, "UQI", fn, protocol, options.window, "UQI")


class VIFOptions(Options):
    channels: Literal["luma", "rgb"] = Field(
        "luma", description="luma: on Y = 0.299 R + 0.587 G + 0.114 B (piq's vif_p); "
                            "rgb: per channel, the three values averaged (sewar's vifp)")
    sigma_n_sq: float = Field(2.0, gt=0, description="variance of the visual noise, in [0, 255] units (2 in both)")


class VIF(Metric):
    """Visual information fidelity in the pixel domain, VIFp (Sheikh and Bovik, 2006).

    The real photo is the reference. Images scaled to [0, 255]; by default on luma
    Y = 0.299 R + 0.587 G + 0.114 B exactly as ``piq.vif_p`` (option ``channels=rgb``:
    on each channel, the three values averaged, as ``sewar.full_ref.vifp`` on 8-bit
    images); four scales with Gaussian windows 17, 9, 5, 3 (sigma = side / 5), the
    image blurred and halved between scales; noise variance 2. Identical images score 1,
    a contrast boost without noise scores above 1. Images need at least 41x41 pixels;
    smaller ones leave the cell empty with a note. Mean over the test images.
    """

    name = "vif"
    summary = "visual information fidelity, pixel domain (VIFp), on luma as piq"
    columns = {"VIF": "up"}
    Options = VIFOptions

    def compute(self, ctx, options):
        def fn(fake, real):
            return image_quality.vif(fake, real, options.channels, options.sigma_n_sq)

        protocol = {"window": "gaussian 17/9/5/3, 4 scales", "range": "[0,255]",
                    "channels": "luma (BT.601)" if options.channels == "luma" else "RGB mean",
                    "sigma_n_sq": options.sigma_n_sq}
        return result(ctx, "VIF", fn, protocol, image_quality.vif_min_size(), "VIF")


@hookimpl
def register_metrics(register):
    register(PSNR())
    register(SSIM())
    register(UQI())
    register(VIF())
