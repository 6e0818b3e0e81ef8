"""What the U-Net cGANs (pix2pix, label-cgan) share: encoder widths, the PatchGAN grid and the init.

Both generators halve the resolution with 4x4 stride-2 convolutions down to 1 px on the
shorter side (``log2(min(height, width))`` levels: 1x1 for a square, 2x1 at 64x32) with widths ngf, 2ngf, 4ngf, 8ngf, 8ngf, ...; both
discriminators are PatchGANs whose logit grid side is :func:`patch_grid_size`; both
start from the DCGAN / pix2pix "normal" init. The layer order inside a step is each
source's own (pix2pix: activation before the conv; label-cgan: after the norm), so
the step classes stay with their model.
"""

from __future__ import annotations

import math

from torch import nn

from benchmark import ConfigError, Size


def unet_widths(image_size: int | Size, ngf: int) -> list[int]:
    """Encoder output widths, one per halving, down to 1 px on the shorter side: ngf * 2**i capped at 8 * ngf."""
    num_downs = unet_side(image_size).bit_length() - 1  # log2 of a power of two
    return [ngf * min(2 ** i, 8) for i in range(num_downs)]


def unet_side(size: int | Size) -> int:
    """The side that sets a U-Net's depth: the shorter one."""
    return min(Size.of(size))


def check_unet_size(name: str, size: int | Size, n_layers_d: int) -> None:
    """One clear line unless both sides halve cleanly down to 1 px on the shorter one and the
    PatchGAN has an output; the line names the options and a size that works."""
    size = Size.of(size)
    side = min(size)
    depth = side.bit_length() - 1
    if side < 16 or side & (side - 1) or max(size) % 2 ** depth:
        if size.square:
            raise ConfigError(f"{name}: image_size must be a power of two >= 16 (16, 32, 64, 128, 256, ...) for "
                              f"the U-Net to halve down to 1x1, got {side}")
        good = working_size(size)
        raise ConfigError(f"{name}: the U-Net halves both sides down to 1 px on the shorter one, and {size.text()} "
                          f"(image_size={size.height}, aspect_ratio={size.width / size.height:g}) does not halve "
                          f"cleanly; the shorter side must be a power of two >= 16 and the longer a multiple of "
                          f"it, e.g. --set image_size={good.height} --set aspect_ratio={good.width / good.height:g} "
                          f"({good.text()})")
    if patch_grid_size(side, n_layers_d) < 1:
        largest = max(n for n in range(1, side.bit_length()) if patch_grid_size(side, n) >= 1)
        shown = f"image_size {side}" if size.square else f"size {size.text()}"
        raise ConfigError(f"{name}: n_layers_d={n_layers_d} leaves no PatchGAN output at {shown}; use "
                          f"n_layers_d <= {largest} or a larger image_size")


def working_size(size: Size) -> Size:
    """A size near ``size`` that a U-Net takes: the shorter side rounded to a power of two >= 16,
    the longer a whole multiple of it."""
    short, long_ = min(size), max(size)
    p = max(16, 2 ** round(math.log2(short)))
    k = max(1, round(long_ / short))
    return Size(p, p * k) if size.height <= size.width else Size(p * k, p)


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
