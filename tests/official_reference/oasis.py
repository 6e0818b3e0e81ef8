"""The forward pass of the official OASIS generator (boschresearch/OASIS ``models/generator.py`` and
``models/norms.py``), written for the tests from the official code's structure: a module tree whose
state dict has the official key layout of a released ``best_EMA.pth``.

- ``OASIS_Generator``: ``fc`` (a 3x3 conv on the label+noise map resized, nearest, to
  ``crop_size / 2**(num_res_blocks-1)`` wide and ``round(width / aspect_ratio)`` high), ``body`` (a
  ``ModuleList`` of six ``ResnetBlock_with_SPADE`` of widths 16, 16, 16, 8, 4, 2, 1 x ``channels_G``; the
  official code always builds six), a 2x nearest upsampling after each block but the last, LeakyReLU 0.2,
  ``conv_img`` and tanh;
- the 3D noise: z of ``z_dim`` (64) per image, expanded over every pixel and concatenated *before* the
  label channels; the official forward draws z itself, here it may be passed in (a fixed noise);
- the residual block: spectral norm (torch's first API: ``weight_orig``, ``weight_u``, ``weight_v``) on
  ``conv_0``, ``conv_1`` and the bias-free 1x1 ``conv_s``; LeakyReLU 0.2; SPADE layers reading label+noise;
- SPADE: ``first_norm`` (plain ``BatchNorm2d(affine=False)`` for the official ``SynchronizedBatchNorm2d``:
  the same keys and, in eval mode, the same arithmetic), ``mlp_shared`` (conv + ReLU, 128 hidden),
  ``mlp_gamma``, ``mlp_beta``; ``normalized * (1 + gamma) + beta``;
- the input: a one-hot map by ``scatter_`` over ``semantic_nc`` channels of the official dataset ids (ADE20K
  and COCO-Stuff after the loader's shift: 0 is "unknown"; Cityscapes' labelIds 0..33 in 35 channels);
- the EMA file: ``netEMA``'s state dict, every entry (spectral norm's ``u`` and ``v`` and batch norm's
  statistics too) an average of generator states (``utils.update_EMA``), so ``u`` and ``v`` are not unit vectors;
- the saved image: ``utils.tens_to_im`` then ``* 255`` and ``astype(np.uint8)`` (truncation).

This file is independent of ``bench_plugins``: it imports nothing from it, so a wrong conversion in
the plugin cannot hide behind shared code.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm


class OfficialSPADE(nn.Module):
    def __init__(self, norm_nc: int, label_nc: int, norm: str = "batch", hidden: int = 128):
        super().__init__()
        if norm == "batch":
            self.first_norm = nn.BatchNorm2d(norm_nc, affine=False)
        else:
            self.first_norm = nn.InstanceNorm2d(norm_nc, affine=False)
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_nc, hidden, kernel_size=3, padding=1), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(hidden, norm_nc, kernel_size=3, padding=1)
        self.mlp_beta = nn.Conv2d(hidden, norm_nc, kernel_size=3, padding=1)

    def forward(self, x, segmap):
        normalized = self.first_norm(x)
        segmap = F.interpolate(segmap, size=x.size()[2:], mode="nearest")
        actv = self.mlp_shared(segmap)
        return normalized * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


class OfficialResnetBlockWithSPADE(nn.Module):
    def __init__(self, fin: int, fout: int, cond_nc: int, spectral: bool, norm: str, hidden: int):
        super().__init__()
        self.learned_shortcut = fin != fout
        fmiddle = min(fin, fout)
        wrap = spectral_norm if spectral else (lambda m: m)
        self.conv_0 = wrap(nn.Conv2d(fin, fmiddle, kernel_size=3, padding=1))
        self.conv_1 = wrap(nn.Conv2d(fmiddle, fout, kernel_size=3, padding=1))
        if self.learned_shortcut:
            self.conv_s = wrap(nn.Conv2d(fin, fout, kernel_size=1, bias=False))
        self.norm_0 = OfficialSPADE(fin, cond_nc, norm, hidden)
        self.norm_1 = OfficialSPADE(fmiddle, cond_nc, norm, hidden)
        if self.learned_shortcut:
            self.norm_s = OfficialSPADE(fin, cond_nc, norm, hidden)
        self.activ = nn.LeakyReLU(0.2)

    def forward(self, x, seg):
        x_s = self.conv_s(self.norm_s(x, seg)) if self.learned_shortcut else x
        dx = self.conv_0(self.activ(self.norm_0(x, seg)))
        dx = self.conv_1(self.activ(self.norm_1(dx, seg)))
        return x_s + dx


class OfficialOasisGenerator(nn.Module):
    """``crop_size`` is the width and ``aspect_ratio`` width / height, as the official dataset classes set
    them (ADE20K, COCO-Stuff 256 and 1; Cityscapes 512 and 2); ``channels_G`` 64 and ``hidden`` 128 in
    the official code (smaller here only to make a test faster); ``z_dim`` 0 is ``--no_3dnoise``."""

    def __init__(self, semantic_nc: int, *, channels_G: int = 64, crop_size: int = 256, aspect_ratio: float = 1.0,
                 num_res_blocks: int = 6, z_dim: int = 64, spectral: bool = True, norm: str = "batch",
                 hidden: int = 128):
        super().__init__()
        ch = channels_G
        self.z_dim, self.num_res_blocks = z_dim, num_res_blocks
        self.channels = [16 * ch, 16 * ch, 16 * ch, 8 * ch, 4 * ch, 2 * ch, 1 * ch]
        width = crop_size // (2 ** (num_res_blocks - 1))
        self.init_hw = (round(width / aspect_ratio), width)
        self.conv_img = nn.Conv2d(self.channels[-1], 3, 3, padding=1)
        self.up = nn.Upsample(scale_factor=2)
        cond_nc = semantic_nc + z_dim
        self.body = nn.ModuleList(
            OfficialResnetBlockWithSPADE(self.channels[i], self.channels[i + 1], cond_nc, spectral, norm, hidden)
            for i in range(len(self.channels) - 1))
        self.fc = nn.Conv2d(cond_nc, 16 * ch, 3, padding=1)

    def forward(self, seg, z=None):
        if self.z_dim:
            if z is None:
                z = torch.randn(seg.size(0), self.z_dim, dtype=torch.float32)
            z = z.view(z.size(0), self.z_dim, 1, 1).expand(z.size(0), self.z_dim, seg.size(2), seg.size(3))
            seg = torch.cat((z, seg), dim=1)
        x = self.fc(F.interpolate(seg, size=self.init_hw))
        for i in range(self.num_res_blocks):
            x = self.body[i](x, seg)
            if i < self.num_res_blocks - 1:
                x = self.up(x)
        return torch.tanh(self.conv_img(F.leaky_relu(x, 2e-1)))


def preprocess_input(label: torch.Tensor, semantic_nc: int) -> torch.Tensor:
    """``label`` (N,1,H,W) of the official loader's ids -> the one-hot map of ``semantic_nc`` channels."""
    bs, _, h, w = label.size()
    return torch.zeros(bs, semantic_nc, h, w).scatter_(1, label.long(), 1.0)


