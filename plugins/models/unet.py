"""What the U-Net cGANs (pix2pix, label-cgan) share: encoder widths, the PatchGAN grid and the init.

Both generators halve the resolution with 4x4 stride-2 convolutions down to 1x1
(``log2(image_size)`` levels) with widths ngf, 2ngf, 4ngf, 8ngf, 8ngf, ...; both
discriminators are PatchGANs whose logit grid side is :func:`patch_grid_size`; both
start from the DCGAN / pix2pix "normal" init. The layer order inside a step is each
source's own (pix2pix: activation before the conv; label-cgan: after the norm), so
the step classes stay with their model.
"""

from __future__ import annotations

from torch import nn


def unet_widths(image_size: int, ngf: int) -> list[int]:
    """Encoder output widths, one per halving, down to 1x1: ngf * 2**i capped at 8 * ngf."""
    num_downs = image_size.bit_length() - 1  # log2 of a power of two
    return [ngf * min(2 ** i, 8) for i in range(num_downs)]


def patch_grid_size(image_size: int, n_layers: int) -> int:
    """Side of a PatchGAN's logit grid: n_layers halvings, then two 4x4 stride-1 convs (-1 each)."""
    return image_size // 2 ** n_layers - 2


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """Conv weights ~ N(0, gain), BatchNorm scales ~ N(1, gain), biases 0 (the official "normal" init)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
