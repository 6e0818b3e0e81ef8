"""What the networks bench trains for evaluation share: reading a split folder, a cache key from
its content, a seeded training loop with progress, and the cached weights file.

A trained evaluation network is stored under ``ctx.cache_dir/evalnets/`` as
``NAME-KEY.pt``; KEY is a sha256 over the bytes of every training file, the options,
the seed, the classes and the ignore index, so a changed split or setting trains a
new network and an unchanged one is reused. Training runs under a forked torch
random state seeded with the run's seed (the caller's random state is untouched);
on a CPU two trainings with the same seed give identical weights.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image

from benchmark import BenchError
from benchmark import atomic_write, write_text
from benchmark import read_label
from benchmark import ImageSet

#: bump when the training code changes what a cached network would be
FIT_VERSION = 1


def split_files(folder: Path) -> list[Path]:
    return sorted(Path(folder).glob("*.png"))


def png_digest(*folders: Path) -> str:
    """sha256 over the folder names, file names and bytes of the PNGs in each folder, in order."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(Path(folder).glob("*.png")):
            digest.update(f"{Path(folder).name}/{path.name}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def content_hash(images: ImageSet, with_labels: bool = True) -> str:
    """sha256 over the names and bytes of a split's photos (and class-id maps)."""
    return png_digest(images.real, images.label_ids) if with_labels else png_digest(images.real)


def cache_key(**parts: Any) -> str:
    return hashlib.sha256(json.dumps({**parts, "v": FIT_VERSION}, sort_keys=True, default=str).encode()).hexdigest()[:16]


def read_photos(folder: Path, stems: list[str]) -> torch.Tensor:
    """uint8 (N,3,H,W) photos of ``folder/STEM.png``."""
    arrays = []
    for stem in stems:
        with Image.open(folder / f"{stem}.png") as im:
            arrays.append(np.asarray(im.convert("RGB")).copy())
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def read_labels(folder: Path, stems: list[str]) -> torch.Tensor:
    """int64 (N,H,W) class ids of ``folder/STEM.png``."""
    return torch.from_numpy(np.stack([read_label(folder / f"{s}.png") for s in stems]).astype(np.int64))


#: a training split larger than this (as uint8 pixels) is read from disk batch by batch
PRELOAD_BYTES = 1 << 30


class SplitImages:
    """The photos (and optionally class-id maps) of a written split, in memory when they fit in
    :data:`PRELOAD_BYTES`, else read from their PNGs for each batch."""

    def __init__(self, images: ImageSet, stems: list[str], with_labels: bool):
        self.images, self.stems, self.with_labels = images, stems, with_labels
        with Image.open(images.real / f"{stems[0]}.png") as im:
            w, h = im.size
        self.preloaded = len(stems) * w * h * (4 if with_labels else 3) <= PRELOAD_BYTES
        if self.preloaded:
            self.photos = read_photos(images.real, stems)
            self.labels = read_labels(images.label_ids, stems) if with_labels else None

    def __len__(self) -> int:
        return len(self.stems)

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """uint8 photos (N,3,H,W) and int64 class ids (N,H,W) or None, for sample indices ``idx``."""
        if self.preloaded:
            return self.photos[idx], (self.labels[idx] if self.labels is not None else None)
        chosen = [self.stems[i] for i in idx.tolist()]
        labels = read_labels(self.images.label_ids, chosen) if self.with_labels else None
        return read_photos(self.images.real, chosen), labels


def normalize(photos: torch.Tensor) -> torch.Tensor:
    """uint8 or [0, 1] float photos -> float in [-1, 1] (what the trained networks read)."""
    x = photos.float()
    if photos.dtype == torch.uint8:
        x = x / 255.0
    return x * 2 - 1


def require_train_images(ctx, what: str) -> ImageSet:
    """The real training split of an evaluation context, or one clear error."""
    if ctx.train_images is None or not ctx.train_images.real.is_dir():
        raise BenchError(f"{what} trains on the real training split, which this evaluation does not provide; "
                         f"run it through `bench run` or `bench evaluate`")
    return ctx.train_images


def _devices() -> list[int]:
    return [torch.cuda.current_device()] if torch.cuda.is_available() else []


def seeded(seed: int, factory: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """``factory()`` (a network's random initialisation) under torch's generator seeded with ``seed``;
    the caller's random state is restored afterwards."""
    with torch.random.fork_rng(devices=_devices()):
        torch.manual_seed(seed)
        return factory()


def fit(net: torch.nn.Module, loss_of: Callable[[torch.Generator], torch.Tensor], *, steps: int, lr: float,
        seed: int, reporter=None, label: str = "train") -> list[float]:
    """Adam (lr, betas 0.9/0.999) for ``steps`` updates of ``loss_of(generator)``, seeded; returns the
    losses. The caller's torch random state is restored afterwards."""
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    losses = []
    with torch.random.fork_rng(devices=_devices()):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        t0 = time.perf_counter()
        if reporter is not None:
            reporter.start(label, steps)
        try:
            for step in range(steps):
                loss = loss_of(gen)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()))
                if not np.isfinite(losses[-1]):
                    raise BenchError(f"{label}: the loss became {losses[-1]} at step {step}; lower its lr option")
                if reporter is not None:
                    reporter.update(step + 1, f"loss={losses[-1]:.3f}")
        finally:
            if reporter is not None:
                reporter.stop()
    if reporter is not None:
        reporter.log(f"  {label}: {steps} steps in {time.perf_counter() - t0:.1f} s, final loss {losses[-1]:.3f}")
    net.eval()
    return losses


def batch_indices(gen: torch.Generator, n: int, batch_size: int) -> torch.Tensor:
    return torch.randint(0, n, (min(batch_size, n),), generator=gen)


def random_hflip(x: torch.Tensor, y: torch.Tensor | None, gen: torch.Generator):
    """Flip each sample of a batch left-right with probability 1/2 (images and, if given, label maps)."""
    flip = torch.rand(x.shape[0], generator=gen) < 0.5
    if bool(flip.any()):
        x = x.clone()
        x[flip] = x[flip].flip(-1)
        if y is not None:
            y = y.clone()
            y[flip] = y[flip].flip(-1)
    return x, y


def cache_file(cache_dir: Path, name: str, key: str) -> Path:
    return Path(cache_dir) / "evalnets" / f"{name}-{key}.pt"


def cached_json(path: Path, compute: Callable[[], dict]) -> dict:
    """``compute()``'s result, read from ``path`` when it is there, else computed and written there."""
    if path.is_file():
        return json.loads(path.read_text())
    result = compute()
    write_text(path, json.dumps(result))
    return result


def save(path: Path, net: torch.nn.Module, meta: dict) -> None:
    """Atomically write the weights and what they are."""
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    with atomic_write(path, binary=True) as fh:
        torch.save({"state_dict": state, "meta": meta}, fh)


def load(path: Path) -> dict | None:
    """The cached ``{"state_dict", "meta"}``, or None when absent or unreadable (it is retrained)."""
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return None


def state_sha256(net: torch.nn.Module) -> str:
    """A checksum of the weights, for the protocol (two rows measured by the same network agree on it)."""
    digest = hashlib.sha256()
    for k, v in sorted(net.state_dict().items()):
        digest.update(k.encode())
        digest.update(v.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]
