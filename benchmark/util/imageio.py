"""Reading and writing the 8-bit PNGs that the stages exchange."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmark.util.atomic import atomic_write, write_text


#: how generated images become 8-bit: bench rounds; the official test scripts of SPADE
#: (``util/util.py`` ``tensor2im``) and pix2pix/CycleGAN truncate ``(x + 1) / 2.0 * 255.0`` (float32)
ROUND, TRUNCATE = "round", "truncate"
QUANTIZATIONS = (ROUND, TRUNCATE)


def to_uint8(images: torch.Tensor, quantization: str = ROUND) -> np.ndarray:
    """(N,3,H,W) or (3,H,W) floats in [-1, 1] -> uint8 (N,H,W,3) or (H,W,3): ``round`` to the nearest
    level (bench's), or ``truncate`` ``(x + 1) / 2 * 255`` in float32 clipped to 0..255, as the
    official SPADE and pix2pix test scripts write their images."""
    if quantization == TRUNCATE:
        x = ((images.detach().float() + 1) / 2.0 * 255.0).clamp(0, 255).floor().to(torch.uint8)
    elif quantization == ROUND:
        x = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    else:
        raise ValueError(f"unknown quantization {quantization!r}; one of {', '.join(QUANTIZATIONS)}")
    return x.movedim(-3, -1).cpu().numpy()


def from_uint8(array: np.ndarray) -> torch.Tensor:
    """uint8 (H,W,3) -> float (3,H,W) in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).float() / 127.5 - 1.0


def read_rgb(path: Path) -> torch.Tensor:
    """A PNG as float (3,H,W) in [0, 1]."""
    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"))
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255.0


def read_label(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def write_png(path: Path, array: np.ndarray) -> None:
    """Write atomically, so that an interrupted run never leaves half a PNG."""
    with atomic_write(path, binary=True, durable=False) as fh:
        Image.fromarray(array).save(fh, format="PNG")


def colorize(label: np.ndarray, palette: list[tuple[int, int, int]], ignore_index: int | None = None) -> np.ndarray:
    """Class ids (H,W) -> RGB (H,W,3) with the dataset's palette; ignored pixels black."""
    table = np.zeros((256, 3), dtype=np.uint8)
    table[: len(palette)] = np.asarray(palette, dtype=np.uint8)
    out = table[label.astype(np.int64).clip(0, 255)]
    if ignore_index is not None:
        out[label == ignore_index] = 0
    return out


CLASSES_FILE = "classes.json"


def write_classes(folder: Path, classes: dict[str, list[int]]) -> None:
    """``folder/classes.json``: image-level class ids per stem, beside the label_ids folder."""
    write_text(folder / CLASSES_FILE, json.dumps(classes, sort_keys=True))


def image_classes(label_dir: Path, num_classes: int, ignore_index: int | None) -> dict[str, list[int]]:
    """Image-level class ids per stem: from ``classes.json`` beside ``label_dir`` when there is
    one, else the classes present in each label map. Ids outside the classes are dropped."""
    recorded = label_dir.parent / CLASSES_FILE
    if recorded.is_file():
        raw = json.loads(recorded.read_text())
    else:
        raw = {p.stem: np.unique(read_label(p)).tolist() for p in sorted(label_dir.glob("*.png"))}
    return {stem: [int(i) for i in ids if 0 <= int(i) < num_classes and int(i) != ignore_index]
            for stem, ids in raw.items()}
