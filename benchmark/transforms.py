"""Tensors for training and evaluation: resize, random crop, flips, rotation.

Photos are resized with bicubic filtering, label maps with nearest neighbour.
Every random choice comes from a generator seeded with (seed, epoch, sample
index), so a run is reproducible and a resumed run sees the same data.
"""

from __future__ import annotations

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image
from torch.utils.data import Dataset

from benchmark.api import TrainTransform
from benchmark.data import Sample


def resize_pair(sample: Sample, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 3,S,S photo, uint8 S,S label) at side ``size``."""
    photo = Image.fromarray(sample.image).resize((size, size), Image.BICUBIC)
    label = Image.fromarray(sample.label).resize((size, size), Image.NEAREST)
    return (torch.from_numpy(np.asarray(photo).copy()).permute(2, 0, 1),
            torch.from_numpy(np.asarray(label).copy()))


def to_float(photo_u8: torch.Tensor) -> torch.Tensor:
    return photo_u8.float() / 127.5 - 1.0


class PairDataset(Dataset):
    """Samples resized once up front; random augmentation per item when ``transform`` is given."""

    def __init__(self, samples: list[Sample], image_size: int, transform: TrainTransform | None = None,
                 seed: int = 0, fill_label: int = 0):
        self.stems = [s.stem for s in samples]
        self.image_size = image_size
        self.transform = transform
        self.seed = seed
        self.fill_label = fill_label
        self.epoch = 0
        load = (transform.load_size if transform and transform.load_size else image_size)
        self.load_size = max(load, image_size)
        pairs = [resize_pair(s, self.load_size) for s in samples]
        self.photos = torch.stack([p for p, _ in pairs])
        self.labels = torch.stack([lab for _, lab in pairs])
        #: image-level class ids per sample (the dataset's, else those present in the full label map)
        self.classes = [s.class_ids() for s in samples]
        self._multi_hot = torch.zeros(len(samples), 256, dtype=torch.uint8)
        for i, ids in enumerate(self.classes):
            self._multi_hot[i, list(ids)] = 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.stems)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        photo, label = self.photos[index], self.labels[index]
        if self.transform is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            photo, label = self._augment(photo, label, rng)
        return {"image": to_float(photo), "label": label.long(), "index": torch.tensor(index),
                "classes": self._multi_hot[index]}

    def _augment(self, photo, label, rng):
        t, size = self.transform, self.image_size
        if t.rotate_degrees:
            angle = float(rng.uniform(-t.rotate_degrees, t.rotate_degrees))
            photo = TF.rotate(photo, angle, interpolation=TF.InterpolationMode.BILINEAR)
            label = TF.rotate(label[None], angle, interpolation=TF.InterpolationMode.NEAREST,
                              fill=self.fill_label)[0]
        if self.load_size > size:
            top, left = (int(v) for v in rng.integers(0, self.load_size - size + 1, size=2))
            photo = photo[:, top:top + size, left:left + size]
            label = label[top:top + size, left:left + size]
        if t.hflip and rng.random() < 0.5:
            photo, label = photo.flip(-1), label.flip(-1)
        if t.vflip and rng.random() < 0.5:
            photo, label = photo.flip(-2), label.flip(-2)
        return photo.contiguous(), label.contiguous()


def one_hot(label: torch.Tensor, num_classes: int, ignore_index: int | None) -> torch.Tensor:
    """(N,H,W) ids -> (N,C,H,W) float; ignored pixels are all zeros."""
    valid = label < num_classes
    if ignore_index is not None:
        valid &= label != ignore_index
    oh = torch.nn.functional.one_hot(torch.where(valid, label, 0), num_classes).permute(0, 3, 1, 2)
    return (oh * valid[:, None]).float()


def model_batch(items: list[dict[str, torch.Tensor]] | dict[str, torch.Tensor], device: torch.device,
                num_classes: int, ignore_index: int | None) -> dict[str, torch.Tensor]:
    """Dataset items (a list, or an already collated dict) -> the batch a model sees, on the device.

    Keys: ``image``, ``label``, ``index`` as in the items, ``onehot`` (N,C,H,W) from the label
    map, and ``classes`` (N,C) float multi-hot image-level labels (see ``Sample.class_ids``).
    """
    if isinstance(items, list):
        items = {k: torch.stack([it[k] for it in items]) for k in items[0]}
    batch = {k: v.to(device, non_blocking=True) for k, v in items.items()}
    batch["onehot"] = one_hot(batch["label"], num_classes, ignore_index)
    if "classes" in batch:  # image-level labels: (N, 256) multi-hot ids -> (N, C) float
        classes = batch["classes"][:, :num_classes].float()
        if ignore_index is not None and ignore_index < num_classes:
            classes[:, ignore_index] = 0
        batch["classes"] = classes
    return batch
