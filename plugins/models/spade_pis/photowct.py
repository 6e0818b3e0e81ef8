"""PhotoWCT: VGG19 encoders that keep their max-pooling switches, mirrored decoders that unpool.

"A Closed-form Solution to Photorealistic Image Stylization" replaces the upsampling of
WCT's decoders by unpooling with the encoder's max-pooling indices, so that the decoded
image keeps the content's spatial detail. There are four encoder/decoder pairs, ending at
relu1_1, relu2_1, relu3_1 and relu4_1 of VGG19; stylization runs them coarse to fine: the
content is encoded to relu4_1, whitened and coloured with the style's relu4_1 features and
decoded; the result is encoded to relu3_1, transformed and decoded; and so on to relu1_1.

The encoder reads a VGG19 ``features`` stack in torchvision's layer order (any width: the
decoders take their channel counts from it) and normalises [0, 1] photos with the
ImageNet mean and standard deviation first. Its weights are frozen.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from bench_plugins.models.vgg19 import IMAGENET_MEAN, IMAGENET_STD, LAYER_INDEX

from .whitening import RegionDecision, label_wct

#: index of relu{k}_1 in torchvision's VGG19 ``features``
LEVEL_END = {k: LAYER_INDEX[f"relu{k}_1"] for k in (1, 2, 3, 4)}


class Encoder(nn.Module):
    """VGG19 up to relu4_1 with max-pooling that returns its indices."""

    def __init__(self, features: nn.Sequential):
        super().__init__()
        layers = []
        for layer in list(features)[: LEVEL_END[4] + 1]:
            if isinstance(layer, nn.MaxPool2d):
                layer = nn.MaxPool2d(2, 2, return_indices=True)
            elif isinstance(layer, nn.ReLU):
                layer = nn.ReLU(inplace=False)
            layers.append(layer)
        kinds = [type(layer).__name__ for layer in layers]
        expected = ["Conv2d", "ReLU"] * 2 + ["MaxPool2d"] + ["Conv2d", "ReLU"] * 2 + ["MaxPool2d"]
        expected += ["Conv2d", "ReLU"] * 4 + ["MaxPool2d"] + ["Conv2d", "ReLU"]
        if kinds != expected:
            raise ValueError(f"not a VGG19 features stack up to relu4_1: {kinds}")
        self.layers = nn.ModuleList(layers)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)

    def channels(self, level: int) -> int:
        convs = [m for m in self.layers[: LEVEL_END[level] + 1] if isinstance(m, nn.Conv2d)]
        return convs[-1].out_channels

    def forward(self, image: torch.Tensor, level: int) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Size]]]:
        """Features at relu{level}_1 of (N,3,H,W) photos in [0, 1], and the pooling switches."""
        x = (image - self.mean) / self.std
        switches = []
        for layer in self.layers[: LEVEL_END[level] + 1]:
            if isinstance(layer, nn.MaxPool2d):
                size = x.shape
                x, indices = layer(x)
                switches.append((indices, size))
            else:
                x = layer(x)
        return x, switches


class Decoder(nn.Module):
    """The mirror image of the encoder up to relu{level}_1: convolutions reversed, max-pooling
    replaced by unpooling with the encoder's switches; outputs photos in [0, 1] (unclamped)."""

    def __init__(self, encoder: Encoder, level: int):
        super().__init__()
        self.level = level
        blocks: list[nn.Module] = []
        convs = 0
        for layer in reversed(list(encoder.layers[: LEVEL_END[level] + 1])):
            if isinstance(layer, nn.Conv2d):
                convs += 1
                blocks.append(nn.Conv2d(layer.out_channels, layer.in_channels, 3, padding=1, padding_mode="reflect"))
            elif isinstance(layer, nn.MaxPool2d):
                blocks.append(nn.MaxUnpool2d(2, 2))
        self.blocks = nn.ModuleList(blocks)
        self.convs = convs

    def forward(self, features: torch.Tensor, switches: list[tuple[torch.Tensor, torch.Size]]) -> torch.Tensor:
        x = features
        pending = list(switches)
        seen = 0
        for block in self.blocks:
            if isinstance(block, nn.MaxUnpool2d):
                indices, size = pending.pop()
                x = block(x, indices, output_size=size)
            else:
                x = block(x)
                seen += 1
                if seen < self.convs:
                    x = F.relu(x)
        return x


class PhotoWCT(nn.Module):
    """The encoder, one decoder per level, and coarse-to-fine stylization."""

    def __init__(self, features: nn.Sequential, levels: tuple[int, ...] = (4, 3, 2, 1)):
        super().__init__()
        self.encoder = Encoder(features)
        self.levels = tuple(levels)
        self.decoders = nn.ModuleDict({str(k): Decoder(self.encoder, k) for k in sorted(self.levels)})

    def reconstruct(self, image: torch.Tensor, level: int) -> torch.Tensor:
        features, switches = self.encoder(image, level)
        return self.decoders[str(level)](features, switches)

    @torch.no_grad()
    def stylize(self, content: torch.Tensor, style: torch.Tensor, content_label: torch.Tensor | None = None,
                style_label: torch.Tensor | None = None, **wct_options) -> tuple[torch.Tensor, list[RegionDecision]]:
        """One content photo (1,3,H,W) and one style photo (1,3,H',W') in [0, 1] -> the stylized photo.

        With both label maps (H,W) and (H',W') the transfer is label-aware (see ``wct``);
        returns the decisions taken at the coarsest level.
        """
        x = content
        decisions: list[RegionDecision] = []
        for level in self.levels:
            features, switches = self.encoder(x, level)
            style_features, _ = self.encoder(style, level)
            out, level_decisions = label_wct(features[0], style_features[0], content_label, style_label,
                                             **wct_options)
            decisions = decisions or level_decisions
            x = self.decoders[str(level)](out[None].to(features.dtype), switches)
        return x.clamp(0, 1), decisions
