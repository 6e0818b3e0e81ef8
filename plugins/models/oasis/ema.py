"""The exponential moving average of the generator that OASIS generates with at test time.

As the official code: after every training step each entry of the EMA generator's state
(weights, spectral-norm vectors, batch-norm running statistics) becomes ``decay * ema +
(1 - decay) * current``; integer entries (batch counters) are copied. Before test time the
official code recomputes the EMA generator's batch-norm statistics with 50 forward passes
over training batches in train mode; here they are recomputed on the last
``ema_stats_batches`` training batches (no data loader is at hand after training).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def ema_copy(net: nn.Module) -> nn.Module:
    """A frozen copy of ``net`` to average into."""
    ema = copy.deepcopy(net)
    ema.requires_grad_(False)
    return ema


@torch.no_grad()
def update_ema(ema: nn.Module, net: nn.Module, decay: float) -> None:
    current = net.state_dict()
    for key, value in ema.state_dict().items():
        if value.dtype.is_floating_point:
            value.mul_(decay).add_(current[key].to(value.dtype), alpha=1 - decay)
        else:
            value.copy_(current[key])


@torch.no_grad()
def refresh_norm_statistics(ema: nn.Module, *args, **kwargs) -> None:
    """One forward pass in train mode (no gradients): the batch norms' running statistics move
    towards this batch's, as in the official statistics pass."""
    mode = ema.training
    ema.train()
    try:
        ema(*args, **kwargs)
    finally:
        ema.train(mode)
