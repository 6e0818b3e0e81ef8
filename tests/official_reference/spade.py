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


# --------------------------------------------------------------------------- training: D and one step


class OfficialNLayerDiscriminator(nn.Module):
    """The official ``NLayerDiscriminator`` with ``norm_D=spectralinstance``: sub-modules ``model0``..,
    4x4 convs with padding 2, spectral norm and instance norm on the inner convs (their bias removed)."""

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 4):
        super().__init__()
        nf = ndf
        sequence = [[nn.Conv2d(input_nc, nf, kernel_size=4, stride=2, padding=2), nn.LeakyReLU(0.2, False)]]
        for n in range(1, n_layers):
            nf_prev, nf = nf, min(nf * 2, 512)
            stride = 1 if n == n_layers - 1 else 2
            conv = spectral_norm(nn.Conv2d(nf_prev, nf, kernel_size=4, stride=stride, padding=2))
            delattr(conv, "bias")
            conv.register_parameter("bias", None)
            sequence += [[nn.Sequential(conv, nn.InstanceNorm2d(nf, affine=False)), nn.LeakyReLU(0.2, False)]]
        sequence += [[nn.Conv2d(nf, 1, kernel_size=4, stride=1, padding=2)]]
        for n, layers in enumerate(sequence):
            self.add_module("model" + str(n), nn.Sequential(*layers))

    def forward(self, x):
        results = [x]
        for sub in self.children():
            results.append(sub(results[-1]))
        return results[1:]


class OfficialMultiscaleDiscriminator(nn.Module):
    def __init__(self, input_nc: int, num_D: int = 2, ndf: int = 64, n_layers: int = 4):
        super().__init__()
        for i in range(num_D):
            self.add_module("discriminator_%d" % i, OfficialNLayerDiscriminator(input_nc, ndf, n_layers))

    def forward(self, x):
        result = []
        for d in self.children():
            result.append(d(x))
            x = F.avg_pool2d(x, kernel_size=3, stride=2, padding=[1, 1], count_include_pad=False)
        return result


def official_hinge(pred, target_is_real: bool, for_discriminator: bool) -> torch.Tensor:
    """The official ``GANLoss(gan_mode='hinge')`` over a multi-scale prediction (mean over scales)."""
    loss = 0
    for scale in pred:
        logits = scale[-1]
        if for_discriminator:
            value = -torch.mean(torch.min(logits - 1, torch.zeros_like(logits))) if target_is_real else \
                -torch.mean(torch.min(-logits - 1, torch.zeros_like(logits)))
        else:
            value = -torch.mean(logits)
        loss = loss + value
    return loss / len(pred)


def official_discriminate(netD, semantics, fake, real):
    """The official ``discriminate``: fake and real pairs in one batch, the prediction split in two."""
    fake_and_real = torch.cat([torch.cat([semantics, fake], dim=1), torch.cat([semantics, real], dim=1)], dim=0)
    out = netD(fake_and_real)
    return [[t[: t.size(0) // 2] for t in p] for p in out], [[t[t.size(0) // 2:] for t in p] for p in out]


def official_step(netG, netD, opt_G, opt_D, semantics, real, lambda_feat: float = 10.0) -> dict[str, float]:
    """One official training iteration without VGG or VAE: ``run_generator_one_step`` (hinge G loss and
    feature matching, D's parameters left trainable as the official code leaves them), then
    ``run_discriminator_one_step`` on a fresh fake from the updated generator."""
    opt_G.zero_grad()
    fake = netG(semantics)
    pred_fake, pred_real = official_discriminate(netD, semantics, fake, real)
    g_gan = official_hinge(pred_fake, True, for_discriminator=False)
    feat = torch.zeros(1)
    for i in range(len(pred_fake)):
        for j in range(len(pred_fake[i]) - 1):
            feat = feat + F.l1_loss(pred_fake[i][j], pred_real[i][j].detach()) * lambda_feat / len(pred_fake)
    (g_gan + feat).backward()
    opt_G.step()
    opt_D.zero_grad()
    with torch.no_grad():
        fake = netG(semantics).detach()
    fake.requires_grad_()
    pred_fake, pred_real = official_discriminate(netD, semantics, fake, real)
    d_fake = official_hinge(pred_fake, False, for_discriminator=True)
    d_real = official_hinge(pred_real, True, for_discriminator=True)
    (d_fake + d_real).backward()
    opt_D.step()
    return {k: float(v.detach()) for k, v in (("GAN", g_gan), ("GAN_Feat", feat), ("D_fake", d_fake), ("D_real", d_real))}
