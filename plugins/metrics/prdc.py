"""Precision, recall, density and coverage of the generated images, on the Inception features FID reads.

Precision and recall are the k-nearest-neighbour manifold estimates of "Improved
Precision and Recall Metric for Assessing Generative Models" (Kynkäänniemi et al.,
NeurIPS 2019); density and coverage those of "Reliable Fidelity and Diversity Metrics
for Generative Models" (Naeem et al., ICML 2020). Each real feature gets a ball whose
radius is the distance to its k-th nearest other real feature (each fake one likewise
among the fakes):

- precision: the share of fake features inside at least one real ball;
- recall: the share of real features inside at least one fake ball;
- density: the number of real balls holding each fake feature, averaged, divided by k;
- coverage: the share of real balls holding at least one fake feature.

Comparisons are strict (a point on a ball's surface is outside), distances Euclidean in
float64, exactly as the reference code of Naeem et al. (the ``prdc`` package) computes
them. The features: VGG16 fc2 (4096-d, the embedding of Kynkäänniemi et al.;
:mod:`bench_plugins.metrics.vgg16_features`) when that file is imported, else those of
``fid`` (:mod:`bench_plugins.metrics.inception`); ``--set prdc.features=inception|vgg16``
chooses. Either is one cached pass per network and folder, shared by data-parallel workers;
the protocol records k, the network, its file's sha256, the preprocessing and both image counts.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from bench_plugins.metrics import vgg16_features as vgg16_features_module
from bench_plugins.metrics.feature_cache import folder_features
from bench_plugins.metrics.fid import fake_and_real
from bench_plugins.metrics.inception import TooFewImages, image_files
from bench_plugins.metrics.inception_torchvision import imported_or_hub
from pydantic import Field

from benchmark import Metric, MetricResult, Options, hookimpl

COLUMNS = ("precision", "recall", "density", "coverage")


def pairwise_distances(a: torch.Tensor, b: torch.Tensor, rows: int = 1024) -> torch.Tensor:
    """(N, M) Euclidean distances in float64, by row blocks (differences, not the dot-product trick)."""
    out = torch.empty(len(a), len(b), dtype=torch.float64, device=a.device)
    for start in range(0, len(a), rows):
        block = a[start:start + rows]
        out[start:start + rows] = torch.cdist(block, b, compute_mode="donot_use_mm_for_euclid_dist")
    return out


def kth_radius(distances: torch.Tensor, k: int) -> torch.Tensor:
    """Per row, the k-th smallest distance to another point (the row's own zero counts as the first)."""
    return distances.kthvalue(k + 1, dim=1).values


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 3, device: torch.device | None = None) -> dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` against ``real`` (rows are features)."""
    for name, rows in (("real", real), ("generated", fake)):
        if len(rows) <= k:
            raise TooFewImages(f"{len(rows)} {name} image(s): precision/recall/density/coverage with k={k} need "
                               f"more than k in each set (evaluate more images: eval.max_images, or lower prdc.k)")
    device = device or torch.device("cpu")
    r = torch.as_tensor(np.asarray(real), dtype=torch.float64, device=device)
    f = torch.as_tensor(np.asarray(fake), dtype=torch.float64, device=device)
    real_radius = kth_radius(pairwise_distances(r, r), k)
    fake_radius = kth_radius(pairwise_distances(f, f), k)
    real_fake = pairwise_distances(r, f)  # (real, fake)
    inside_real = real_fake < real_radius[:, None]
    return {
        "precision": inside_real.any(dim=0).double().mean().item(),
        "recall": (real_fake < fake_radius[None, :]).any(dim=1).double().mean().item(),
        "density": inside_real.sum(dim=0).double().mean().item() / k,
        "coverage": (real_fake.min(dim=1).values < real_radius).double().mean().item(),
    }


class PRDCOptions(Options):
    k: int = Field(3, ge=1, description="nearest neighbours defining each ball (3 as Kynkäänniemi et al.; "
                                        "Naeem et al. use 5)")
    features: Literal["auto", "inception", "vgg16"] = Field(
        "auto", description="the embedding: vgg16 (fc2, the paper's) when its file is imported, else inception "
                            "(FID's); or either by name")


def vgg16_features(ctx) -> tuple[np.ndarray, np.ndarray, dict]:
    """Both sets' VGG16 fc2 features (cached per folder) and their protocol."""
    real_dir = ctx.distribution_real_dir()
    for name, folder in (("generated", ctx.fake_dir), ("real", real_dir)):
        if not image_files(folder):
            raise TooFewImages(f"{folder}: no {name} images to compute VGG16 features of (run the evaluation first)")
    net = vgg16_features_module.feature_network(ctx)
    fake, real = folder_features(ctx, ctx.fake_dir, net), folder_features(ctx, real_dir, net)
    return fake, real, {"images": len(fake), "real_images": len(real), "real_split": ctx.distribution_split,
                        **net.described}


class PRDC(Metric):
    """Precision, recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. 2020).

    k-nearest-neighbour balls around the features of the real and generated images: VGG16
    fc2 after ReLU (4096-d, 224x224 bicubic, ImageNet normalisation: the paper's embedding)
    when ``vgg16-397923af.pth`` is imported (``bench weights import vgg16-imagenet FILE``),
    else the Inception features ``fid`` computes and caches (2048-d pool3 of the TensorFlow
    Inception, clean-fid's resize); ``prdc.features`` picks one by name. The same real split
    as FID (``eval.real_split``).
    Precision and density measure fidelity, recall and coverage diversity, where FID mixes
    the two. Equal to the ``prdc`` package's ``compute_prdc`` on the same features. The
    protocol records ``prdc_k`` and the network, file and counts FID records.
    """

    name = "prdc"
    summary = "precision, recall, density, coverage on VGG16 fc2 (when imported) or Inception features (k-NN)"
    columns = {"precision": "up", "recall": "up", "density": "up", "coverage": "up"}
    kind = "distribution"
    sharded = True  # the feature pass is shared by the data-parallel workers
    Options = PRDCOptions

    def check(self, options):
        if options.features == "vgg16":
            imported_or_hub(vgg16_features_module.SPEC, "prdc.features=vgg16")

    def compute(self, ctx, options):
        use_vgg = options.features == "vgg16" or (options.features == "auto" and vgg16_features_module.available())
        if use_vgg:
            fake, real, protocol = vgg16_features(ctx)
        else:
            fake_set, real_set, protocol = fake_and_real(ctx)
            fake, real = fake_set.features, real_set.features
        protocol = {**protocol, "prdc_k": options.k, "prdc_features": "real and generated, all images"}
        if not ctx.main:
            return MetricResult({c: None for c in COLUMNS}, protocol)
        return MetricResult(prdc(real, fake, options.k, ctx.device), protocol)


@hookimpl
def register_metrics(register):
    register(PRDC())
