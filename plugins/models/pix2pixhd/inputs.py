"""pix2pixHD's label input: the one-hot label map, then the instance-edge map (SPADE's, the same definition).

The official code concatenates the one-hot map (``label_nc`` channels) and, unless
``no_instance``, the boundary map of the instance map (1 where a 4-neighbour has another
instance id); with the instance-wise feature encoder on, its ``feat_num`` pooled features
follow. No "don't care" channel: the dataset's ignore id gives an all-zero one-hot pixel.
"""

from __future__ import annotations

import torch
from bench_plugins.models.spade.inputs import instance_edges


def label_channels(num_classes: int, *, edges: bool) -> int:
    return num_classes + int(edges)


def semantic_input(batch: dict[str, torch.Tensor], *, edges: bool) -> torch.Tensor:
    onehot = batch["onehot"]
    if not edges:
        return onehot
    if "instance" not in batch:
        raise ValueError("use_instance_edges is on but the batch has no instance maps; set "
                         "pix2pixhd.use_instance_edges=false")
    return torch.cat([onehot, instance_edges(batch["instance"]).to(onehot.dtype)], dim=1)


def segments(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """(N,H,W) ids the feature encoder averages over: the instance map, else the label map."""
    return batch["instance"] if "instance" in batch else batch["label"]
