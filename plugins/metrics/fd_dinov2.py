"""``fd-dinov2``: the Fréchet distance between the generated and the real images on DINOv2 ViT-L/14 features.

Stein et al. ("Exposing flaws of generative model evaluation metrics and their unfair treatment of
diffusion models", NeurIPS 2023) found that this distance ranks models more as people do than FID
on Inception features. Their code's protocol (layer6ai-labs/dgm-eval): each image resized to
224x224 with PIL's bicubic filter, ImageNet normalisation, the class token of DINOv2 ViT-L/14
(:mod:`bench_plugins.metrics.dinov2`, 1024-d); then the distance of FID
(:func:`bench_plugins.metrics.frechet.fid_from_features`). The network file is imported offline
(``bench weights import dinov2-vitl14 dinov2_vitl14_pretrain.pth``). Features are cached per folder
content and shared by the data-parallel workers (:mod:`bench_plugins.metrics.feature_cache`).
"""

from __future__ import annotations

from bench_plugins.metrics import dinov2
from bench_plugins.metrics.feature_cache import (
    FeatureNetwork,
    folder_features,
    imagenet_input,
    imagenet_protocol,
)
from bench_plugins.metrics.frechet import fid_from_features
from bench_plugins.metrics.inception import TooFewImages, full_fp32, image_files
from bench_plugins.metrics.inception_torchvision import imported_or_hub
from bench_plugins.metrics.lpips_network import sha256

from benchmark import EvalContext, Metric, MetricResult, hookimpl

SIDE = 224
NETWORK = "DINOv2 ViT-L/14, class token after the final norm (1024-d), fp32"
_LOADED: dict = {}


def weights_file():
    return imported_or_hub(dinov2.SPEC, "fd-dinov2")


def feature_network(ctx: EvalContext) -> FeatureNetwork:
    """The DINOv2 file as a cached feature network on the evaluation device: the file is read (once
    per process and device) only when a folder's features are not in the cache."""
    path = weights_file()
    key = (str(path), str(ctx.device))

    def features(batch):
        if key not in _LOADED:
            _LOADED[key] = dinov2.read(path).to(ctx.device)
        with full_fp32(ctx.device):
            return _LOADED[key](batch.to(ctx.device)).float().cpu().numpy()

    described = {"network": NETWORK, "weights": dinov2.SPEC.filename, "weights_sha256": sha256(path),
                 "preprocessing": imagenet_protocol(SIDE)}
    dim = int(dinov2.read_shape(path)["dim"])
    return FeatureNetwork("dinov2-vitl14", dim, imagenet_input(SIDE), features, described)


class FDDinov2(Metric):
    """Fréchet distance on DINOv2 ViT-L/14 class-token features (Stein et al. 2023; dgm-eval's preprocessing).

    Both sets as FID's (the generated images against ``ctx.distribution_real_dir()``), each image
    resized to 224x224 by PIL bicubic and normalised with ImageNet's mean and standard deviation;
    the distance computed exactly as FID's, in float64. Needs ``dinov2_vitl14_pretrain.pth``
    (``bench weights import dinov2-vitl14 FILE``). The protocol records the network, its file's
    sha256, the preprocessing, both image counts and the real split.
    """

    name = "fd-dinov2"
    summary = "Fréchet distance on DINOv2 ViT-L/14 features (Stein et al. 2023), dgm-eval's preprocessing"
    columns = {"FD-DINOv2": "down"}
    kind = "distribution"
    sharded = True  # the feature pass is shared by the data-parallel workers
    watch_by_default = False  # a ViT-L pass over both sets: measured during training only when named

    def check(self, options):
        weights_file()

    def compute(self, ctx, options):
        real_dir = ctx.distribution_real_dir()
        for name, folder in (("generated", ctx.fake_dir), ("real", real_dir)):
            if len(image_files(folder)) < 2:
                raise TooFewImages(f"{folder}: fewer than 2 {name} images; FD-DINOv2 needs at least 2 in each set "
                                   f"(evaluate more test images: eval.max_images)")
        net = feature_network(ctx)
        fake, real = folder_features(ctx, ctx.fake_dir, net), folder_features(ctx, real_dir, net)
        protocol = {"images": len(fake), "real_images": len(real), "real_split": ctx.distribution_split,
                    **net.described}
        if not ctx.main:
            return MetricResult({"FD-DINOv2": None}, protocol)
        return MetricResult({"FD-DINOv2": fid_from_features(fake, real, ctx.device)}, protocol)


@hookimpl
def register_metrics(register):
    register(FDDinov2())


@hookimpl
def register_weights(register):
    register(dinov2.SPEC)
