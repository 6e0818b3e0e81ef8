"""The networks of the label-conditioned cGAN (the class-label cGAN report): a U-Net generator and a PatchGAN.

Both read the image-level class label as constant feature maps: the (N,C)
multi-hot vector is broadcast to (N,C,H,W) and concatenated with the sketch
(generator) or with the image and the sketch (discriminator) along channels
(:func:`broadcast_classes`). The report says the generator "combines the sketch
and label" and the discriminator "concatenates image data with label data";
broadcasting is the plainest reading of both, needs no extra parameters, and
works for several classes at once.

Layer layout (the report names the blocks but gives no widths or depths):

- generator: a U-Net that halves the resolution with 4x4 stride-2 convolutions
  down to 1x1 (``log2(image_size)`` levels: 7 at the report's 128 px), widths
  ngf, 2ngf, 4ngf, 8ngf, 8ngf, ...; each encoder step is conv -> BatchNorm ->
  LeakyReLU(0.2) (no norm on the first and the 1x1 step); each decoder step is a
  4x4 stride-2 transposed conv -> BatchNorm -> ReLU whose output is concatenated
  with the encoder output of the same resolution (the skip connection); a last
  transposed conv gives 3 channels and tanh.
- discriminator: a PatchGAN with ``n_layers`` 4x4 stride-2 convolutions, one 4x4
  stride-1 conv, and a 4x4 stride-1 conv to one channel: one real/fake score per
  overlapping patch (70x70 pixels with the default 3 layers).

The report's discriminator ends in a sigmoid and is trained with binary cross
entropy. ``PatchDiscriminator.forward`` returns the scores before the sigmoid
(logits) and the losses use ``binary_cross_entropy_with_logits``, which is
sigmoid + BCE computed in one numerically stable step (and safe under mixed
precision); :meth:`PatchDiscriminator.probability` applies the sigmoid.

The widths, the PatchGAN grid and the init are shared with pix2pix (:mod:`bench_plugins.models.unet`);
the step and generator names follow pix2pix's (``Down``, ``Up``, ``UnetGenerator``).
"""

from __future__ import annotations

import torch
from bench_plugins.models.unet import init_weights, patch_grid_size, unet_widths
from torch import nn

__all__ = ["Down", "PatchDiscriminator", "Up", "UnetGenerator", "broadcast_classes", "init_weights",
           "patch_grid_size", "unet_widths"]


def broadcast_classes(classes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(N,C) image-level labels -> (N,C,H,W): each class a constant map of its 0/1 value."""
    return classes[:, :, None, None].expand(-1, -1, height, width)


class Down(nn.Sequential):
    """4x4 stride-2 conv -> [BatchNorm] -> LeakyReLU(0.2)."""

    def __init__(self, in_ch: int, out_ch: int, normalize: bool):
        layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, 4, stride=2, padding=1, bias=not normalize)]
        if normalize:
            layers.append(nn.BatchNorm2d(out_ch))
        layers.append(nn.LeakyReLU(0.2))
        super().__init__(*layers)


class Up(nn.Sequential):
    """4x4 stride-2 transposed conv -> BatchNorm -> ReLU."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__(nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1, bias=False),
                         nn.BatchNorm2d(out_ch), nn.ReLU())


class UnetGenerator(nn.Module):
    """Sketch (N,1,H,W) + classes (N,C) -> photo (N,3,H,W) in [-1, 1]."""

    def __init__(self, num_classes: int, image_size: int, ngf: int = 64, sketch_channels: int = 1):
        super().__init__()
        widths = unet_widths(image_size, ngf)
        last = len(widths) - 1
        self.encoder = nn.ModuleList(
            Down(sketch_channels + num_classes if i == 0 else widths[i - 1], width,
                        normalize=0 < i < last)
            for i, width in enumerate(widths))
        # decoder[j] brings level last - j back to the resolution of level last - j - 1;
        # from the second step on it reads [previous decoder output, skip] (twice the width)
        self.decoder = nn.ModuleList(
            Up(widths[i] if i == last else 2 * widths[i], widths[i - 1])
            for i in range(last, 0, -1))
        self.to_image = nn.Sequential(nn.ConvTranspose2d(2 * widths[0], 3, 4, stride=2, padding=1), nn.Tanh())

    def forward(self, sketch: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        x = torch.cat([sketch, broadcast_classes(classes, *sketch.shape[-2:]).to(sketch.dtype)], dim=1)
        skips = []
        for step in self.encoder:
            x = step(x)
            skips.append(x)
        skips.pop()  # the 1x1 code is the decoder's input, not a skip
        for step in self.decoder:
            x = torch.cat([step(x), skips.pop()], dim=1)
        return self.to_image(x)


class PatchDiscriminator(nn.Module):
    """Image (N,3,H,W) + sketch (N,1,H,W) + classes (N,C) -> (N,1,h,w) patch logits."""

    def __init__(self, num_classes: int, ndf: int = 64, n_layers: int = 3, sketch_channels: int = 1):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3 + sketch_channels + num_classes, ndf, 4, stride=2, padding=1),
                                   nn.LeakyReLU(0.2)]
        width = ndf
        for k in range(1, n_layers + 1):
            out = ndf * min(2 ** k, 8)
            layers += [nn.Conv2d(width, out, 4, stride=2 if k < n_layers else 1, padding=1, bias=False),
                       nn.BatchNorm2d(out), nn.LeakyReLU(0.2)]
            width = out
        layers.append(nn.Conv2d(width, 1, 4, stride=1, padding=1))
        self.layers = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, sketch: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        maps = broadcast_classes(classes, *image.shape[-2:]).to(image.dtype)
        return self.layers(torch.cat([image, sketch.to(image.dtype), maps], dim=1))

    def probability(self, image: torch.Tensor, sketch: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """The report's sigmoid output: per patch, the probability that the image is real."""
        return torch.sigmoid(self.forward(image, sketch, classes))
