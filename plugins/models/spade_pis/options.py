"""Options of spade-pis: the embedded SPADE's, then PhotoWCT's, the smoothing's and the decoders'."""

from __future__ import annotations

from typing import Literal

from bench_plugins.models.spade.options import SpadeOptions
from pydantic import Field, field_validator

from benchmark import Options

from .whitening import EIG_EPS, MAX_RATIO, MIN_PIXELS


class SpadePisOptions(Options):
    """PhotoWCT and smoothing defaults are those of "A Closed-form Solution to Photorealistic Image
    Stylization" and its official code; the decoder training settings are this plugin's (see decoders.py)."""

    spade: SpadeOptions = Field(SpadeOptions(), description="the content generator's options: the `spade` "
                                "model's own (--set spade.KEY=VALUE reaches them)")
    spade_run: str = Field("", description="take SPADE from this finished run folder (results/runs/...: its "
                           "options and last checkpoint) or checkpoint file (with the embedded options) instead of "
                           "training it here; empty: train SPADE in this run")
    style_dir: str = Field("", description="folder of style photos; empty: other real photos of the test "
                           "split (with their label maps), chosen per test image by style_seed")
    num_styles: int = Field(3, ge=1, description="stylizations per label map, one per style photo: the first "
                            "is written and ranked, all of them give DIVERSITY")
    style_seed: int = Field(0, description="seed of the per-test-image choice of style photos")
    save_dir: str = Field("", description="also write every stylization (stylized/STEM_k.png), its style "
                          "photo (style/STEM_k.png) and SPADE's content photo (content/STEM.png) into this "
                          "folder; empty: only the first stylization, in the run's images/fake")
    label_aware: bool = Field(True, description="transfer per class region using both label maps (test-split "
                              "styles only; style_dir photos have no label map and are transferred whole)")
    min_region: int = Field(MIN_PIXELS, ge=1, description="label-aware: skip a class covering fewer feature "
                            "pixels than this in the content or the style")
    max_region_ratio: float = Field(MAX_RATIO, ge=1, description="label-aware: skip a class whose region is "
                                    "more than this many times larger in one image than in the other")
    eig_eps: float = Field(EIG_EPS, gt=0, description="WCT: drop covariance eigenvalues below this fraction of "
                           "the largest")
    levels: list[int] = Field([4, 3, 2, 1], description="PhotoWCT levels, coarse to fine: k means the "
                              "encoder/decoder pair at relu{k}_1")
    smoothing: Literal["exact", "fast", "none"] = Field(
        "exact", description="exact: closed form with the matting affinity (SciPy sparse solve per channel); "
                             "fast: guided filter; none: PhotoWCT output as is")
    smooth_lambda: float = Field(1e-4, gt=0, description="exact smoothing: weight lambda of the data term "
                                 "(alpha = 1 / (1 + lambda))")
    matting_eps: float = Field(1e-7, gt=0, description="exact smoothing: regulariser of the matting affinity")
    guided_radius: int = Field(35, ge=1, description="fast smoothing: guided-filter window radius in pixels "
                               "(clipped to the image)")
    guided_eps: float = Field(1e-3, gt=0, description="fast smoothing: guided-filter regulariser")
    vgg_weights: str = Field("", description="VGG19 state dict file for the encoders; empty: torchvision's "
                             "vgg19-dcbb9e9d.pth from the weights cache (`bench weights`)")
    decoder_steps: int = Field(2000, ge=1, description="Adam steps per decoder on the training photos")
    decoder_batch: int = Field(8, ge=1, description="decoder training batch size")
    decoder_lr: float = Field(1e-4, gt=0, description="decoder Adam learning rate")
    decoder_feature_weight: float = Field(1.0, ge=0, description="weight of the feature reconstruction loss "
                                          "next to the pixel loss")

    @field_validator("levels")
    @classmethod
    def _coarse_to_fine(cls, levels: list[int]) -> list[int]:
        if not levels or any(k not in (1, 2, 3, 4) for k in levels) or levels != sorted(set(levels), reverse=True):
            raise ValueError("levels must be distinct values of 1..4 in decreasing order, e.g. [4, 3, 2, 1]")
        return levels
