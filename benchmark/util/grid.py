"""One image-grid helper: training sample grids, the report's sample grid and `bench datasets preview`.

A grid is a list of rows, each a list of RGB uint8 arrays (H, W, 3). Tiles are resized to
``tile`` px high tiles with the first image's aspect ratio (squares for square images;
``tile=None`` keeps the images' own size, which must then agree),
``group`` neighbouring tiles are placed without a gap between them (a label | photo pair)
and groups are separated by ``gap`` px of background, also around the border. Optional
``headers`` are written above the columns of groups. Columns listed in ``nearest`` are
resized without interpolation, so a label map keeps its exact palette colours.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence

import numpy as np

HEADER_HEIGHT = 16
BACKGROUND = 255


def compose(rows: Sequence[Sequence[np.ndarray]], *, tile: int | None = None, gap: int = 0, group: int = 1,
            nearest: Collection[int] = (), headers: Sequence[str] | None = None) -> np.ndarray:
    """The grid as one RGB uint8 array; see the module docstring for the layout."""
    if not rows or not any(rows):
        raise ValueError("an image grid needs at least one image")
    first = np.asarray(next(image for row in rows for image in row))
    shape = None if tile is None else (tile, max(1, round(tile * first.shape[1] / first.shape[0])))
    cells = [[_fit(image, shape, col in nearest) for col, image in enumerate(row)] for row in rows]
    tile_h, tile_w = cells[0][0].shape[:2]
    columns = max(len(row) for row in cells)
    groups = -(-columns // group)
    top = HEADER_HEIGHT if headers else 0
    width = gap + groups * (group * tile_w + gap)
    height = top + gap + len(cells) * (tile_h + gap)
    canvas = np.full((height, width, 3), BACKGROUND, dtype=np.uint8)
    for r, row in enumerate(cells):
        y = top + gap + r * (tile_h + gap)
        for col, image in enumerate(row):
            if image.shape[:2] != (tile_h, tile_w):
                raise ValueError(f"grid tiles differ in size: {image.shape[:2]} vs {(tile_h, tile_w)}")
            x = _x(col, group, tile_w, gap)
            canvas[y:y + tile_h, x:x + tile_w] = image
    if headers:
        canvas = _write_headers(canvas, headers, group * tile_w, gap)
    return canvas


def png_bytes(grid: np.ndarray) -> bytes:
    """A grid as PNG file content (for embedding; files are written with ``imageio.write_png``)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(grid).save(buffer, format="PNG")
    return buffer.getvalue()


def _x(col: int, group: int, tile_w: int, gap: int) -> int:
    number, inside = divmod(col, group)
    return gap + number * (group * tile_w + gap) + inside * tile_w


def _fit(image: np.ndarray, tile: tuple[int, int] | None, nearest: bool) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = image[..., :3].astype(np.uint8, copy=False)
    if tile is None or image.shape[:2] == tile:
        return image
    from PIL import Image

    resample = Image.NEAREST if nearest else Image.BICUBIC
    return np.asarray(Image.fromarray(image).resize((tile[1], tile[0]), resample))


def _write_headers(canvas: np.ndarray, headers: Sequence[str], column_w: int, gap: int) -> np.ndarray:
    from PIL import Image, ImageDraw

    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    max_chars = max(1, column_w // 6)  # the default bitmap font is about 6 px a character
    for col, text in enumerate(headers):
        draw.text((gap + col * (column_w + gap), 2), text[:max_chars], fill="black")
    return np.asarray(image)