def saved_image(image: torch.Tensor) -> np.ndarray:
    """(3,H,W) in [-1, 1] -> (H,W,3) uint8 as the official ``results_saver`` writes it (no clipping: its
    ``clamp`` is not in place; tanh keeps the values in range)."""
    out = (image.detach() + 1) / 2
    return (np.transpose(out.cpu().numpy(), (1, 2, 0)) * 255).astype(np.uint8)


def warm_up(net: OfficialOasisGenerator, inputs: list[torch.Tensor]) -> None:
    """Train-mode forwards (no update): batch norm's running statistics and spectral norm's u and v
    move away from their initial values, as in a trained file."""
    net.train()
    with torch.no_grad():
        for seg in inputs:
            net(seg)
    net.eval()


def ema_of(net: OfficialOasisGenerator, other: OfficialOasisGenerator, decay: float = 0.5) -> OfficialOasisGenerator:
    """``netEMA`` after one ``update_EMA``: every state entry ``ema * decay + G * (1 - decay)``, starting from
    ``net``'s state (spectral norm's u and v averaged as well, so they are no longer unit vectors)."""
    ema = copy.deepcopy(net)
    theirs = other.state_dict()
    with torch.no_grad():
        for key, value in ema.state_dict().items():
            value.data.copy_(value.data * decay + theirs[key].data * (1 - decay))
    ema.eval()
    return ema


def write_checkpoint(net: OfficialOasisGenerator, path: Path) -> Path:
    """``models/best_EMA.pth`` as the official ``save_networks`` writes it: the EMA generator's state dict."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return path
