"""The forward pass of the official pix2pixHD generator (NVIDIA/pix2pixHD), written for the tests from the
official code's structure: a module tree whose state dict has the official key layout.

Only what a test needs: ``GlobalGenerator`` (one ``nn.Sequential`` named ``model``, with the
reflection pads, instance norms and ReLUs taking their own indices), ``LocalEnhancer`` (the
global generator's ``model`` without its last three layers, then ``model{n}_1`` / ``model{n}_2``
per enhancer and a 3x3 average pooling that does not count the padding), ``ResnetBlock``
(``conv_block``), the official input (one-hot by ``scatter_`` of the ``label_nc`` ids, then the
edge map of the instance map, computed as the official ``get_edges`` does) and the official
``tensor2im`` (``(x + 1) / 2 * 255``, clipped, truncated to uint8).

This file is independent of ``bench_plugins``: it imports nothing from it, so a wrong conversion in
the plugin cannot hide behind shared code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn


def instance_norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=False)


class OfficialResnetBlock(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.conv_block = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, padding=0),
                                        instance_norm(dim), nn.ReLU(True), nn.ReflectionPad2d(1),
                                        nn.Conv2d(dim, dim, kernel_size=3, padding=0), instance_norm(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class OfficialGlobalGenerator(nn.Module):
    def __init__(self, input_nc: int, output_nc: int = 3, ngf: int = 64, n_downsampling: int = 4,
                 n_blocks: int = 9):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0), instance_norm(ngf),
                  nn.ReLU(True)]
        for i in range(n_downsampling):
            mult = 2 ** i
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1),
                       instance_norm(ngf * mult * 2), nn.ReLU(True)]
        mult = 2 ** n_downsampling
        layers += [OfficialResnetBlock(ngf * mult) for _ in range(n_blocks)]
        for i in range(n_downsampling):
            mult = 2 ** (n_downsampling - i)
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, kernel_size=3, stride=2, padding=1,
                                          output_padding=1), instance_norm(ngf * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class OfficialLocalEnhancer(nn.Module):
    def __init__(self, input_nc: int, output_nc: int = 3, ngf: int = 32, n_downsample_global: int = 4,
                 n_blocks_global: int = 9, n_local_enhancers: int = 1, n_blocks_local: int = 3):
        super().__init__()
        self.n_local_enhancers = n_local_enhancers
        full = OfficialGlobalGenerator(input_nc, output_nc, ngf * 2 ** n_local_enhancers, n_downsample_global,
                                       n_blocks_global).model
        self.model = nn.Sequential(*[full[i] for i in range(len(full) - 3)])
        for n in range(1, n_local_enhancers + 1):
            width = ngf * 2 ** (n_local_enhancers - n)
            first = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, width, kernel_size=7, padding=0),
                     instance_norm(width), nn.ReLU(True),
                     nn.Conv2d(width, width * 2, kernel_size=3, stride=2, padding=1), instance_norm(width * 2),
                     nn.ReLU(True)]
            second = [OfficialResnetBlock(width * 2) for _ in range(n_blocks_local)]
            second += [nn.ConvTranspose2d(width * 2, width, kernel_size=3, stride=2, padding=1, output_padding=1),
                       instance_norm(width), nn.ReLU(True)]
            if n == n_local_enhancers:
                second += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
            setattr(self, f"model{n}_1", nn.Sequential(*first))
            setattr(self, f"model{n}_2", nn.Sequential(*second))
        self.downsample = nn.AvgPool2d(3, stride=2, padding=[1, 1], count_include_pad=False)

    def forward(self, x):
        pyramid = [x]
        for _ in range(self.n_local_enhancers):
            pyramid.append(self.downsample(pyramid[-1]))
        out = self.model(pyramid[-1])
        for n in range(1, self.n_local_enhancers + 1):
            finer = pyramid[self.n_local_enhancers - n]
            out = getattr(self, f"model{n}_2")(getattr(self, f"model{n}_1")(finer) + out)
        return out


def official_init(net: nn.Module, seed: int) -> nn.Module:
    """Random weights: conv weights N(0, 0.02) as ``weights_init``, biases N(0, 0.1) so they matter."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * 0.02)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return net


def get_edges(t: torch.Tensor) -> torch.Tensor:
    """The official edge map of an (N,1,H,W) instance map: 1 where the left/right or up/down neighbour differs."""
    edge = torch.zeros(t.size(), dtype=torch.bool)
    edge[:, :, :, 1:] = edge[:, :, :, 1:] | (t[:, :, :, 1:] != t[:, :, :, :-1])
    edge[:, :, :, :-1] = edge[:, :, :, :-1] | (t[:, :, :, 1:] != t[:, :, :, :-1])
    edge[:, :, 1:, :] = edge[:, :, 1:, :] | (t[:, :, 1:, :] != t[:, :, :-1, :])
    edge[:, :, :-1, :] = edge[:, :, :-1, :] | (t[:, :, 1:, :] != t[:, :, :-1, :])
    return edge.float()


def encode_input(label: torch.Tensor, instance: torch.Tensor | None, label_nc: int) -> torch.Tensor:
    """The official ``encode_input``: one-hot of the (N,1,H,W) ids, then the edge map unless no_instance."""
    n, _, h, w = label.shape
    onehot = torch.zeros(n, label_nc, h, w).scatter_(1, label.long(), 1.0)
    if instance is None:
        return onehot
    return torch.cat([onehot, get_edges(instance)], dim=1)


def tensor2im(image: torch.Tensor) -> np.ndarray:
    """The official util.tensor2im: (x + 1) / 2 * 255, clipped, truncated to uint8 (H, W, 3)."""
    array = (np.transpose(image.detach().cpu().float().numpy(), (1, 2, 0)) + 1) / 2.0 * 255.0
    return np.clip(array, 0, 255).astype(np.uint8)


def write_checkpoint(net: nn.Module, path: Path) -> Path:
    """``latest_net_G.pth`` as the official ``save_network`` writes it: the module's state dict."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.cpu().state_dict(), path)
    return path
