"""pix2pix's colour label input: the label map rendered with the dataset's palette, as the official code reads it.

The official pix2pix code reads the colour-coded label image (e.g. the right half of
a CMP Facades JPEG) through ``ToTensor`` and ``Normalize(0.5, 0.5)``: every channel
``v`` in 0..255 becomes ``(v / 255 - 0.5) / 0.5`` in [-1, 1]. bench holds class ids,
so the colour image is rendered again from them with the dataset's palette (ignored
pixels black, as bench's coloured label PNGs); a region's colour is then exactly its
palette colour, without the JPEG noise that the stored label halves carry at edges.
"""

from __future__ import annotations

from typing import Sequence

import torch

from benchmark import ConfigError, DataFacts

Palette = list[tuple[int, int, int]]


def dataset_palette(data: DataFacts) -> Palette | None:
    """The dataset's colour for each class id, or None when it gives none.

    The plan's dataset facts carry no palette (yet), so the registered dataset is looked
    up by name; a dataset registered outside the installed plugins has none here.
    """
    palette = getattr(data, "palette", None)
    if palette is None:
        from benchmark import registry
        from benchmark.errors import BenchError

        try:
            plugins = registry.default()
            spec = plugins.datasets.get(data.name) if data.name in plugins.datasets.names() else None
        except BenchError:
            spec = None
        palette = getattr(spec, "palette", None)
    if not palette:
        return None
    return [tuple(int(c) for c in colour) for colour in palette]


def input_palette(data: DataFacts, given: Sequence[Sequence[int]] | None) -> Palette:
    """The palette the generator's colour input uses: ``given`` (``pix2pix.label_palette``) or the
    dataset's, one colour per class, the ignored class black; one line when there is none."""
    palette = [tuple(int(c) for c in colour) for colour in given] if given else dataset_palette(data)
    fix = ("set pix2pix.label_palette to one [r, g, b] per class, or use pix2pix.label_input=onehot")
    if palette is None:
        raise ConfigError(f"pix2pix: label_input=colour renders the label map with the dataset's palette, and "
                          f"dataset '{data.name}' has none; {fix}")
    if len(palette) < data.num_classes:
        source = "pix2pix.label_palette" if given else f"dataset '{data.name}'"
        raise ConfigError(f"pix2pix: label_input=colour needs one colour per class: {source} gives "
                          f"{len(palette)} for {data.num_classes} classes; {fix}")
    palette = list(palette[: data.num_classes])
    if data.ignore_index is not None and data.ignore_index < data.num_classes:
        palette[data.ignore_index] = (0, 0, 0)  # as bench's coloured label maps
    return palette


def colour_table(palette: Sequence[Sequence[int]]) -> torch.Tensor:
    """(256, 3) float: row ``id`` is that class's colour normalised as the official loader does;
    ids without a colour (ignored pixels) are black, i.e. -1."""
    table = torch.zeros(256, 3)
    table[: len(palette)] = torch.tensor([list(c) for c in palette], dtype=torch.float32)
    return (table / 255 - 0.5) / 0.5


def render(label: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """(N,H,W) class ids -> (N,3,H,W) colour input in [-1, 1]."""
    ids = label.clamp(0, table.shape[0] - 1)
    return table.to(label.device)[ids].permute(0, 3, 1, 2).contiguous()
