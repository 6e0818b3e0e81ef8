"""Tensors for training and evaluation: resize, random crop, flips, rotation.

Photos are resized with bicubic filtering, label maps with nearest neighbour.
Every random choice comes from a generator seeded with (seed, epoch, sample
index), so a run is reproducible and a resumed run sees the same data, whichever
process reads an item and whenever. The pairs are read one at a time (see
:class:`PairDataset`); the loaders over them are :mod:`benchmark.data.loading`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image
from torch.utils.data import Dataset

from benchmark.api import Size, TrainTransform
from benchmark.data.dataset import Sample
from benchmark.data.split import stems_of


def resize_pair(sample: Sample, size: int | tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 3,H,W photo, uint8 H,W label) at ``size``: a side, or (height, width)."""
    h, w = Size.of(size)
    photo = Image.fromarray(sample.image).resize((w, h), Image.BICUBIC)
    label = Image.fromarray(sample.label).resize((w, h), Image.NEAREST)
    return (torch.from_numpy(np.asarray(photo).copy()).permute(2, 0, 1),
            torch.from_numpy(np.asarray(label).copy()))


def resize_instance(instance: np.ndarray, size: Size) -> torch.Tensor:
    """An instance map (integer ids) at ``size``, nearest neighbour: int32 (H,W)."""
    image = Image.fromarray(instance.astype(np.int32)).resize((size.width, size.height), Image.NEAREST)
    return torch.from_numpy(np.asarray(image).astype(np.int32))


def to_float(photo_u8: torch.Tensor) -> torch.Tensor:
    return photo_u8.float() / 127.5 - 1.0


