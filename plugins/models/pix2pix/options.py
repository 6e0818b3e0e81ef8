"""pix2pix's options: defaults are the paper's and the official code's (``official`` preset)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from benchmark import Options


class Pix2PixOptions(Options):
    """Defaults are the paper's / official code's; beta_kl, augment and rotate_degrees serve the pix2pix KL report."""

    ngf: int = Field(64, ge=1, description="generator width: channels of the first U-Net level")
    ndf: int = Field(64, ge=1, description="discriminator width: channels of the first PatchGAN conv")
    n_layers_d: int = Field(3, ge=1, description="stride-2 convs in the PatchGAN (3: 70x70 patches)")
    norm: Literal["batch", "instance"] = Field("batch", description="normalisation layer in G and D")
    use_dropout: bool = Field(True, description="dropout 0.5 in the generator's innermost 8ngf decoder steps")
    lambda_l1: float = Field(100.0, ge=0, description="weight of the L1 loss between fake and real")
    beta_kl: float = Field(0.0, ge=0, description="weight of the KL term of the pix2pix KL report (it uses 0.2); "
                                                  "0: off")
    augment: bool = Field(False, description="the pix2pix KL report's augmentation: vertical flip and random rotation "
                                             "on top of the official crop and horizontal flip")
    rotate_degrees: float = Field(10.0, ge=0, le=180,
                                  description="with augment: rotate by a uniform angle in +-this many degrees")
    lr: float = Field(2e-4, gt=0, description="Adam learning rate of G and D")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam beta1")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam beta2")
    decay_start: float = Field(0.5, ge=0, le=1, description="fraction of training after which the lr decays "
                                                            "linearly to 0 (0.5: 100 + 100 official epochs)")
    init_gain: float = Field(0.02, gt=0, description="std of the normal weight init")
    load_scale: float = Field(286 / 256, ge=1, description="resize side relative to the random-crop side "
                                                          "(286/256 officially)")
    test_mode: Literal["paper", "eval"] = Field(
        "paper", description="generation: 'paper' runs G as the official test.py does without --eval, one image "
                             "at a time in training mode (dropout on, BatchNorm on that image's statistics), "
                             "dropout seeded by the image's index; 'eval': dropout off, running statistics")
    label_input: Literal["onehot", "colour"] = Field(
        "onehot", description="what G and D read: 'onehot' the one-hot label map (num_classes channels); "
                              "'colour' the label map rendered with the dataset's palette, 3 channels in "
                              "[-1, 1] as the official code reads its colour label images")
    label_palette: list[tuple[int, int, int]] | None = Field(
        None, description="with label_input=colour: the RGB colour of each class id; None: the dataset's "
                          "(filled in when the run is planned, so the row records it)")
    num_downs: int | None = Field(
        None, ge=1, description="U-Net halvings; None: down to 1 px on the shorter side (log2 of it); the "
                                "official unet_256 / unet_128 are 8 / 7")
