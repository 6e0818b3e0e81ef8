"""pix2pixHD's instance-wise feature encoder: a conv encoder-decoder whose output is averaged per instance.

As the official ``Encoder``: reflection pad 3 + 7x7 conv to ``nef``, ``n_downsample``
3x3 stride-2 convs, as many transposed convs back, reflection pad 3 + 7x7 conv to
``feat_num`` channels + tanh (instance norm and ReLU between). Its output is replaced, in
every image and channel, by its mean over each instance of the instance map (each
object, or each stuff class, of the label map when the dataset has no instance maps), so
the generator receives one low-dimensional code per object, concatenated to its label input.
"""

from __future__ import annotations

import torch
from torch import nn

from .generator import down, stem, up


class FeatureEncoder(nn.Module):
    def __init__(self, *, feat_num: int = 3, nef: int = 16, n_downsample: int = 4):
        super().__init__()
        layers = [*stem(3, nef)]
        for i in range(n_downsample):
            layers += [*down(nef * 2 ** i, nef * 2 ** (i + 1))]
        for i in range(n_downsample):
            layers += [*up(nef * 2 ** (n_downsample - i), nef * 2 ** (n_downsample - i - 1))]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(nef, feat_num, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, instance: torch.Tensor) -> torch.Tensor:
        return instance_mean(self.model(image), instance)


def instance_mean(features: torch.Tensor, instance: torch.Tensor) -> torch.Tensor:
    """(N,C,H,W) features with each pixel replaced by the mean of its instance (``instance``: (N,H,W)
    integer ids), per image and channel; differentiable (a scatter of sums and counts)."""
    n, c, h, w = features.shape
    ids = torch.unique(instance, return_inverse=True)[1].reshape(n, h * w)  # 0 .. K-1 over the batch
    k = int(ids.max()) + 1 if ids.numel() else 1
    flat = features.reshape(n, c, h * w)
    index = ids[:, None, :].expand(n, c, h * w)
    sums = flat.new_zeros(n, c, k).scatter_add(2, index, flat)
    counts = flat.new_zeros(n, 1, k).scatter_add(2, ids[:, None, :], torch.ones_like(flat[:, :1]))
    means = sums / counts.clamp(min=1)
    return means.gather(2, index).reshape(n, c, h, w)
