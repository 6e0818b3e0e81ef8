"""An example third-party plugin for bench: one metric, the mean absolute error.

bench loads this module through the ``bench`` entry point declared in
``pyproject.toml`` and calls each ``@hookimpl`` function with a ``register``
callback.
"""

from __future__ import annotations

import torch

from benchmark import DataError, EvalContext, Metric, MetricResult, Options, hookimpl


class MAE(Metric):
    """Mean absolute error between each generated image and the real photo of its label map.

    Pixels in [0, 1], all three RGB channels: the mean of |fake - real| over the
    pixels of an image, then over the test images. 0 is a perfect copy.
    """

    name = "mae"
    summary = "mean absolute error of each fake against its real photo, pixels in [0, 1]"
    columns = {"MAE": "down"}  # column name -> direction: lower is better
    kind = "paired"

    def compute(self, ctx: EvalContext, options: Options) -> MetricResult:
        per_image = [(fake - real).abs().flatten(1).mean(dim=1) for fake, real in ctx.pairs()]
        if not per_image:
            raise DataError(f"mae: no generated images in {ctx.fake_dir}")
        values = torch.cat(per_image).double()
        # The protocol facts decide which leaderboard rows may be ranked against each other.
        return MetricResult({"MAE": float(values.mean())},
                            {"images": values.numel(), "range": "[0,1]", "channels": "RGB",
                             "reduction": "mean per image, then over images"})


@hookimpl
def register_metrics(register):
    register(MAE())
