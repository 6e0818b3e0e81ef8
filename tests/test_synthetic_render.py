"""Tests for the procedural facade renderer behind the ``synthetic-facades`` dataset."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_plugins.datasets.synthetic_render import CLASS_NAMES, render_facade  # noqa: E402

WINDOW = CLASS_NAMES.index("window")
FACADE = CLASS_NAMES.index("facade")
SILL = CLASS_NAMES.index("sill")
SEEDS = range(50)


@pytest.fixture(scope="module")
def pairs():
    return [render_facade(seed, 256) for seed in SEEDS]


def test_class_names_are_the_cmp_facades_classes():
    assert CLASS_NAMES == ["background", "facade", "window", "door", "cornice", "sill",
                           "balcony", "blind", "deco", "molding", "pillar", "shop"]


def test_same_seed_gives_identical_arrays():
    for seed in (0, 7, 123456):
        photo_a, label_a = render_facade(seed, 128)
        photo_b, label_b = render_facade(seed, 128)
        assert np.array_equal(photo_a, photo_b)
        assert np.array_equal(label_a, label_b)


def test_different_seeds_give_different_layouts():
    labels = [render_facade(seed, 64)[1] for seed in range(10)]
    for i in range(len(labels)):
        for j in range(i + 1, len(labels)):
            assert not np.array_equal(labels[i], labels[j]), (i, j)


def test_global_numpy_rng_is_not_used():
    np.random.seed(1234)
    before = np.random.get_state()[1].copy()
    render_facade(3, 64)
    assert np.array_equal(np.random.get_state()[1], before)


@pytest.mark.parametrize("size", [32, 64, 256])
def test_dtypes_shapes_and_ranges(size):
    for seed in range(5):
        photo, label = render_facade(seed, size)
        assert photo.dtype == np.uint8 and photo.shape == (size, size, 3)
        assert label.dtype == np.uint8 and label.shape == (size, size)
        assert label.max() < len(CLASS_NAMES)
        assert photo.std() > 5          # a picture, not a flat colour


def test_default_size_is_256():
    photo, label = render_facade(0)
    assert photo.shape == (256, 256, 3) and label.shape == (256, 256)


def test_smaller_sizes_are_the_same_layout_downsampled():
    for seed in range(10):
        big = render_facade(seed, 256)[1]
        small = render_facade(seed, 64)[1]
        nearest = big[2::4, 2::4]
        assert (nearest == small).mean() > 0.8, seed


def test_every_class_appears_in_a_good_fraction_of_images(pairs):
    present = np.array([[np.any(label == cls) for cls in range(len(CLASS_NAMES))]
                        for _, label in pairs])
    share = present.mean(axis=0)
    for cls, name in enumerate(CLASS_NAMES):
        assert share[cls] >= 0.10, f"{name} appears in only {share[cls]:.0%} of images"
    for cls in (WINDOW, FACADE, SILL):
        assert share[cls] >= 0.85, f"{CLASS_NAMES[cls]} appears in only {share[cls]:.0%} of images"


def test_layouts_vary_in_structure(pairs):
    window_share = [np.mean(label == WINDOW) for _, label in pairs]
    assert np.std(window_share) > 0.01
    class_sets = {tuple(np.unique(label)) for _, label in pairs}
    assert len(class_sets) >= 10


def test_photo_colour_depends_on_the_label(pairs):
    separated = 0
    for photo, label in pairs:
        window = photo[label == WINDOW].astype(np.float64).mean(axis=0)
        wall = photo[label == FACADE].astype(np.float64).mean(axis=0)
        if np.linalg.norm(window - wall) > 40:
            separated += 1
    assert separated >= 0.9 * len(pairs)


def test_photo_is_not_a_pure_function_of_the_label(pairs):
    for photo, label in pairs[:10]:
        for cls in (FACADE, WINDOW):
            pixels = photo[label == cls].astype(np.float64)
            assert pixels.std(axis=0).min() > 3.0


def test_class_colours_change_between_images(pairs):
    walls = np.array([photo[label == FACADE].mean(axis=0) for photo, label in pairs])
    assert walls.std(axis=0).min() > 10
