"""VGG16 fc2 features (4096-d), the embedding "Improved Precision and Recall Metric for Assessing
Generative Models" (Kynkäänniemi et al., NeurIPS 2019) computes its k-NN manifolds on.

The network is torchvision's ImageNet VGG16, the same file as ``lpips.net=vgg``'s backbone
(``vgg16-397923af.pth``, ``bench weights import vgg16-imagenet FILE``), read strictly; the feature
is the output of the second fully connected layer after its ReLU (``classifier[:5]`` in eval mode:
fc1, ReLU, dropout off, fc2, ReLU). Each image is resized to 224x224 (PIL bicubic) and normalised
with ImageNet's statistics, as torchvision's ImageNet models expect. Cached per folder content by
:mod:`bench_plugins.metrics.feature_cache`.
"""

from __future__ import annotations

import torch
from bench_plugins.metrics import lpips_network
from bench_plugins.metrics.feature_cache import (
    FeatureNetwork,
    imagenet_input,
    imagenet_protocol,
)
from bench_plugins.metrics.inception import full_fp32
from bench_plugins.metrics.inception_torchvision import imported_or_hub, torch_hub_file
from bench_plugins.segmenters.published import read_state_dict

from benchmark import EvalContext, weights

SIDE = 224
DIM = 4096
NETWORK = "VGG16 (torchvision ImageNet) fc2 after ReLU, 4096-d, fp32"
SPEC = lpips_network.BACKBONES["vgg"]
_LOADED: dict = {}


def available() -> bool:
    """Whether the VGG16 file is in bench's weights cache or torch hub's (nothing is downloaded)."""
    return weights.status(SPEC) != weights.MISSING or torch_hub_file(SPEC).is_file()


class VGG16FC2(torch.nn.Module):
    def __init__(self, state: dict):
        super().__init__()
        net = lpips_network.BUILD["vgg"]()
        net.load_state_dict(state, strict=True)
        self.features, self.avgpool, self.head = net.features, net.avgpool, net.classifier[:5]
        self.eval().requires_grad_(False)

    @torch.inference_mode()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.avgpool(self.features(x)), 1))


def feature_network(ctx: EvalContext, needed_by: str = "prdc.features=vgg16") -> FeatureNetwork:
    """The VGG16 file as a cached feature network; the file is read only when features must be computed."""
    path = imported_or_hub(SPEC, needed_by)
    key = (str(path), str(ctx.device))

    def features(batch):
        if key not in _LOADED:
            _LOADED[key] = VGG16FC2(read_state_dict(path)).to(ctx.device)
        with full_fp32(ctx.device):
            return _LOADED[key](batch.to(ctx.device)).float().cpu().numpy()

    described = {"network": NETWORK, "weights": SPEC.filename, "weights_sha256": lpips_network.sha256(path),
                 "preprocessing": imagenet_protocol(SIDE)}
    return FeatureNetwork("vgg16-fc2", DIM, imagenet_input(SIDE), features, described)
