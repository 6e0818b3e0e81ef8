"""95% bootstrap confidence intervals of per-image metrics (PSNR, SSIM, UQI, VIF, ...).

A metric that is the mean of one value per test image may hand the harness those values
(``MetricResult.per_image``); the harness then records, beside the mean, a percentile
bootstrap interval over the test images: ``RESAMPLES`` resamples of the n images drawn with
replacement (a fixed seed, so the interval is reproducible), the mean of each, and the
2.5th and 97.5th percentiles of those means (numpy's linear interpolation). It says how
much the number would move with another test set of the same size from the same source;
it does not cover training noise (that is what seeds are for). Cost: RESAMPLES x n
additions (2,000 x 500 images: a few milliseconds); the resamples are drawn in blocks so
memory stays under ~16 MB whatever n is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95
SEED = 0
_BLOCK_VALUES = 2 ** 21  # indices drawn at once (int64: 16 MB)


def bootstrap_ci(values: Sequence[float], *, level: float = LEVEL, resamples: int = RESAMPLES,
                 seed: int = SEED) -> tuple[float, float] | None:
    """The percentile bootstrap interval of the mean of ``values``; None with fewer than two
    finite values (no spread to resample)."""
    data = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    n = len(data)
    if n < 2:
        return None
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    per_block = max(1, _BLOCK_VALUES // n)
    for start in range(0, resamples, per_block):
        count = min(per_block, resamples - start)
        means[start:start + count] = data[rng.integers(0, n, size=(count, n))].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def protocol() -> dict:
    """How the interval was made, as recorded beside it."""
    return {"method": "percentile bootstrap over test images", "level": LEVEL, "resamples": RESAMPLES,
            "seed": SEED}
