"""The LPIPS network (Zhang et al., "The Unreasonable Effectiveness of Deep Features as a Perceptual
Metric", CVPR 2018, version 0.1) in bench's own code, reading two files it does not ship.

- The backbone: torchvision's ImageNet AlexNet (``alexnet-owt-7be5be79.pth``) or VGG16
  (``vgg16-397923af.pth``), imported offline with ``bench weights import`` (or taken from torch
  hub's cache), read strictly into torchvision's architecture.
- The calibrated linear layers: ``weights/v0.1/{alex,vgg}.pth`` inside the ``lpips`` package's
  wheel (BSD-2-Clause; ``pip install lpips``), read from the installed package's folder without
  importing it.

Forward pass of two (N,3,H,W) images in [-1, 1]: the fixed shift/scale of v0.1, the backbone's
five ReLU outputs, each unit-normalised over channels (eps 1e-10), squared difference, the
1x1 linear layer (no bias), spatial mean, summed over layers: one distance per image pair.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import torch
from bench_plugins.metrics.inception_torchvision import imported_or_hub
from bench_plugins.segmenters.published import layout_check, read_state_dict
from torchvision import models

from benchmark import WeightsError, WeightSpec

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
EPS = 1e-10
#: the end (exclusive) of each of the five slices of the backbone's ``features``, and their widths
SLICES = {"alex": ((2, 5, 8, 10, 12), (64, 192, 384, 256, 256)),
          "vgg": ((4, 9, 16, 23, 30), (64, 128, 256, 512, 512))}
BUILD = {"alex": lambda: models.alexnet(weights=None), "vgg": lambda: models.vgg16(weights=None)}
TORCHVISION_URL = "https://download.pytorch.org/models/"
BACKBONES = {
    "alex": WeightSpec(
        name="alexnet-imagenet", filename="alexnet-owt-7be5be79.pth", sha256=None,
        url=TORCHVISION_URL + "alexnet-owt-7be5be79.pth", hash_prefix="7be5be79",
        summary="torchvision's ImageNet AlexNet: the backbone of lpips (net=alex) and diversity",
        source="torchvision `AlexNet_Weights.IMAGENET1K_V1` (BSD-3-Clause), the file the lpips package loads",
        check=layout_check(BUILD["alex"], "torchvision's AlexNet")),
    "vgg": WeightSpec(
        name="vgg16-imagenet", filename="vgg16-397923af.pth", sha256=None,
        url=TORCHVISION_URL + "vgg16-397923af.pth", hash_prefix="397923af",
        summary="torchvision's ImageNet VGG16: the backbone of lpips.net=vgg",
        source="torchvision `VGG16_Weights.IMAGENET1K_V1` (BSD-3-Clause), the file the lpips package loads",
        check=layout_check(BUILD["vgg"], "torchvision's VGG16")),
}


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def linear_file(net: str) -> Path:
    """``weights/v0.1/<net>.pth`` of the installed lpips package, or one line saying how to install it."""
    spec = importlib.util.find_spec("lpips")
    folder = Path(next(iter(spec.submodule_search_locations))) if spec and spec.submodule_search_locations else None
    path = folder / "weights" / "v0.1" / f"{net}.pth" if folder else None
    if path is None or not path.is_file():
        raise WeightsError(f"lpips needs the calibrated linear layers of the lpips package (weights/v0.1/{net}.pth): "
                           f"pip install lpips==0.1.4")
    return path


def backbone_file(net: str) -> Path:
    """The backbone file from bench's weights cache (imported from torch hub's cache when it is there)."""
    return imported_or_hub(BACKBONES[net], f"lpips (net={net})")


class LPIPSNetwork(torch.nn.Module):
    """LPIPS v0.1 on a backbone state dict and a linear-layer state dict (``lin{k}.model.1.weight``)."""

    def __init__(self, net: str, backbone_state: dict, linear_state: dict):
        super().__init__()
        trunk = BUILD[net]()
        trunk.load_state_dict(backbone_state, strict=True)
        ends, widths = SLICES[net]
        starts = (0, *ends[:-1])
        self.slices = torch.nn.ModuleList(torch.nn.Sequential(*trunk.features[a:b]) for a, b in zip(starts, ends))
        self.linear = torch.nn.ModuleList(torch.nn.Conv2d(w, 1, 1, bias=False) for w in widths)
        for k, conv in enumerate(self.linear):
            conv.weight.data.copy_(linear_state[f"lin{k}.model.1.weight"])
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))
        self.eval().requires_grad_(False)

    def layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        out, h = [], (x - self.shift) / self.scale
        for piece in self.slices:
            h = piece(h)
            unit = h / (h.pow(2).sum(dim=1, keepdim=True).sqrt() + EPS)
            out.append(unit)
        return out

    @torch.inference_mode()
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(N,) distances of image pairs in [-1, 1]."""
        total = 0
        for fa, fb, conv in zip(self.layers(a), self.layers(b), self.linear):
            total = total + conv((fa - fb) ** 2).mean(dim=(2, 3))
        return total.flatten()

    @torch.inference_mode()
    def pairwise(self, images: torch.Tensor, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """The distances of the pairs (``images[first[p]]``, ``images[second[p]]``) of one batch in
        [-1, 1]: each image through the backbone once, however many pairs it is in."""
        total = 0
        for f, conv in zip(self.layers(images), self.linear):
            total = total + conv((f[first] - f[second]) ** 2).mean(dim=(2, 3))
        return total.flatten()


_LOADED: dict = {}


def load(net: str, device: torch.device) -> tuple[LPIPSNetwork, dict]:
    """The network (once per process and device) and the protocol of its two files."""
    backbone, linear = backbone_file(net), linear_file(net)
    key = (net, str(backbone), str(device))
    if key not in _LOADED:
        module = LPIPSNetwork(net, read_state_dict(backbone),
                              torch.load(linear, map_location="cpu", weights_only=True)).to(device)
        _LOADED[key] = module, {"network": f"LPIPS v0.1, {net} backbone", "weights": backbone.name,
                                "weights_sha256": sha256(backbone), "linear_weights": f"lpips/weights/v0.1/{net}.pth",
                                "linear_weights_sha256": sha256(linear)}
    return _LOADED[key]
