"""OASIS's label input: the dataset's one-hot map, after the official "don't care" channel when on.

The official code puts the dataset's unlabeled id first (channel 0, ADE20K's "other",
COCO-Stuff's 0 after its shift) and gives it weight 0 in the class-balanced loss; so the
dontcare channel comes first here too (SPADE's code puts it last). OASIS reads no instance maps.
"""

from __future__ import annotations

import torch


def label_channels(num_classes: int, *, dontcare: bool) -> int:
    return num_classes + int(dontcare)


def semantic_input(batch: dict[str, torch.Tensor], *, dontcare: bool) -> torch.Tensor:
    onehot = batch["onehot"]
    if not dontcare:
        return onehot
    return torch.cat([(onehot.sum(dim=1, keepdim=True) == 0).to(onehot.dtype), onehot], dim=1)
