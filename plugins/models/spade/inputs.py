"""SPADE's semantic input: the one-hot label map, SPADE's "don't care" channel and its instance-edge channel.

The official code (``contain_dontcare_label``) gives the dataset's unlabeled id its own
channel after the ``label_nc`` class channels, and (unless ``no_instance``) appends a
boundary map of the instance map: a pixel is on an edge when its instance id differs from
that of a 4-neighbour (left, right, up or down), so both sides of a boundary are marked.
"""

from __future__ import annotations

import torch


def instance_edges(instance: torch.Tensor) -> torch.Tensor:
    """(N,H,W) integer instance ids -> (N,1,H,W) float: 1 where a 4-neighbour has another id."""
    ids = instance[:, None]
    edge = torch.zeros_like(ids, dtype=torch.bool)
    across = ids[..., :, 1:] != ids[..., :, :-1]   # a pixel and its right neighbour differ
    edge[..., :, 1:] |= across
    edge[..., :, :-1] |= across
    down = ids[..., 1:, :] != ids[..., :-1, :]     # a pixel and the one below differ
    edge[..., 1:, :] |= down
    edge[..., :-1, :] |= down
    return edge.float()


def label_channels(num_classes: int, *, dontcare: bool, edges: bool) -> int:
    """How many channels :func:`semantic_input` gives."""
    return num_classes + int(dontcare) + int(edges)


def semantic_input(batch: dict[str, torch.Tensor], *, dontcare: bool, edges: bool) -> torch.Tensor:
    """The generator's and discriminator's label input for a batch: ``onehot``, then the dontcare
    channel (1 where no class channel is: the dataset's ignore id), then the instance-edge channel."""
    onehot = batch["onehot"]
    parts = [onehot]
    if dontcare:
        parts.append((onehot.sum(dim=1, keepdim=True) == 0).to(onehot.dtype))
    if edges:
        if "instance" not in batch:
            raise ValueError("use_instance_edges is on but the batch has no instance maps; set "
                             "spade.use_instance_edges=false")
        parts.append(instance_edges(batch["instance"]).to(onehot.dtype))
    return torch.cat(parts, dim=1) if len(parts) > 1 else onehot
