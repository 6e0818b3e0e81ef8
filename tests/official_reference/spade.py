"""The forward pass of the official SPADE generator (NVlabs/SPADE), written for the tests from the
official code's structure: a module tree whose state dict has the official key layout.

Only what a test needs: the generator (``fc`` a 3x3 conv on the downsampled label map, or in VAE
mode a linear layer on ``z``),
SPADE residual blocks with torch's first spectral-norm API (``torch.nn.utils.spectral_norm``:
``weight_orig``, ``weight_u``, ``weight_v``), plain ``BatchNorm2d`` standing in for the official
``SynchronizedBatchNorm2d`` (the same keys and, in eval mode, the same arithmetic), the official
input (one-hot by ``scatter_`` with the dontcare label at index ``label_nc``, then the instance-edge
map) and the official ``tensor2im`` (``(x + 1) / 2 * 255``, clipped, truncated to uint8).

This file is independent of ``bench_plugins``: it imports nothing from it, so a wrong conversion in
the plugin cannot hide behind shared code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

UPSAMPLINGS = {"normal": 5, "more": 6, "most": 7}


class OfficialSPADE(nn.Module):
    def __init__(self, norm_nc: int, label_nc: int, norm: str = "batch", hidden: int = 128):
        super().__init__()
        if norm == "batch":
            self.param_free_norm = nn.BatchNorm2d(norm_nc, affine=False)
        else:
            self.param_free_norm = nn.InstanceNorm2d(norm_nc, affine=False)
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_nc, hidden, kernel_size=3, padding=1), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(hidden, norm_nc, kernel_size=3, padding=1)
        self.mlp_beta = nn.Conv2d(hidden, norm_nc, kernel_size=3, padding=1)

    def forward(self, x, segmap):
        normalized = self.param_free_norm(x)
        segmap = F.interpolate(segmap, size=x.size()[2:], mode="nearest")
        actv = self.mlp_shared(segmap)
        return normalized * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


class OfficialResBlock(nn.Module):
    def __init__(self, fin: int, fout: int, label_nc: int, spectral: bool, norm: str, hidden: int):
        super().__init__()
        self.learned_shortcut = fin != fout
        fmiddle = min(fin, fout)
        wrap = spectral_norm if spectral else (lambda m: m)
        self.conv_0 = wrap(nn.Conv2d(fin, fmiddle, kernel_size=3, padding=1))
        self.conv_1 = wrap(nn.Conv2d(fmiddle, fout, kernel_size=3, padding=1))
        if self.learned_shortcut:
            self.conv_s = wrap(nn.Conv2d(fin, fout, kernel_size=1, bias=False))
        self.norm_0 = OfficialSPADE(fin, label_nc, norm, hidden)
        self.norm_1 = OfficialSPADE(fmiddle, label_nc, norm, hidden)
        if self.learned_shortcut:
            self.norm_s = OfficialSPADE(fin, label_nc, norm, hidden)

    def forward(self, x, seg):
        x_s = self.conv_s(self.norm_s(x, seg)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, seg), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, seg), 0.2))
        return x_s + dx


class OfficialGenerator(nn.Module):
    """``crop_size`` is the width and ``aspect_ratio`` width / height, as the official options;
    ``hidden`` is 128 in the official code (smaller here only to make a test faster)."""

    def __init__(self, semantic_nc: int, *, ngf: int = 64, num_upsampling_layers: str = "normal",
                 crop_size: int = 256, aspect_ratio: float = 1.0, spectral: bool = True, norm: str = "batch",
                 hidden: int = 128, z_dim: int | None = None):
        super().__init__()
        nf = self.ngf = ngf
        self.mode = num_upsampling_layers
        self.sw = crop_size // 2 ** UPSAMPLINGS[num_upsampling_layers]
        self.sh = round(self.sw / aspect_ratio)
        if z_dim:  # VAE mode: the start tensor from z
            self.fc = nn.Linear(z_dim, 16 * nf * self.sw * self.sh)
        else:
            self.fc = nn.Conv2d(semantic_nc, 16 * nf, 3, padding=1)
        self.z_dim = z_dim

        def block(a, b):
            return OfficialResBlock(a, b, semantic_nc, spectral, norm, hidden)

        self.head_0 = block(16 * nf, 16 * nf)
        self.G_middle_0 = block(16 * nf, 16 * nf)
        self.G_middle_1 = block(16 * nf, 16 * nf)
        self.up_0 = block(16 * nf, 8 * nf)
        self.up_1 = block(8 * nf, 4 * nf)
        self.up_2 = block(4 * nf, 2 * nf)
        self.up_3 = block(2 * nf, nf)
        final_nc = nf
        if num_upsampling_layers == "most":
            self.up_4 = block(nf, nf // 2)
            final_nc = nf // 2
        self.conv_img = nn.Conv2d(final_nc, 3, 3, padding=1)
        self.up = nn.Upsample(scale_factor=2)

    def forward(self, seg, z=None):
        if self.z_dim:
            z = torch.randn(seg.size(0), self.z_dim) if z is None else z
            x = self.fc(z).view(-1, 16 * self.ngf, self.sh, self.sw)
        else:
            x = self.fc(F.interpolate(seg, size=(self.sh, self.sw)))
        x = self.head_0(x, seg)
        x = self.G_middle_0(self.up(x), seg)
        if self.mode in ("more", "most"):
            x = self.up(x)
        x = self.G_middle_1(x, seg)
        for name in ("up_0", "up_1", "up_2", "up_3") + (("up_4",) if self.mode == "most" else ()):
            x = getattr(self, name)(self.up(x), seg)
        return torch.tanh(self.conv_img(F.leaky_relu(x, 0.2)))


def get_edges(t: torch.Tensor) -> torch.Tensor:
    """(N,1,H,W) instance ids -> (N,1,H,W) float, 1 where a horizontal or vertical neighbour differs."""
    edge = torch.zeros(t.size(), dtype=torch.bool)
    horizontal = t[:, :, :, 1:] != t[:, :, :, :-1]
    vertical = t[:, :, 1:, :] != t[:, :, :-1, :]
    edge[:, :, :, 1:] |= horizontal
    edge[:, :, :, :-1] |= horizontal
    edge[:, :, 1:, :] |= vertical
    edge[:, :, :-1, :] |= vertical
    return edge.float()


def preprocess_input(label: torch.Tensor, instance: torch.Tensor | None, label_nc: int,
                     contain_dontcare_label: bool) -> torch.Tensor:
    """``label`` (N,1,H,W) with the dontcare pixels already at ``label_nc`` (as the official datasets
    leave them) -> the generator's input."""
    bs, _, h, w = label.size()
    nc = label_nc + 1 if contain_dontcare_label else label_nc
    semantics = torch.zeros(bs, nc, h, w).scatter_(1, label.long(), 1.0)
    if instance is not None:
        semantics = torch.cat((semantics, get_edges(instance)), dim=1)
    return semantics


def tensor2im(image: torch.Tensor) -> np.ndarray:
    """(3,H,W) in [-1, 1] -> (H,W,3) uint8 as the official test script saves it."""
    array = (np.transpose(image.detach().cpu().float().numpy(), (1, 2, 0)) + 1) / 2.0 * 255.0
    return np.clip(array, 0, 255).astype(np.uint8)


def warm_up(net: OfficialGenerator, inputs: list[torch.Tensor]) -> None:
    """Train-mode forwards (no update): batch norm's running statistics and spectral norm's u and v
    move away from their initial values, as in a trained file."""
    net.train()
    with torch.no_grad():
        for seg in inputs:
            net(seg)
    net.eval()


def write_checkpoint(net: OfficialGenerator, path: Path) -> Path:
    """``latest_net_G.pth`` as the official ``save_network`` writes it: the generator's state dict."""
    torch.save(net.state_dict(), path)
    return path
