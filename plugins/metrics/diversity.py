"""``diversity``: how different the K images a model samples for one label map are from each other.

Multi-modal semantic image synthesis papers (OASIS, SMIS, INADE and later) report it as the
mean pairwise LPIPS (higher: more diverse) and the mean pairwise MS-SSIM (lower: more diverse)
of K samples per test label map, averaged over the maps. The harness generates the samples
(``Metric.samples_per_map``: K = 10 by default, 3 at the smoke profile, ``--set
diversity.samples=K``) for a model that samples, sample 0 being the row's own image; a model
that does not gets empty cells whose note says so. LPIPS is the ``lpips`` metric's network
(:mod:`bench_plugins.metrics.lpips_network`, AlexNet by default), MS-SSIM the piq definition in
:mod:`bench_plugins.metrics.image_quality`. The protocol records K, the number of maps, the
networks and their files' sha256, and the MS-SSIM scales.
"""

from __future__ import annotations

from typing import Literal

import torch
from bench_plugins.metrics import image_quality, lpips_network
from bench_plugins.metrics.inception import full_fp32
from pydantic import Field

from benchmark import BenchError, Metric, MetricResult, Options, hookimpl
from benchmark import read_rgb

LPIPS_COLUMN, MS_SSIM_COLUMN = "LPIPS div", "MS-SSIM div"
#: K where the option leaves it open: the papers' 10, and 3 at the smoke profile (recorded)
DEFAULT_SAMPLES = {"smoke": 3, None: 10}


class DiversityOptions(Options):
    samples: int | None = Field(None, ge=2, description="K images per label map (default 10; 3 at the smoke profile)")
    net: Literal["alex", "vgg"] = Field("alex", description="the LPIPS backbone: alex (default) or vgg")
    ms_ssim_scales: int | None = Field(None, ge=1, le=5, description="MS-SSIM scales (default 5; at the smoke "
                                                                     "profile as many as the image size allows)")


def sample_count(options: DiversityOptions, profile: str | None) -> int:
    return options.samples or DEFAULT_SAMPLES.get(profile, DEFAULT_SAMPLES[None])


def scales_for(options: DiversityOptions, profile: str | None, side: int) -> int:
    """The MS-SSIM scales: the option's, else 5, else (at the smoke profile) the most that fit ``side``."""
    if options.ms_ssim_scales or profile != "smoke":
        return options.ms_ssim_scales or 5
    return max([1] + [s for s in range(1, 6) if image_quality.ms_ssim_min_side(s) <= side])


def pairs(k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every unordered pair (i < j) of k samples."""
    first, second = torch.triu_indices(k, k, offset=1)
    return first, second


def per_map(ctx, stems: list[str], k: int, net, scales: int | None) -> torch.Tensor:
    """(len(stems), 2) float64: mean pairwise LPIPS (NaN without ``net``) and MS-SSIM (NaN without ``scales``)."""
    first, second = pairs(k)
    rows = []
    for stem in stems:
        images = torch.stack([read_rgb(folder / f"{stem}.png") for folder in ctx.sample_dirs[:k]]).to(ctx.device)
        lp = net.pairwise(2 * images.float() - 1, first, second).double().mean() if net is not None else torch.nan
        ms = image_quality.ms_ssim(images[first], images[second], scales).mean() if scales else torch.nan
        rows.append(torch.tensor([float(lp), float(ms)], dtype=torch.float64))
    return torch.stack(rows) if rows else torch.zeros(0, 2, dtype=torch.float64)


class Diversity(Metric):
    """Mean pairwise LPIPS (up) and MS-SSIM (down) of K samples per test label map, for models that sample.

    Per label map, every pair of its K samples: LPIPS v0.1 (the ``lpips`` metric's network; each
    sample through the backbone once) and MS-SSIM (piq's ``multi_scale_ssim``: 5 scales of an
    11-pixel Gaussian window, images of at least 161 px; at the smoke profile, where images are
    32 px, as many scales as fit, their exponents renormalised: recorded). The pair means are
    averaged over the maps. Needs the LPIPS backbone (``bench weights import alexnet-imagenet
    FILE``) and the lpips package for the LPIPS column; MS-SSIM needs nothing.
    """

    name = "diversity"
    summary = "mean pairwise LPIPS and MS-SSIM of K samples per label map (models that sample)"
    columns = {LPIPS_COLUMN: "up", MS_SSIM_COLUMN: "down"}
    kind = "samples"
    sharded = True  # the label maps are shared by the data-parallel workers
    Options = DiversityOptions

    def samples_per_map(self, options, profile):
        return sample_count(options, profile)

    def check(self, options):
        lpips_network.backbone_file(options.net)
        lpips_network.linear_file(options.net)

    def compute(self, ctx, options):
        k = min(sample_count(options, ctx.profile), len(ctx.sample_dirs))
        empty = {LPIPS_COLUMN: None, MS_SSIM_COLUMN: None}
        if k < 2:
            return MetricResult(empty, {"diversity_samples": sample_count(options, ctx.profile)},
                                {c: ctx.no_samples for c in empty})
        stems = ctx.stems()
        side = min(read_rgb(ctx.fake_dir / f"{stems[0]}.png").shape[-2:]) if stems else 0
        scales = scales_for(options, ctx.profile, side)
        notes, protocol = {}, {"diversity_samples": k, "label_maps": len(stems), "pairs_per_map": k * (k - 1) // 2}
        try:
            net, net_protocol = lpips_network.load(options.net, ctx.device)
            protocol.update(net_protocol)
        except BenchError as exc:
            net, notes[LPIPS_COLUMN] = None, str(exc)
        if side < image_quality.ms_ssim_min_side(scales):
            notes[MS_SSIM_COLUMN] = (f"MS-SSIM with {scales} scales needs images of at least "
                                     f"{image_quality.ms_ssim_min_side(scales)} px a side, these are {side} px "
                                     f"(--set diversity.ms_ssim_scales=N or a larger image_size)")
            scales = None
        else:
            protocol.update({"ms_ssim": f"piq multi_scale_ssim, gaussian 11/1.5, {scales} scales",
                             "ms_ssim_weights": [round(w, 6) for w in image_quality.ms_ssim_weights(scales)]})
        with full_fp32(ctx.device):
            values = ctx.gather(per_map(ctx, ctx.shard(stems), k, net, scales))
        if not ctx.main:
            return MetricResult(empty, protocol)
        out = {}
        for i, column in enumerate(empty):
            out[column] = None if column in notes or not len(values) else float(values[:, i].mean())
        per_image = {c: values[:, i].tolist() for i, c in enumerate(empty) if out[c] is not None}
        return MetricResult(out, protocol, notes, per_image)


@hookimpl
def register_metrics(register):
    register(Diversity())
