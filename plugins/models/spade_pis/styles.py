"""Which style photos stylize which test image.

By default the style photos are the other real photos of the test split, with their label
maps (so the transfer can be label-aware): for test image ``i`` the ``num_styles`` styles
are drawn without replacement from the test split minus ``i``, with a generator seeded by
``(style_seed, i)``, so the choice does not depend on the batch size or on other images.
With ``style_dir`` the styles are the photos of that folder (no label maps: the transfer is
whole-image), drawn the same way (with replacement when the folder holds fewer photos than
``num_styles``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from benchmark import ConfigError

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def read_style_dir(folder: str | Path, size: int) -> torch.Tensor:
    """The photos of ``folder`` in name order, bicubic-resized to ``size``, uint8 (N,3,S,S)."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise ConfigError(f"invalid value for 'spade-pis.style_dir': {path} is not a folder; "
                          f"give a folder of style photos or leave it empty to use the test split")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
    if not files:
        raise ConfigError(f"invalid value for 'spade-pis.style_dir': {path} holds no image "
                          f"({', '.join(SUFFIXES)}); add style photos")
    photos = []
    for file in files:
        try:
            image = Image.open(file).convert("RGB").resize((size, size), Image.BICUBIC)
        except (OSError, UnidentifiedImageError) as exc:
            raise ConfigError(f"spade-pis.style_dir: {file} cannot be read as an image ({exc}); "
                              f"remove or replace it") from None
        photos.append(torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1))
    return torch.stack(photos)


class StylePool:
    """Style photos (uint8 N,3,S,S), their label maps (or None), and the per-image choice."""

    def __init__(self, photos: torch.Tensor, labels: torch.Tensor | None, *, exclude_self: bool, seed: int):
        self.photos = photos
        self.labels = labels
        self.exclude_self = exclude_self
        self.seed = seed

    def choose(self, index: int, count: int) -> list[int]:
        """Indices into the pool of the styles of test image ``index`` (the first is the leaderboard's)."""
        candidates = [j for j in range(len(self.photos)) if not (self.exclude_self and j == index)]
        if not candidates:
            candidates = list(range(len(self.photos)))
        rng = np.random.default_rng([self.seed, index])
        replace = len(candidates) < count
        return [candidates[j] for j in rng.choice(len(candidates), size=count, replace=replace)]