class PairDataset(Dataset):
    """The pairs of a split as tensors, one item at a time: read, resize to the load size, augment.

    ``samples`` is a sequence of :class:`Sample`: a list in memory, or a
    :class:`benchmark.data.split.LazySplit` that decodes a sample when it is asked for, so that
    nothing of the split is held beyond the items in hand (a bad file raises its
    :class:`benchmark.data.dataset.BadFile` then). ``image_size`` is a side (a square) or a
    :class:`benchmark.api.contract.Size` (height, width); a transform's ``load_size`` is then the
    load height, and the load width keeps the aspect ratio. Instance maps travel with the pairs
    (as ``instance``) when the samples have them.

    An item is asked for by its index, or by ``(epoch, index)`` (how the training loader asks:
    worker processes that live across epochs get the epoch with every item); the augmentation
    draws from a generator seeded with ``(seed, epoch, index)`` alone, so the order in which
    items are read, and in which process, changes nothing.
    """

    def __init__(self, samples: Sequence[Sample], image_size: int | tuple[int, int],
                 transform: TrainTransform | None = None, seed: int = 0, fill_label: int = 0):
        self.samples = samples
        self.stems = stems_of(samples)
        self.size = Size.of(image_size)
        #: the height (the side of a square run)
        self.image_size = self.size.height
        self.transform = transform
        self.seed = seed
        self.fill_label = fill_label
        self.epoch = 0
        h, w = self.size
        load = (transform.load_size if transform and transform.load_size else h)
        load_h = max(load, h)
        self.load = Size(load_h, w if load_h == h else max(w, round(load_h * w / h)))
        #: the load side of a square run, as before non-square runs
        self.load_size = self.load.height
        #: a list in memory keeps its instance maps only when every sample has one (known without reading)
        self._instances = None if hasattr(samples, "stems") else all(s.instance is not None for s in samples)
        self._whole: dict[str, Any] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.stems)

    def pair(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, tuple[int, ...]]:
        """Item ``index`` at the load size, not augmented: (photo uint8 3,H,W, label uint8 H,W,
        instance int32 H,W or None, image-level class ids)."""
        sample = self.samples[index]
        photo, label = resize_pair(sample, self.load)
        keep = sample.instance is not None and self._instances is not False
        instance = resize_instance(sample.instance, self.load) if keep else None
        return photo, label, instance, sample.class_ids()

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        epoch, index = key if isinstance(key, tuple) else (self.epoch, key)
        photo, label, instance, classes = self.pair(index)
        if self.transform is not None:
            rng = np.random.default_rng([self.seed, epoch, index])
            photo, label, instance = self._augment(photo, label, instance, rng)
        multi_hot = torch.zeros(256, dtype=torch.uint8)
        multi_hot[list(classes)] = 1
        item = {"image": to_float(photo), "label": label.long(), "index": torch.tensor(index), "classes": multi_hot}
        if instance is not None:
            item["instance"] = instance.long()
        return item

    # the whole split at once, for the models that fit something on it (Trainable.before_training)

    def _all(self) -> dict[str, Any]:
        """Every pair at the load size, stacked: read once, on first use (the whole split in memory)."""
        if self._whole is None:
            pairs = [self.pair(i) for i in range(len(self))]
            instances = [p[2] for p in pairs]
            self._whole = {
                "photos": torch.stack([p[0] for p in pairs]), "labels": torch.stack([p[1] for p in pairs]),
                "instances": torch.stack(instances) if pairs and all(i is not None for i in instances) else None,
                "classes": [p[3] for p in pairs]}
        return self._whole

    @property
    def photos(self) -> torch.Tensor:
        """uint8 (N,3,LH,LW): every photo of the split (decoded and held on first use)."""
        return self._all()["photos"]

    @property
    def labels(self) -> torch.Tensor:
        """uint8 (N,LH,LW): every label map of the split (decoded and held on first use)."""
        return self._all()["labels"]

    @property
    def instances(self) -> torch.Tensor | None:
        """int32 (N,LH,LW) instance maps when every sample has one, else None (decoded on first use)."""
        return self._all()["instances"]

    @property
    def classes(self) -> list[tuple[int, ...]]:
        """Image-level class ids per sample (the dataset's, else those present in the full label map)."""
        if self._whole is None and not hasattr(self.samples, "stems"):  # in memory: no decoding needed
            return [s.class_ids() for s in self.samples]
        return self._all()["classes"]

    def _augment(self, photo, label, instance, rng):
        t, (h, w), load = self.transform, self.size, self.load
        if t.rotate_degrees:
            angle = float(rng.uniform(-t.rotate_degrees, t.rotate_degrees))
            photo = TF.rotate(photo, angle, interpolation=TF.InterpolationMode.BILINEAR)
            label = TF.rotate(label[None], angle, interpolation=TF.InterpolationMode.NEAREST,
                              fill=self.fill_label)[0]
            if instance is not None:  # ids are exact in float32 up to 2**24
                instance = TF.rotate(instance[None].float(), angle, interpolation=TF.InterpolationMode.NEAREST,
                                     fill=0)[0].round().int()
        if load.height > h or load.width > w:
            if load.height - h == load.width - w:  # a square run draws as it always did
                top, left = (int(v) for v in rng.integers(0, load.height - h + 1, size=2))
            else:
                top, left = (int(v) for v in rng.integers(0, [load.height - h + 1, load.width - w + 1]))
            photo = photo[:, top:top + h, left:left + w]
            label = label[top:top + h, left:left + w]
            if instance is not None:
                instance = instance[top:top + h, left:left + w]
        flips = []
        if t.hflip and rng.random() < 0.5:
            flips.append(-1)
        if t.vflip and rng.random() < 0.5:
            flips.append(-2)
        for dim in flips:
            photo, label = photo.flip(dim), label.flip(dim)
            if instance is not None:
                instance = instance.flip(dim)
        return photo.contiguous(), label.contiguous(), None if instance is None else instance.contiguous()


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
    map, ``classes`` (N,C) float multi-hot image-level labels (see ``Sample.class_ids``), and
    ``instance`` (N,H,W int64 instance ids) only when the items carry instance maps.
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
