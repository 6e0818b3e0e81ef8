"""Full-reference metrics: each generated image against the real photo of the same label map.

Both follow piq on images in [0, 1], all three RGB channels, averaged over the
test images (the mean of per-image values):

- PSNR: 10 log10(1 / MSE) over all pixels and channels of an image.
- SSIM: Gaussian window 11x11, sigma 1.5, K1 0.01, K2 0.03, no padding ("valid"
  windows), computed per channel and averaged, no automatic downsampling.
"""

from __future__ import annotations

import piq
import torch
from pydantic import Field

from benchmark.api import EvalContext, Metric, MetricResult, Options
from benchmark.hookspecs import hookimpl


def per_image(ctx: EvalContext, fn) -> tuple[float, int]:
    """Mean of ``fn(fake, real)`` (one value per image) over the test images, and the count."""
    values = [fn(fake, real) for fake, real in ctx.pairs()]
    flat = torch.cat(values) if values else torch.empty(0)
    return float(flat.double().mean()), int(flat.numel())


class PSNR(Metric):
    name = "psnr"
    summary = "peak signal-to-noise ratio (dB) of each fake against its real photo (piq)"
    columns = {"PSNR": "up"}

    def compute(self, ctx, options):
        value, n = per_image(ctx, lambda f, r: piq.psnr(f, r, data_range=1.0, reduction="none"))
        return MetricResult({"PSNR": value}, {"images": n, "range": "[0,1]", "channels": "RGB",
                                              "library": f"piq {piq.__version__}"})


class SSIMOptions(Options):
    kernel_size: int = Field(11, ge=3, description="side of the Gaussian window (odd)")
    kernel_sigma: float = Field(1.5, gt=0, description="standard deviation of the Gaussian window")


class SSIM(Metric):
    name = "ssim"
    summary = "structural similarity, Gaussian window 11 / sigma 1.5 on [0, 1] (piq)"
    columns = {"SSIM": "up"}
    Options = SSIMOptions

    def compute(self, ctx, options):
        def fn(fake, real):
            return piq.ssim(fake, real, kernel_size=options.kernel_size, kernel_sigma=options.kernel_sigma,
                            data_range=1.0, reduction="none", downsample=False)

        value, n = per_image(ctx, fn)
        window = f"gaussian {options.kernel_size}/{options.kernel_sigma}"
        return MetricResult({"SSIM": value}, {"images": n, "window": window, "range": "[0,1]",
                                              "channels": "RGB mean", "library": f"piq {piq.__version__}"})


@hookimpl
def register_metrics(register):
    register(PSNR())
    register(SSIM())
