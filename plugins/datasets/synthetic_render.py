"""Procedural facade renderer behind the embedded ``synthetic-facades`` dataset.

``render_facade(seed, size)`` draws one (photo, label map) pair over the twelve
classes of the CMP Facades set. Nothing is downloaded: every pair is a
deterministic function of its seed.

The work is split in three stages:

1. *Plan* (size independent): a list of labelled rectangles in relative
   coordinates (0..1, y pointing down) -- sky, wall, a grid of floors and
   window columns, and the elements that hang off that grid (sills, blinds,
   balconies, cornices, moldings, pillars, decorations, a shop floor, doors).
2. *Rasterise*: the rectangles are painted in a fixed depth order into a map
   of rectangle ids, from which the label map follows. Keeping the id of the
   rectangle behind every pixel lets the photo stage know where each pixel
   sits inside its element (for frames, gradients, stripes...).
3. *Photo*: every class is painted from an image-specific colour with its own
   texture, then the whole picture gets soft shadows, a lighting gradient, a
   colour cast and pixel noise.

All randomness comes from one ``np.random.default_rng(seed)``. The plan and the
style are drawn first and do not depend on ``size``, so a smaller size is the
same building at a lower resolution; only the pixel noise, drawn last, depends
on the size.

Run this file as a script to print the rendering time per 256 px image.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from bench_plugins.datasets.facades_classes import CLASS_NAMES

(BACKGROUND, FACADE, WINDOW, DOOR, CORNICE, SILL,
 BALCONY, BLIND, DECO, MOLDING, PILLAR, SHOP) = range(len(CLASS_NAMES))

# Paint order: a class further right covers the ones on its left where they overlap.
_DEPTH_ORDER = [BACKGROUND, FACADE, PILLAR, SHOP, CORNICE, MOLDING, WINDOW,
                BLIND, SILL, BALCONY, DECO, DOOR]
_DEPTH = {cls: depth for depth, cls in enumerate(_DEPTH_ORDER)}


# ---------------------------------------------------------------------------
# Stage 1: the plan (relative coordinates, independent of the output size)
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Rect:
    """An axis-aligned labelled rectangle in relative coordinates (y down)."""

    cls: int
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass
class _Grid:
    """Where the floors and window columns of one building are."""

    left: float
    right: float
    sky: float            # bottom of the sky strip = top of the wall
    top: float            # top of the first floor (below the roof cornice)
    ground_top: float     # top of the ground floor
    floor_tops: list[float]
    floor_h: float
    margin: float         # wall between the facade edge and the first column
    pitch: float          # distance between column centres
    win_w: float
    win_h: float
    win_off: float        # window top below its floor top
    roof_h: float

    @property
    def n_cols(self) -> int:
        return int(round((self.right - self.left - 2 * self.margin) / self.pitch))

    def col_centre(self, j: int) -> float:
        return self.left + self.margin + (j + 0.5) * self.pitch


@dataclass
class _Window:
    x0: float
    y0: float
    x1: float
    y1: float
    floor: int            # 0 = top floor; the ground floor is len(floor_tops)


@dataclass
class _Plan:
    rects: list[Rect] = field(default_factory=list)

    def add(self, cls: int, x0: float, y0: float, x1: float, y1: float) -> None:
        x0, x1 = max(0.0, x0), min(1.0, x1)
        y0, y1 = max(0.0, y0), min(1.0, y1)
        if x1 > x0 and y1 > y0:
            self.rects.append(Rect(cls, x0, y0, x1, y1))

    def in_paint_order(self) -> list[Rect]:
        # Python's sort is stable: within a class the drawing order is kept.
        return sorted(self.rects, key=lambda r: _DEPTH[r.cls])


def _plan_grid(rng: np.random.Generator) -> _Grid:
    """The wall outline, the number of floors and columns, window sizes."""
    sky = rng.uniform(0.03, 0.18) if rng.random() < 0.88 else 0.0
    if rng.random() < 0.3:      # narrower building: sky on the sides as well
        left, right = rng.uniform(0.02, 0.12), 1.0 - rng.uniform(0.02, 0.12)
    else:
        left, right = 0.0, 1.0
    roof_h = rng.uniform(0.015, 0.035) if rng.random() < 0.75 else 0.0
    n_floors = int(rng.integers(3, 8))          # ground floor included
    ground_h = rng.uniform(0.15, 0.24)
    top = sky + roof_h
    ground_top = 1.0 - ground_h
    floor_h = (ground_top - top) / (n_floors - 1)
    width = right - left
    margin = width * rng.uniform(0.03, 0.1)
    # Window size follows the floor height; the number of columns follows from how
    # much wall each window gets, so windows keep a plausible shape and spacing.
    win_h = floor_h * rng.uniform(0.45, 0.62)
    aspect = rng.uniform(0.8, 2.0)             # height / width; mostly upright windows
    share = rng.uniform(0.25, 0.6)             # window width / column pitch
    n_cols = int(np.clip(round((width - 2 * margin) * share * aspect / win_h), 2, 7))
    pitch = (width - 2 * margin) / n_cols
    win_w = min(win_h / aspect, pitch * 0.7)
    return _Grid(
        left=left, right=right, sky=sky, top=top, ground_top=ground_top,
        floor_tops=[top + i * floor_h for i in range(n_floors - 1)],
        floor_h=floor_h, margin=margin, pitch=pitch,
        win_w=win_w, win_h=win_h,
        win_off=floor_h * rng.uniform(0.15, 0.3),
        roof_h=roof_h,
    )


def _draw_wall_and_roof(plan: _Plan, g: _Grid, rng: np.random.Generator) -> None:
    plan.add(BACKGROUND, 0.0, 0.0, 1.0, 1.0)
    plan.add(FACADE, g.left, g.sky, g.right, 1.0)
    if g.roof_h > 0:
        overhang = rng.uniform(0.0, 0.02) if g.left > 0 else 0.0
        plan.add(CORNICE, g.left - overhang, g.sky, g.right + overhang, g.sky + g.roof_h)


def _draw_floor_cornices(plan: _Plan, g: _Grid, rng: np.random.Generator) -> None:
    """Horizontal bands between floors (and above the ground floor)."""
    if rng.random() >= 0.6:
        return
    thickness = rng.uniform(0.008, 0.02)
    keep = rng.uniform(0.4, 1.0)
    for y in g.floor_tops[1:]:
        if rng.random() < keep:
            plan.add(CORNICE, g.left, y - thickness / 2, g.right, y + thickness / 2)
    plan.add(CORNICE, g.left, g.ground_top - thickness / 2, g.right, g.ground_top + thickness / 2)


def _draw_pillars(plan: _Plan, g: _Grid, rng: np.random.Generator) -> None:
    """Vertical bands at the facade edges and/or between window columns."""
    if rng.random() >= 0.4:
        return
    kind = rng.choice(["edges", "between", "both"])
    bottom = g.ground_top if rng.random() < 0.5 else 1.0
    if kind in ("edges", "both"):
        w = g.margin * rng.uniform(0.5, 0.85)
        plan.add(PILLAR, g.left, g.top, g.left + w, bottom)
        plan.add(PILLAR, g.right - w, g.top, g.right, bottom)
    if kind in ("between", "both"):
        w = (g.pitch - g.win_w) * rng.uniform(0.2, 0.45)
        step = int(rng.integers(1, 3)) if g.n_cols >= 4 else 1
        for j in range(step, g.n_cols, step):
            x = g.left + g.margin + j * g.pitch
            plan.add(PILLAR, x - w / 2, g.top, x + w / 2, bottom)


def _upper_windows(g: _Grid, rng: np.random.Generator) -> list[_Window]:
    """Rows and columns of windows on every floor above the ground floor."""
    attic = rng.random() < 0.3          # smaller windows on the top floor
    windows = []
    for f, floor_top in enumerate(g.floor_tops):
        h = g.win_h * (0.65 if attic and f == 0 else 1.0)
        for j in range(g.n_cols):
            cx = g.col_centre(j)
            y0 = floor_top + g.win_off
            windows.append(_Window(cx - g.win_w / 2, y0, cx + g.win_w / 2, y0 + h, f))
    return windows


def _draw_ground_floor(plan: _Plan, g: _Grid, rng: np.random.Generator) -> list[_Window]:
    """A shop front or a row of windows, and the doors; returns the ground-floor windows."""
    ground = len(g.floor_tops)
    ground_h = 1.0 - g.ground_top
    if rng.random() < 0.45:
        _draw_shop(plan, g, rng)
        if rng.random() < 0.5:
            j = int(rng.integers(0, g.n_cols))
            w = g.pitch * rng.uniform(0.3, 0.5)
            cx = g.col_centre(j)
            plan.add(DOOR, cx - w / 2, g.ground_top + ground_h * rng.uniform(0.2, 0.35), cx + w / 2, 1.0)
        return []
    door_cols = {int(rng.integers(0, g.n_cols))}
    if g.n_cols >= 5 and rng.random() < 0.3:
        door_cols.add(int(rng.integers(0, g.n_cols)))
    if rng.random() < 0.1:
        door_cols = set()
    door_h = ground_h * rng.uniform(0.65, 0.88)
    door_w = min(g.pitch * rng.uniform(0.4, 0.75), door_h / rng.uniform(1.3, 2.2))
    win_h = ground_h * rng.uniform(0.4, 0.6)
    win_top = g.ground_top + ground_h * rng.uniform(0.12, 0.25)
    windows = []
    for j in range(g.n_cols):
        cx = g.col_centre(j)
        if j in door_cols:
            plan.add(DOOR, cx - door_w / 2, 1.0 - door_h, cx + door_w / 2, 1.0)
        else:
            windows.append(_Window(cx - g.win_w / 2, win_top, cx + g.win_w / 2, win_top + win_h, ground))
    return windows


def _draw_shop(plan: _Plan, g: _Grid, rng: np.random.Generator) -> None:
    """Shop bays over the ground floor, separated by wall piers (or one wide front)."""
    top = g.ground_top + rng.uniform(0.0, 0.02)
    if rng.random() < 0.4:
        plan.add(SHOP, g.left + g.margin * 0.5, top, g.right - g.margin * 0.5, 1.0)
        return
    pier = (g.pitch - g.win_w) * rng.uniform(0.2, 0.5)
    piers_are_pillars = rng.random() < 0.5
    edges = [g.left + g.margin + j * g.pitch for j in range(g.n_cols + 1)]
    for j in range(g.n_cols):
        plan.add(SHOP, edges[j] + pier / 2, top, edges[j + 1] - pier / 2, 1.0)
    if piers_are_pillars:
        for x in edges[1:-1]:
            plan.add(PILLAR, x - pier / 2, top, x + pier / 2, 1.0)


def _draw_windows(plan: _Plan, windows: list[_Window]) -> None:
    for w in windows:
        plan.add(WINDOW, w.x0, w.y0, w.x1, w.y1)


def _draw_moldings(plan: _Plan, windows: list[_Window], rng: np.random.Generator) -> None:
    """Frames around the windows of some floors, sometimes with a cap above."""
    if rng.random() >= 0.5:
        return
    m = rng.uniform(0.005, 0.012)
    cap = rng.random() < 0.4
    floors = {w.floor for w in windows}
    chosen = {f for f in floors if rng.random() < 0.7} or floors
    for w in windows:
        if w.floor not in chosen:
            continue
        plan.add(MOLDING, w.x0 - m, w.y0 - 1.5 * m, w.x1 + m, w.y1)
        if cap:
            plan.add(MOLDING, w.x0 - 2 * m, w.y0 - 3.5 * m, w.x1 + 2 * m, w.y0 - 1.5 * m)


def _draw_blinds(plan: _Plan, windows: list[_Window], rng: np.random.Generator) -> None:
    """Roller blinds over the upper part of some windows."""
    if rng.random() >= 0.5:
        return
    share = rng.uniform(0.25, 0.9)
    for w in windows:
        if rng.random() < share:
            drop = rng.uniform(0.15, 0.7)
            plan.add(BLIND, w.x0, w.y0, w.x1, w.y0 + drop * (w.y1 - w.y0))


def _draw_sills(plan: _Plan, windows: list[_Window], rng: np.random.Generator) -> None:
    if rng.random() >= 0.9:
        return
    t = rng.uniform(0.006, 0.014)
    e = rng.uniform(0.002, 0.01)
    for w in windows:
        plan.add(SILL, w.x0 - e, w.y1, w.x1 + e, w.y1 + t)


def _draw_balconies(plan: _Plan, g: _Grid, windows: list[_Window], rng: np.random.Generator) -> None:
    """Balconies in front of the lower part of the windows of some upper floors."""
    if rng.random() >= 0.5 or not g.floor_tops:
        return
    n_upper = len(g.floor_tops)
    floors = {f for f in range(n_upper) if rng.random() < 0.5} or {int(rng.integers(0, n_upper))}
    cover = rng.uniform(0.25, 0.45)
    slab = rng.uniform(0.006, 0.012)
    continuous = rng.random() < 0.35
    reach = min(rng.uniform(0.005, 0.03), (g.pitch - g.win_w) * 0.4)
    done_rows = set()
    for w in windows:
        if w.floor not in floors:
            continue
        y0 = w.y1 - cover * (w.y1 - w.y0)
        if continuous:
            if w.floor not in done_rows:
                plan.add(BALCONY, g.left + g.margin * 0.5, y0, g.right - g.margin * 0.5, w.y1 + slab)
                done_rows.add(w.floor)
        else:
            plan.add(BALCONY, w.x0 - reach, y0, w.x1 + reach, w.y1 + slab)


def _draw_decorations(plan: _Plan, g: _Grid, windows: list[_Window], rng: np.random.Generator) -> None:
    """Small ornaments: keystones over windows, brackets under the roof, panels under windows."""
    if rng.random() >= 0.55:
        return
    kinds = [k for k in ("keystone", "bracket", "panel") if rng.random() < 0.5] or ["keystone"]
    k = rng.uniform(0.008, 0.016)
    if "keystone" in kinds:
        for w in windows:
            cx = (w.x0 + w.x1) / 2
            plan.add(DECO, cx - k, w.y0 - 2.2 * k, cx + k, w.y0)
    if "bracket" in kinds:
        n = 2 * g.n_cols + 1
        for i in range(n):
            x = g.left + g.margin + i * (g.right - g.left - 2 * g.margin) / (n - 1)
            plan.add(DECO, x - k * 0.6, g.top, x + k * 0.6, g.top + 2.5 * k)
    if "panel" in kinds:
        gap = g.floor_h - g.win_h      # wall between a window and the one below it
        if gap > 0.035:
            for w in windows:
                if w.floor < len(g.floor_tops):
                    inset = 0.15 * (w.x1 - w.x0)
                    y0 = w.y1 + 0.015
                    plan.add(DECO, w.x0 + inset, y0, w.x1 - inset, y0 + min(0.03, gap - 0.025))


def plan_facade(rng: np.random.Generator) -> list[Rect]:
    """Draw a building: labelled rectangles in relative coordinates, in paint order."""
    plan = _Plan()
    g = _plan_grid(rng)
    _draw_wall_and_roof(plan, g, rng)
    _draw_floor_cornices(plan, g, rng)
    _draw_pillars(plan, g, rng)
    windows = _upper_windows(g, rng) + _draw_ground_floor(plan, g, rng)
    _draw_windows(plan, windows)
    _draw_moldings(plan, windows, rng)
    _draw_blinds(plan, windows, rng)
    _draw_sills(plan, windows, rng)
    _draw_balconies(plan, g, windows, rng)
    _draw_decorations(plan, g, windows, rng)
    return plan.in_paint_order()


# ---------------------------------------------------------------------------
# Stage 2: rasterisation
# ---------------------------------------------------------------------------

def rasterize(rects: list[Rect], size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Paint the rectangles; returns (label map, rectangle-id map, pixel boxes x0,y0,x1,y1).

    Every rectangle covers at least one pixel, so thin elements survive small sizes.
    """
    boxes = np.zeros((len(rects), 4), dtype=np.int32)
    rid = np.zeros((size, size), dtype=np.int32)
    for i, r in enumerate(rects):
        x0 = min(int(round(r.x0 * size)), size - 1)
        y0 = min(int(round(r.y0 * size)), size - 1)
        x1 = max(x0 + 1, int(round(r.x1 * size)))
        y1 = max(y0 + 1, int(round(r.y1 * size)))
        boxes[i] = (x0, y0, x1, y1)
        rid[y0:y1, x0:x1] = i
    classes = np.array([r.cls for r in rects], dtype=np.uint8)
    return classes[rid], rid, boxes


