"""How a leaderboard prints a number: a value by its size, mean ± std over seeds, a dash for none."""

from __future__ import annotations

import math

from benchmark.results.aggregate import Stats

#: an empty cell
DASH = "—"


def format_stats(own: Stats, scale: float = 1.0) -> str:
    """``12.93 ± 0.05 (n=3)``: the std with the mean's decimals; one seed: ``12.93 (n=1)``
    (``scale``: 100 for a column printed in percent)."""
    mean = format_value(own.mean, scale)
    if own.std is None:
        return f"{mean} (n={own.n})"
    decimals = len(mean.partition(".")[2])
    return f"{mean} ± {own.std * scale:.{decimals}f} (n={own.n})"


def is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def format_value(value: float | None, scale: float = 1.0) -> str:
    """|v| >= 10: two decimals (PSNR 27.13); otherwise four (SSIM 0.8123); a fraction printed in
    percent (``scale`` 100): two decimals (mIoU 8.66)."""
    if value is None:
        return DASH
    if not math.isfinite(value):
        return str(value)
    if scale != 1.0:
        return f"{value * scale:.2f}"
    return f"{value:.2f}" if abs(value) >= 10 else f"{value:.4f}"
