"""Training PhotoWCT's decoders to invert the VGG19 encoder on the dataset's training photos.

Each decoder learns to map the encoder's features at its level (with the pooling switches)
back to the photo: loss = mean squared pixel error + ``feature_weight`` x mean squared error
between the features of the reconstruction and of the photo at that level (the two terms
of PhotoWCT's decoder training, which used MS-COCO; here the dataset's own training
photos are used, so that no second download is needed). Adam, batches drawn with a
generator seeded by the run's seed.

Trained decoders are cached in ``CACHE/spade-pis/decoders-<key>.pt``. The key hashes the
training photos' bytes, the encoder's weights, the image size and every decoder option,
so any change retrains and an identical run reuses them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from benchmark import atomic_write

from .photowct import PhotoWCT


@dataclass(frozen=True)
class DecoderTraining:
    steps: int
    batch_size: int
    lr: float
    feature_weight: float
    seed: int


@dataclass
class DecoderRecord:
    """What happened: the cache file, whether it was reused, and the loss per level before and after."""

    path: Path
    cached: bool
    losses: dict[str, dict[str, float]] = field(default_factory=dict)


def tensor_digest(tensors) -> str:
    digest = hashlib.sha256()
    for t in tensors:
        digest.update(t.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def cache_key(photos: torch.Tensor, model: PhotoWCT, training: DecoderTraining) -> str:
    key = {
        "photos": tensor_digest([photos]),
        "photos_shape": list(photos.shape),
        "encoder": tensor_digest(model.encoder.state_dict().values()),
        "levels": sorted(model.levels),
        "training": training.__dict__,
        "format": 1,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def reconstruction_loss(model: PhotoWCT, images: torch.Tensor, level: int,
                        feature_weight: float) -> torch.Tensor:
    """Pixel MSE plus ``feature_weight`` x feature MSE at ``level`` for photos in [0, 1]."""
    features, switches = model.encoder(images, level)
    recon = model.decoders[str(level)](features, switches)
    loss = F.mse_loss(recon, images)
    if feature_weight > 0:
        loss = loss + feature_weight * F.mse_loss(model.encoder(recon, level)[0], features)
    return loss


@torch.no_grad()
def pixel_error(model: PhotoWCT, photos_u8: torch.Tensor, level: int, batch_size: int = 8) -> float:
    """Mean squared pixel error of the level's reconstruction over uint8 photos (for tests and logs)."""
    device = next(model.parameters()).device
    total = 0.0
    for i in range(0, len(photos_u8), batch_size):
        x = photos_u8[i:i + batch_size].to(device).float() / 255
        total += float(F.mse_loss(model.reconstruct(x, level).clamp(0, 1), x, reduction="sum"))
    return total / photos_u8.numel()


def train_decoders(model: PhotoWCT, photos_u8: torch.Tensor, training: DecoderTraining,
                   log: Callable[[str], None] = lambda _: None) -> dict[str, dict[str, float]]:
    """Train every decoder of ``model`` in place on uint8 photos (N,3,H,W); returns the losses."""
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(training.seed)
    losses = {}
    was_training = model.training
    model.train()
    for level in sorted(model.levels):
        decoder = model.decoders[str(level)]
        optimizer = torch.optim.Adam(decoder.parameters(), lr=training.lr)
        first = last = float("nan")
        for step in range(training.steps):
            pick = torch.randint(len(photos_u8), (min(training.batch_size, len(photos_u8)),), generator=generator)
            images = photos_u8[pick].to(device).float() / 255
            loss = reconstruction_loss(model, images, level, training.feature_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            last = float(loss.detach())
            if step == 0:
                first = last
        losses[f"relu{level}_1"] = {"first": first, "last": last}
        log(f"  decoder relu{level}_1: loss {first:.4g} -> {last:.4g} in {training.steps} steps")
    model.train(was_training)
    return losses


def prepare_decoders(model: PhotoWCT, photos_u8: torch.Tensor, training: DecoderTraining, cache_dir: Path,
                     log: Callable[[str], None] = lambda _: None) -> DecoderRecord:
    """Load the decoders from the cache, or train them and store them there."""
    path = Path(cache_dir) / "spade-pis" / f"decoders-{cache_key(photos_u8, model, training)}.pt"
    if path.is_file():
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.decoders.load_state_dict(state["decoders"])
        log(f"  PhotoWCT decoders reused from {path}")
        return DecoderRecord(path, True, state.get("losses", {}))
    log(f"  training PhotoWCT decoders on {len(photos_u8)} training photos ({training.steps} steps per level)")
    losses = train_decoders(model, photos_u8, training, log)
    with atomic_write(path, binary=True) as fh:
        torch.save({"decoders": {k: v.cpu() for k, v in model.decoders.state_dict().items()}, "losses": losses}, fh)
    return DecoderRecord(path, False, losses)
