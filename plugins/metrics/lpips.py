"""``lpips``: the mean LPIPS distance of each generated image to the real photo of its label map.

The network is :mod:`bench_plugins.metrics.lpips_network` (v0.1, AlexNet backbone by default, as the
LPIPS authors recommend for a distance; ``--set lpips.net=vgg``). Images are read as RGB in [0, 1]
and given as 2x - 1 at the evaluation resolution. The protocol records the network, both files'
sha256 and the image count.
"""

from __future__ import annotations

from typing import Literal

import torch
from bench_plugins.metrics import lpips_network
from bench_plugins.metrics.inception import full_fp32
from pydantic import Field

from benchmark import Metric, MetricResult, Options, hookimpl


class LPIPSOptions(Options):
    net: Literal["alex", "vgg"] = Field("alex", description="the backbone: alex (the LPIPS authors' default) or vgg")


class LPIPS(Metric):
    """Learned Perceptual Image Patch Similarity (Zhang et al. 2018, v0.1) of generated vs real, lower is closer.

    Equal to the ``lpips`` package's ``LPIPS(net=...)(fake, real)`` on the same files to 1e-6.
    Needs the backbone (``bench weights import alexnet-imagenet FILE``) and the lpips package
    (``pip install lpips``) for its calibrated linear layers.
    """

    name = "lpips"
    summary = "LPIPS distance of each generated image to its real photo (v0.1, AlexNet)"
    columns = {"LPIPS": "down"}
    kind = "paired"
    Options = LPIPSOptions

    def check(self, options):
        lpips_network.backbone_file(options.net)
        lpips_network.linear_file(options.net)

    def compute(self, ctx, options):
        net, protocol = lpips_network.load(options.net, ctx.device)
        values = []
        with full_fp32(ctx.device):
            for fake, real in ctx.pairs():
                values.append(net(2 * fake.float() - 1, 2 * real.float() - 1).double().cpu())
        flat = torch.cat(values) if values else torch.empty(0, dtype=torch.float64)
        if not len(flat):
            return MetricResult({"LPIPS": None}, protocol, {"LPIPS": "no generated images"})
        return MetricResult({"LPIPS": float(flat.mean())}, {"images": len(flat), **protocol},
                            per_image={"LPIPS": flat.tolist()})


@hookimpl
def register_metrics(register):
    register(LPIPS())


@hookimpl
def register_weights(register):
    for spec in lpips_network.BACKBONES.values():
        register(spec)
