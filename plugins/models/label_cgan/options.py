"""Options of `label-cgan`. Defaults are the class-label cGAN report's settings where it gives them.

The report gives: a grayscale sketch plus a class label as input, U-Net
generator, PatchGAN discriminator with sigmoid and BCE, an L1 term, Adam with
lr 1e-4 and beta1 0.5, the generator trained twice per discriminator step, and
128x128 images. Everything else is marked as this plugin's choice in its
description.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from benchmark import Options

from .sketch import XDOG_DEFAULTS


class LabelCGANOptions(Options):
    sketch: Literal["xdog", "label-edges"] = Field(
        "xdog", description="the sketch the generator reads: 'xdog' drawn from the real photo (the source's "
                            "sketch -> photo task, also at test time), or 'label-edges', the label map's region "
                            "boundaries (the same information as a label map minus the region classes: the "
                            "fair comparison with label-map models)")
    xdog_sigma: float = Field(XDOG_DEFAULTS["sigma"], gt=0, le=16,
                              description="XDoG: std of the inner Gaussian in pixels at the training "
                                          "resolution (plugin's choice)")
    xdog_k: float = Field(XDOG_DEFAULTS["k"], gt=1, le=10,
                          description="XDoG: ratio of the outer to the inner Gaussian's std (1.6: DoG ~ LoG)")
    xdog_p: float = Field(XDOG_DEFAULTS["p"], ge=0, le=1000,
                          description="XDoG: sharpening strength; larger draws lines at weaker edges "
                                      "(plugin's choice)")
    xdog_eps: float = Field(XDOG_DEFAULTS["eps"], ge=-1, le=1,
                            description="XDoG: threshold on the sharpened luma in [0, 1]; <= 0 keeps every flat "
                                        "region white (plugin's choice)")
    xdog_phi: float = Field(XDOG_DEFAULTS["phi"], gt=0, le=1e6,
                            description="XDoG: steepness of the tanh below the threshold (plugin's choice)")
    ngf: int = Field(64, ge=1, le=1024, description="generator width: channels of the first U-Net level "
                                                    "(plugin's choice; the source gives none)")
    ndf: int = Field(64, ge=1, le=1024, description="discriminator width: channels of the first PatchGAN conv "
                                                    "(plugin's choice)")
    n_layers_d: int = Field(3, ge=1, le=8, description="stride-2 convs in the PatchGAN (3: 70x70 patches; "
                                                       "plugin's choice)")
    lambda_l1: float = Field(100.0, ge=0, description="weight of the L1 loss (the source gives none; 100 as in "
                                                      "pix2pix, on which its U-Net + PatchGAN + L1 design rests)")
    g_steps_per_d: int = Field(2, ge=1, le=10, description="generator updates per discriminator update "
                                                           "(source: 2)")
    lr: float = Field(1e-4, gt=0, le=1, description="Adam learning rate of G and D (source: 1e-4)")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam beta1 (source: 0.5)")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam beta2 (not in the source; Adam's default)")
    init_std: float = Field(0.02, gt=0, le=1, description="std of the normal weight init (not in the source; "
                                                          "the DCGAN / pix2pix value)")
    hflip: bool = Field(False, description="random horizontal flips of training pairs (the source only resizes)")
