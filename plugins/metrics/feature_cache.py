"""The features of an image folder under any registered feature network, computed once and cached.

FID's Inception features have their own path (:mod:`bench_plugins.metrics.inception`, with its
implementation variants); every other network a metric reads features from (DINOv2 for
``fd-dinov2``, VGG16 for ``prdc.features=vgg16``) goes through :func:`folder_features` here: one
pass per network and folder content, kept in ``CACHE_DIR/<network>/KEY.npy`` where KEY is the
sha256 of the network's description (its file's sha256, the preprocessing) and of every file's
relative name and bytes (:func:`content_key`, the key the Inception cache uses too), and shared
by the data-parallel workers as the Inception pass is (each its run of whole batches, gathered in
one process's order).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from bench_plugins.metrics.inception import _write_cache, image_files

from benchmark import DataError, EvalContext


def content_key(described: dict[str, Any], folder: Path, files: list[Path]) -> str:
    """sha256 of ``described`` (JSON, sorted keys) and of every file's relative name and bytes."""
    digest = hashlib.sha256(json.dumps(described, sort_keys=True).encode())
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@dataclass
class FeatureNetwork:
    """A loaded feature network: ``read`` makes one image file the network's input (C,H,W),
    ``features`` a batch of those (N, ``dim``) float32 on the CPU; ``described`` keys the cache and
    is what the protocol records of it (the network, its file, the file's sha256, the preprocessing)."""

    name: str
    dim: int
    read: Callable[[Path], torch.Tensor]
    features: Callable[[torch.Tensor], np.ndarray]
    described: dict[str, Any] = field(default_factory=dict)


def read_cache(path: Path, count: int, dim: int) -> np.ndarray | None:
    try:
        features = np.load(path)
    except (OSError, ValueError):
        return None
    return features if features.shape == (count, dim) and features.dtype == np.float32 else None


def folder_features(ctx: EvalContext, folder: Path, net: FeatureNetwork) -> np.ndarray:
    """The (N, ``net.dim``) float32 features of every image in ``folder`` (clean-fid's file order),
    from the cache when its content is known; the workers of a sharded evaluation share the pass."""
    files = image_files(folder)
    if not files:
        raise DataError(f"{folder}: no images to compute {net.name} features of; check that the evaluation "
                        f"wrote its images there")
    cache_file = Path(ctx.cache_dir) / net.name / f"{content_key(net.described, folder, files)}.npy"
    cached = read_cache(cache_file, len(files), net.dim)
    if ctx.all_workers(cached is not None):
        return cached
    mine = ctx.shard(files)
    progress = ctx.progress if ctx.main else None
    if progress is not None:
        progress.start(f"{net.name} features of {folder.name}/ ({len(files)} images)", len(mine))
    parts = [np.zeros((0, net.dim), np.float32)]
    for start in range(0, len(mine), ctx.batch_size):
        parts.append(net.features(torch.stack([net.read(p) for p in mine[start:start + ctx.batch_size]])))
        if progress is not None:
            progress.update(sum(len(p) for p in parts))
    if progress is not None:
        progress.stop()
    features = ctx.gather(np.concatenate(parts).astype(np.float32, copy=False))
    if ctx.main:
        _write_cache(cache_file, features)
    return features


#: ImageNet's channel mean and standard deviation, as torchvision's ``Normalize`` takes them
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def imagenet_input(side: int) -> Callable[[Path], torch.Tensor]:
    """What torchvision's ``Resize((side, side), BICUBIC)``, ``ToTensor`` and ``Normalize(ImageNet)`` make
    of an image file read with PIL as RGB (dgm-eval's preprocessing for DINOv2): PIL's bicubic resize
    of the 8-bit image, then float32 x / 255, minus the mean, over the standard deviation."""
    from PIL import Image

    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32).view(3, 1, 1)

    def read(path: Path) -> torch.Tensor:
        with Image.open(path) as im:
            array = np.array(im.convert("RGB").resize((side, side), Image.BICUBIC))
        x = torch.from_numpy(array).permute(2, 0, 1).float().div(255)
        return x.sub(mean).div(std)

    return read


def imagenet_protocol(side: int) -> str:
    return f"PIL bicubic resize to {side}x{side}, x/255, ImageNet mean/std normalisation (torchvision transforms)"
