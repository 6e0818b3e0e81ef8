"""The report's sample grid: rows are test images; columns label | real | each run's fake."""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np

from benchmark.results.records import RunRecord
from benchmark.rundir.layout import ImageSet, RunDir
from benchmark.util.grid import compose, png_bytes

GRID_ROWS = 6
GRID_TILE = 128
GRID_GAP = 2


def run_images(record: RunRecord) -> ImageSet:
    return RunDir(Path(record.run_dir)).images


def sample_grid(records: list[RunRecord], max_rows: int = GRID_ROWS,
                tile: int = GRID_TILE) -> tuple[bytes | None, str]:
    """PNG bytes of the grid, or (None, why it was skipped)."""
    if not records:
        return None, "sample grid skipped: no runs to show"
    first = run_images(records[0])
    folders = [first.label, first.real] + [run_images(r).fake for r in records]
    missing = list(dict.fromkeys(str(f) for f in folders if not f.is_dir()))
    if missing:
        return None, f"sample grid skipped: missing image folder(s) {', '.join(missing)}"
    stems = set.intersection(*({p.stem for p in f.glob("*.png")} for f in folders))
    if not stems:
        return None, "sample grid skipped: no test image is present in every run's images folders"
    rows = [[_read(folder / f"{stem}.png", label=i == 0) for i, folder in enumerate(folders)]
            for stem in sorted(stems)[:max_rows]]
    headers = ["label", "real"] + [r.label for r in records]
    return png_bytes(compose(rows, tile=tile, gap=GRID_GAP, nearest={0}, headers=headers)), ""


def _read(path, *, label: bool) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        return label_to_rgb(im) if label else np.asarray(im.convert("RGB"))


def label_to_rgb(im) -> np.ndarray:
    """Label maps stored as small class ids (mode L/I) are false-coloured so they are visible."""
    if im.mode not in ("L", "I", "I;16"):
        return np.asarray(im.convert("RGB"))
    ids = np.asarray(im).astype(np.int64)
    if ids.max(initial=0) > 64:  # already an image (e.g. a sketch), not class ids
        return np.asarray(im.convert("RGB"))
    return palette(int(ids.max(initial=0)) + 1)[ids]


def palette(count: int) -> np.ndarray:
    """Distinct, deterministic colours: hues spread by the golden ratio."""
    colours = [colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.65, 0.95) for i in range(count)]
    return (np.asarray(colours) * 255).round().astype(np.uint8)