@functools.lru_cache(maxsize=8)
def _pixel_coordinates(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every pixel in flat (row-major) order, as float32."""
    ys, xs = np.divmod(np.arange(size * size), size)
    ys, xs = ys.astype(np.float32), xs.astype(np.float32)
    ys.setflags(write=False)
    xs.setflags(write=False)
    return ys, xs


class _Pixels:
    """Every pixel, grouped by class, with its position inside the rectangle that painted it.

    Pixels are sorted by class once, so the pixels of one class are a contiguous slice
    of each array here (see :meth:`region`) and no per-class gathers are needed.
    """

    def __init__(self, label: np.ndarray, rid: np.ndarray, boxes: np.ndarray):
        self.size = label.shape[0]
        flat = label.ravel()
        groups = [np.flatnonzero(flat == cls) for cls in range(len(CLASS_NAMES))]
        self.order = np.concatenate(groups)                 # flat pixel indices, by class
        self.bounds = np.cumsum([0] + [len(g) for g in groups])
        ys, xs = _pixel_coordinates(self.size)
        self.ys, self.xs = ys[self.order], xs[self.order]
        self.rid = rid.ravel()[self.order]
        x0, y0, x1, y1 = (column[self.rid] for column in boxes.T.astype(np.float32))
        self.w, self.h = x1 - x0, y1 - y0
        self.left = self.xs - x0
        self.top = self.ys - y0

    def region(self, cls: int) -> "_Region":
        a, b = self.bounds[cls], self.bounds[cls + 1]
        return _Region(self, slice(a, b))


class _Region:
    """The pixels of one class (a slice of :class:`_Pixels`)."""

    def __init__(self, pixels: _Pixels, part: slice):
        self.size = pixels.size
        self.flat = pixels.order[part]
        self.ys, self.xs, self.rid = pixels.ys[part], pixels.xs[part], pixels.rid[part]
        self.w, self.h = pixels.w[part], pixels.h[part]
        self.left, self.top = pixels.left[part], pixels.top[part]
        self.right = self.w - 1 - self.left
        self.bottom = self.h - 1 - self.top
        self.u = (self.left + 0.5) / self.w       # 0..1 across the rectangle
        self.v = (self.top + 0.5) / self.h        # 0..1 down the rectangle

    def __len__(self) -> int:
        return len(self.ys)

    @property
    def edge(self) -> np.ndarray:
        """Distance in pixels to the nearest side of the rectangle."""
        return np.minimum(np.minimum(self.left, self.right), np.minimum(self.top, self.bottom))

    def field(self, grid: np.ndarray) -> np.ndarray:
        """A small grid stretched smoothly over the whole picture, read at these pixels."""
        return _upsample(grid, self.size).ravel()[self.flat]


# ---------------------------------------------------------------------------
# Stage 3: the photo
# ---------------------------------------------------------------------------

_FACADE_TONES = {
    "beige": (205, 188, 150), "grey": (165, 163, 158), "brick": (152, 74, 56),
    "white": (222, 216, 204), "ochre": (206, 160, 96), "rose": (200, 152, 140),
    "sand": (184, 170, 146),
}
_BLIND_TONES = [(62, 110, 72), (122, 82, 52), (218, 216, 206), (128, 128, 126), (88, 104, 128)]
_FRAME_TONES = [(228, 226, 220), (96, 64, 42), (48, 50, 52), (70, 96, 70)]


@dataclass
class _Style:
    """Colours and texture parameters of one picture (independent of the size)."""

    palette: np.ndarray                 # (12, 3) base colour per class
    sky_top: np.ndarray
    sky_horizon: np.ndarray
    clouds: np.ndarray | None           # low-resolution cloud field, or None
    wall_kind: str                      # brick | plaster | ashlar
    wall_noise: np.ndarray              # low-resolution plaster noise
    streaks: np.ndarray                 # 1 x n weathering streaks
    brick_h: float                      # relative height of a brick course / stone block
    brick_ratio: float
    brick_tint: np.ndarray              # per-brick brightness offsets
    mortar: np.ndarray
    frame: np.ndarray
    frame_w: float                      # relative
    mullion: bool
    transom: float | None
    reflection_angle: float
    reflection_period: float
    window_tint: np.ndarray             # per-window brightness factors
    blind_period: float
    door_glass: bool
    double_door: bool
    dentils: bool
    fluted: bool
    iron_balcony: bool
    baluster_period: float
    sign: np.ndarray
    sign_frac: float
    letters: np.ndarray
    shop_panes: int
    goods: np.ndarray
    light_angle: float
    light_strength: float
    shadow_strength: float
    cast: np.ndarray
    noise_sigma: float


def _jitter(rng: np.random.Generator, rgb, amount: float) -> np.ndarray:
    return np.clip(np.asarray(rgb, dtype=np.float32) + rng.uniform(-amount, amount, 3), 0, 255).astype(np.float32)


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(0, len(options)))]


def _draw_style(rng: np.random.Generator) -> _Style:
    tone = str(_pick(rng, list(_FACADE_TONES)))
    wall = _jitter(rng, _FACADE_TONES[tone], 18)
    if tone == "brick":
        wall_kind = "brick" if rng.random() < 0.85 else "plaster"
    else:
        wall_kind = "ashlar" if rng.random() < 0.3 else ("brick" if rng.random() < 0.1 else "plaster")
    stone = _jitter(rng, (212, 206, 194), 20)
    overcast = rng.random() < 0.25
    if overcast:
        sky_top, sky_horizon = _jitter(rng, (172, 176, 182), 20), _jitter(rng, (205, 207, 210), 15)
    else:
        sky_top, sky_horizon = _jitter(rng, (84, 138, 212), 25), _jitter(rng, (184, 208, 236), 18)
    glass = _jitter(rng, (52, 64, 80), 16)
    palette = np.zeros((len(CLASS_NAMES), 3), dtype=np.float32)
    palette[BACKGROUND] = sky_horizon
    palette[FACADE] = wall
    palette[WINDOW] = glass
    palette[DOOR] = _jitter(rng, _pick(rng, [(96, 58, 34), (70, 44, 30), (52, 76, 60), (120, 40, 36)]), 14)
    palette[CORNICE] = np.clip(0.45 * wall + 0.55 * stone, 0, 255) if rng.random() < 0.6 else stone
    palette[SILL] = _jitter(rng, (214, 210, 200), 18)
    iron = rng.random() < 0.6
    palette[BALCONY] = _jitter(rng, (42, 42, 46), 12) if iron else _jitter(rng, stone, 10)
    palette[BLIND] = _jitter(rng, _pick(rng, _BLIND_TONES), 14)
    palette[DECO] = _jitter(rng, stone * 0.95, 14)
    palette[MOLDING] = _jitter(rng, 0.35 * wall + 0.65 * stone, 10)
    palette[PILLAR] = np.clip(wall * rng.uniform(0.85, 1.12) + rng.uniform(-10, 10, 3), 0, 255)
    palette[SHOP] = _jitter(rng, _pick(rng, [(40, 40, 44), (92, 30, 30), (30, 54, 40), (200, 196, 188)]), 10)
    return _Style(
        palette=palette, sky_top=sky_top, sky_horizon=sky_horizon,
        clouds=rng.uniform(-1, 1, (6, 10)).astype(np.float32) if rng.random() < 0.5 else None,
        wall_kind=wall_kind,
        wall_noise=rng.uniform(-1, 1, (24, 24)).astype(np.float32),
        streaks=rng.uniform(-1, 1, (1, 40)).astype(np.float32),
        brick_h=rng.uniform(0.011, 0.018) if wall_kind == "brick" else rng.uniform(0.03, 0.05),
        brick_ratio=rng.uniform(2.0, 2.6) if wall_kind == "brick" else rng.uniform(1.6, 2.4),
        brick_tint=rng.uniform(-1, 1, (32, 32)).astype(np.float32),
        mortar=_jitter(rng, (196, 190, 178), 14) if wall_kind == "brick" else wall * 0.78,
        frame=_jitter(rng, _pick(rng, _FRAME_TONES), 10),
        frame_w=rng.uniform(0.003, 0.006),
        mullion=rng.random() < 0.6,
        transom=rng.uniform(0.2, 0.35) if rng.random() < 0.4 else None,
        reflection_angle=rng.uniform(0.3, 1.2),
        reflection_period=rng.uniform(0.08, 0.25),
        window_tint=rng.uniform(0.75, 1.3, 64).astype(np.float32),
        blind_period=rng.uniform(0.006, 0.012),
        door_glass=rng.random() < 0.4,
        double_door=rng.random() < 0.5,
        dentils=rng.random() < 0.5,
        fluted=rng.random() < 0.4,
        iron_balcony=iron,
        baluster_period=rng.uniform(0.008, 0.016) if iron else rng.uniform(0.015, 0.025),
        sign=_jitter(rng, _pick(rng, [(180, 40, 40), (30, 80, 150), (220, 180, 50), (30, 120, 70), (235, 235, 230)]), 20),
        sign_frac=rng.uniform(0.15, 0.3),
        letters=rng.random(48) < 0.55,
        shop_panes=int(rng.integers(1, 4)),
        goods=rng.uniform(60, 230, (16, 3)).astype(np.float32),
        light_angle=rng.uniform(0, 2 * np.pi),
        light_strength=rng.uniform(0.1, 0.3),
        shadow_strength=rng.uniform(0.25, 0.5),
        cast=rng.uniform(0.93, 1.07, 3).astype(np.float32),
        noise_sigma=rng.uniform(2.0, 7.0),
    )


@functools.lru_cache(maxsize=32)
def _interpolation_weights(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices i0, i1 and weight t so that out = in[i0]*(1-t) + in[i1]*t stretches n_in to n_out."""
    pos = np.clip((np.arange(n_out) + 0.5) / n_out * n_in - 0.5, 0, n_in - 1)
    i0 = pos.astype(np.int64)
    i1 = np.minimum(i0 + 1, n_in - 1)
    t = (pos - i0).astype(np.float32)
    for a in (i0, i1, t):
        a.setflags(write=False)
    return i0, i1, t


def _upsample(grid: np.ndarray, size: int) -> np.ndarray:
    """Bilinear stretch of a small (h, w) grid to (size, size), one axis at a time."""
    gh, gw = grid.shape
    i0, i1, t = _interpolation_weights(size, gh)
    rows = grid[i0] * (1 - t)[:, None] + grid[i1] * t[:, None]              # (size, gw)
    i0, i1, t = _interpolation_weights(size, gw)
    return rows[:, i0] * (1 - t) + rows[:, i1] * t                          # (size, size)


# Painters return colours channel-first, shape (3, n): broadcasting an RGB triple over a
# trailing axis of length 3 is many times slower in numpy than over a long last axis.

def _rgb(colour: np.ndarray) -> np.ndarray:
    return np.asarray(colour, dtype=np.float32).reshape(3, 1)


def _shaded(base: np.ndarray, shade) -> np.ndarray:
    """Base colour times a per-pixel brightness factor, as (3, n)."""
    return _rgb(base) * np.asarray(shade, dtype=np.float32)[None, :]


def _mix(a: np.ndarray, b: np.ndarray, t) -> np.ndarray:
    """a*(1-t) + b*t for (3, n) or (3, 1) colours and per-pixel weights t."""
    t = np.asarray(t, dtype=np.float32)[None, :]
    return a + (b - a) * t


def _px(rel: float, size: int, minimum: float = 1.0) -> float:
    return max(minimum, rel * size)


def _paint_sky(r: _Region, s: _Style, size: int) -> np.ndarray:
    col = _mix(_rgb(s.sky_top), _rgb(s.sky_horizon), r.ys / size)
    if s.clouds is not None:
        col = _mix(col, _rgb((240, 240, 240)), 0.6 * np.clip(r.field(s.clouds), 0, 1))
    return col


def _paint_wall(r: _Region, s: _Style, size: int) -> np.ndarray:
    """Plaster with smooth noise, or courses of bricks / stone blocks with joints."""
    base = s.palette[FACADE]
    y, x = r.ys, r.xs
    streak = r.field(s.streaks)
    shade = 1.0 + 0.03 * streak - 0.04 * np.clip(streak, 0, 1) * (y / size)
    if s.wall_kind == "plaster":
        return _shaded(base, shade + 0.06 * r.field(s.wall_noise))
    bh = s.brick_h * size
    bw = bh * s.brick_ratio
    row = np.floor(y / bh)
    offset = (row % 2) * (0.5 * bw)
    col = np.floor((x + offset) / bw)
    tint = s.brick_tint[row.astype(np.int32) % 32, col.astype(np.int32) % 32]
    shade += (0.09 if s.wall_kind == "brick" else 0.04) * tint
    out = _shaded(base, shade)
    if bh >= 2.5:                       # joints only where they can be drawn
        joint = max(1.0, 0.2 * bh)
        mortar = ((y - row * bh) < joint) | ((x + offset - col * bw) < joint)
        out[:, mortar] = _rgb(s.mortar)
    return out


def _paint_windows(r: _Region, s: _Style, size: int) -> np.ndarray:
    """Dark glass, brighter at the top, diagonal sky reflections, frame and glazing bars."""
    a = s.reflection_angle
    phase = (r.xs * np.cos(a) + r.ys * np.sin(a)) * (2 * np.pi / (s.reflection_period * size))
    glint = (0.5 + 0.5 * np.sin(phase)) ** 3
    tint = s.window_tint[r.rid % len(s.window_tint)]
    out = _mix(_shaded(s.palette[WINDOW], tint * (0.85 + 0.3 * (1 - r.v))), _rgb(s.sky_horizon), 0.35 * glint)
    fw = _px(s.frame_w, size)
    frame = r.edge < fw
    if s.mullion:
        frame |= np.abs(r.u - 0.5) * r.w < fw / 2
    if s.transom is not None:
        frame |= np.abs(r.v - s.transom) * r.h < fw / 2
    out[:, frame] = _rgb(s.frame)
    return out


def _paint_blinds(r: _Region, s: _Style, size: int) -> np.ndarray:
    """Horizontal slats, a dark bottom bar."""
    period = _px(s.blind_period, size, 2.0)
    slat = (r.ys % period) < 0.5 * period
    shade = np.where(slat, np.float32(0.86), np.float32(1.06)) * (0.92 + 0.1 * np.sin(np.pi * r.u))
    shade[r.bottom < _px(0.004, size)] = 0.6
    return _shaded(s.palette[BLIND], shade)


def _paint_doors(r: _Region, s: _Style, size: int) -> np.ndarray:
    """Wood grain, panel grooves, optionally a glazed upper part."""
    grain = 1.0 + 0.05 * np.sin(r.xs * (80.0 * np.pi / size) + 3 * np.sin(r.ys * (7.0 / size)))
    fw = _px(0.006, size)
    groove = r.edge < fw
    if s.double_door:
        groove |= np.abs(r.u - 0.5) * r.w < fw / 2
    groove |= np.abs(r.v - 0.55) * r.h < fw / 2
    grain[groove] = 0.6
    out = _shaded(s.palette[DOOR], grain * (1.05 - 0.15 * r.v))
    if s.door_glass:
        out[:, (r.v < 0.35) & (r.edge >= 2 * fw)] = _rgb(s.palette[WINDOW] * 1.1)
    return out


def _paint_cornices(r: _Region, s: _Style, size: int) -> np.ndarray:
    """Lit top, shaded underside, a groove, optionally a row of dentils."""
    shade = 1.15 - 0.45 * r.v
    shade[np.abs(r.v - 0.55) < 0.08] = 0.7
    if s.dentils:
        period = _px(0.012, size, 3.0)
        shade[(r.v > 0.65) & ((r.xs % period) < period * 0.5)] = 0.75
    return _shaded(s.palette[CORNICE], shade)


def _paint_sills(r: _Region, s: _Style, size: int) -> np.ndarray:
    return _shaded(s.palette[SILL], 1.15 - 0.3 * r.v)


def _paint_balconies(r: _Region, s: _Style, size: int) -> np.ndarray:
    """Iron railings over the dim wall behind, or a stone balustrade."""
    period = _px(s.baluster_period, size, 3.0)
    rail = (r.top < _px(0.005, size)) | (r.bottom < _px(0.006, size))
    phase = (r.xs % period) / period
    if s.iron_balcony:
        solid = (phase < 0.35) | rail
        behind = s.palette[FACADE] * 0.4          # the dim wall seen through the railing
        return _mix(_rgb(behind), _rgb(s.palette[BALCONY]), solid)
    shade = 0.7 + 0.35 * np.sin(np.pi * phase)
    shade[rail] = 1.1
    return _shaded(s.palette[BALCONY], shade)


def _paint_decorations(r: _Region, s: _Style, size: int) -> np.ndarray:
    """A carved relief: bright in the middle, dark rim."""
    relief = (0.85 + 0.3 * np.sin(np.pi * r.u) * np.sin(np.pi * r.v)
              + 0.08 * np.cos(6 * np.pi * r.u) * np.cos(4 * np.pi * r.v))
    relief[r.edge < 1] = 0.7
    return _shaded(s.palette[DECO], relief)


def _paint_moldings(r: _Region, s: _Style, size: int) -> np.ndarray:
    shade = 1.08 - 0.12 * r.v
    shade[r.edge < _px(0.002, size)] = 0.82
    return _shaded(s.palette[MOLDING], shade)


def _paint_pillars(r: _Region, s: _Style, size: int) -> np.ndarray:
    """Round shading across the shaft, optional flutes, a bright capital."""
    shade = 0.72 + 0.4 * np.sin(np.pi * r.u)
    if s.fluted:
        shade -= 0.1 * (np.cos(8 * np.pi * r.u) > 0.6)
    shade[r.top < _px(0.012, size)] = 1.15
    return _shaded(s.palette[PILLAR], shade)


def _paint_shops(r: _Region, s: _Style, size: int) -> np.ndarray:
    """A sign band with lettering over framed display windows with goods at the bottom."""
    out = _shaded(s.palette[SHOP], 1.0 - 0.1 * r.v)
    sign = r.v < s.sign_frac
    letter_w = _px(0.012, size, 2.0)
    lettering = s.letters[(r.xs / letter_w).astype(np.int32) % len(s.letters)]
    letter = sign & (np.abs(r.v / s.sign_frac - 0.5) < 0.25) & lettering
    out[:, sign] = _rgb(s.sign)
    out[:, letter] = _rgb(255.0 - s.sign)
    frame = _px(0.006, size)
    pane_u = (r.u * s.shop_panes) % 1.0
    pane_w = r.w / s.shop_panes
    glass = ((r.bottom >= frame * 2) & (pane_u * pane_w >= frame) & ((1 - pane_u) * pane_w >= frame)
             & ((r.v - s.sign_frac) * r.h >= frame))
    gv = r.v[glass]
    glass_col = _shaded(s.palette[WINDOW], 0.8 + 0.5 * (1 - gv))
    goods = s.goods[((r.xs[glass] / _px(0.02, size, 2.0)).astype(np.int32)) % len(s.goods)].T
    out[:, glass] = np.where(gv > 0.7, 0.6 * goods + 0.4 * glass_col, glass_col)
    return out


_PAINTERS = {
    BACKGROUND: _paint_sky, FACADE: _paint_wall, WINDOW: _paint_windows, DOOR: _paint_doors,
    CORNICE: _paint_cornices, SILL: _paint_sills, BALCONY: _paint_balconies, BLIND: _paint_blinds,
    DECO: _paint_decorations, MOLDING: _paint_moldings, PILLAR: _paint_pillars, SHOP: _paint_shops,
}


def _any_of(label: np.ndarray, classes: tuple[int, ...]) -> np.ndarray:
    mask = label == classes[0]
    for cls in classes[1:]:
        mask |= label == cls
    return mask


def _soft_shadow(casters: np.ndarray, reach: int, dx_per_row: float) -> np.ndarray:
    """Shadow intensity (0..1) that `casters` throw down (and sideways) over `reach` pixels."""
    shadow = np.zeros(casters.shape, dtype=np.float32)
    src = casters.astype(np.float32)
    width = src.shape[1]
    for d in range(1, min(reach, src.shape[0] - 1) + 1):
        weight = np.float32(1.0 - (d - 1) / reach)
        dx = min(int(round(d * dx_per_row)), width - 1)
        if dx >= 0:
            dst, cast = shadow[d:, dx:], src[:-d, :width - dx]
        else:
            dst, cast = shadow[d:, :dx], src[:-d, -dx:]
        np.maximum(dst, cast * weight, out=dst)
    shadow[casters] = 0.0
    return shadow


def _shadow_map(label: np.ndarray, s: _Style, size: int) -> np.ndarray:
    """Ledges shade the wall below them; the wall shades the top of recessed openings."""
    dx = 0.5 * np.cos(s.light_angle)
    ledges = _any_of(label, (CORNICE, SILL, BALCONY))
    shade = _soft_shadow(ledges, max(1, int(round(0.012 * size))), dx) * np.float32(s.shadow_strength)
    recessed = _any_of(label, (WINDOW, DOOR, BLIND, SHOP))
    sky = label == BACKGROUND
    reveal = _soft_shadow(~recessed & ~sky, max(1, int(round(0.008 * size))), dx)
    reveal[~recessed] = 0.0
    shade = np.maximum(shade, reveal * np.float32(0.45))
    shade[sky] = 0.0
    return shade


def _lighting(s: _Style, size: int) -> np.ndarray:
    """A brightness ramp along the light direction of this picture."""
    t = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    c, sn = np.float32(np.cos(s.light_angle)), np.float32(np.sin(s.light_angle))
    return 1.0 + np.float32(s.light_strength) * (c * t[None, :] + sn * t[:, None])


def render_photo(label: np.ndarray, rid: np.ndarray, boxes: np.ndarray, style: _Style,
                 rng: np.random.Generator) -> np.ndarray:
    """Paint the photo for a rasterised plan; draws only the pixel noise from ``rng``."""
    size = label.shape[0]
    pixels = _Pixels(label, rid, boxes)
    colours = np.empty((3, size * size), dtype=np.float32)
    for cls, painter in _PAINTERS.items():
        a, b = pixels.bounds[cls], pixels.bounds[cls + 1]
        if b > a:
            colours[:, a:b] = painter(pixels.region(cls), style, size)
    # Back from class order to image order (np.take is much faster than fancy indexing here).
    unsort = np.empty_like(pixels.order)
    unsort[pixels.order] = np.arange(size * size)
    photo = np.take(colours, unsort, axis=1).reshape(3, size, size)
    photo *= (1.0 - _shadow_map(label, style, size)) * _lighting(style, size)
    photo *= style.cast[:, None, None]
    # Uniform pixel noise with standard deviation noise_sigma (a uniform byte has std 73.9);
    # the +0.5 makes the final truncation to uint8 a rounding.
    noise = rng.integers(0, 256, (3, size, size), dtype=np.uint8).astype(np.float32)
    gain = np.float32(style.noise_sigma / 73.9)
    noise *= gain
    noise += np.float32(0.5) - np.float32(127.5) * gain
    photo += noise
    np.clip(photo, 0, 255, out=photo)
    return np.stack(list(photo.astype(np.uint8)), axis=-1)


def render_facade(seed: int, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Returns (photo uint8 (size,size,3), label uint8 (size,size) with ids 0..11)."""
    rng = np.random.default_rng(seed)
    rects = plan_facade(rng)
    style = _draw_style(rng)
    label, rid, boxes = rasterize(rects, size)
    photo = render_photo(label, rid, boxes, style, rng)
    return photo, label


def _measure(n: int = 100, size: int = 256, rounds: int = 3) -> tuple[float, float]:
    """(wall, CPU) milliseconds per image over seeds 0..n-1: the best of a few rounds."""
    import time

    render_facade(0, size)
    best_wall = best_cpu = float("inf")
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        for seed in range(n):
            render_facade(seed, size)
        best_wall = min(best_wall, (time.perf_counter() - wall) * 1000.0 / n)
        best_cpu = min(best_cpu, (time.process_time() - cpu) * 1000.0 / n)
    return best_wall, best_cpu


if __name__ == "__main__":
    wall_ms, cpu_ms = _measure()
    print(f"render_facade: {wall_ms:.2f} ms/image wall, {cpu_ms:.2f} ms/image CPU at 256 px "
          f"(best of 3 rounds of 100 seeds)")
