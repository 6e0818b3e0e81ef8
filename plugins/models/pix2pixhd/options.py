"""pix2pixHD's options: defaults are the official code's (``label2city_512p``: Cityscapes at 1024x512)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from benchmark import Options


class Pix2PixHDOptions(Options):
    """Defaults of the pix2pixHD official code (``train.py --name label2city_512p``); presets change the generator."""

    ngf: int = Field(64, ge=1, description="generator width: channels of the first conv (with local enhancers: of "
                                           "the finest enhancer; the global generator then has ngf * "
                                           "2**n_local_enhancers)")
    n_downsample_global: int = Field(4, ge=1, le=8, description="stride-2 convs of the global generator (official 4)")
    n_blocks_global: int = Field(9, ge=0, description="residual blocks of the global generator (official 9)")
    n_local_enhancers: int = Field(0, ge=0, le=3, description="local enhancers around the global generator: 0 the "
                                                              "official netG global (1024x512), 1 netG local "
                                                              "(2048x1024)")
    n_blocks_local: int = Field(3, ge=0, description="residual blocks of each local enhancer (official 3)")
    ndf: int = Field(64, ge=1, description="discriminator width: channels of the first PatchGAN conv")
    num_D: int = Field(2, ge=1, le=5, description="discriminator scales, each on the pair downsampled once more "
                                                  "(official 2; 3 at 2048x1024)")
    n_layers_D: int = Field(3, ge=1, le=6, description="stride-2 convs of each PatchGAN after its first (the "
                                                       "official n_layers_D 3: 70x70 patches)")
    gan_mode: Literal["lsgan", "vanilla", "hinge"] = Field(
        "lsgan", description="GAN loss: lsgan (official default), vanilla (official no_lsgan: cross-entropy) or "
                             "hinge (not in the official code)")
    lambda_feat: float = Field(10.0, ge=0, description="weight of the discriminator feature-matching loss; 0: off "
                                                       "(official no_ganFeat_loss)")
    lambda_vgg: float = Field(10.0, ge=0, description="weight of the VGG19 perceptual loss (official: lambda_feat, "
                                                      "10); 0: off (official no_vgg_loss), no weights file needed")
    vgg_weights: str = Field("", description="VGG19 state dict file for the VGG loss; empty: torchvision's "
                                             "vgg19-dcbb9e9d.pth from the weights cache (`bench weights`)")
    vgg_if_missing: Literal["error", "skip"] = Field(
        "error", description="when lambda_vgg > 0 and the cached VGG19 file is absent: error (stop before "
                             "training) or skip (train without the VGG loss; the row's note says 'no VGG loss')")
    use_instance_edges: bool | None = Field(
        None, description="append the instance-edge channel (1 on instance boundaries) to the label input; None: "
                          "on where the dataset has instance maps (the official default for Cityscapes; "
                          "no_instance elsewhere)")
    instance_feat: bool = Field(False, description="the instance-wise feature encoder (official instance_feat): its "
                                                   "features, averaged per instance, join the label input; at "
                                                   "generation they are encoded from the test photo")
    feat_num: int = Field(3, ge=1, description="channels of the encoded instance features (official 3)")
    nef: int = Field(16, ge=1, description="encoder width (official 16)")
    n_downsample_E: int = Field(4, ge=1, le=8, description="stride-2 convs of the encoder (official 4)")
    lr: float = Field(2e-4, gt=0, description="Adam learning rate of G (and E) and D")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam beta1")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam beta2")
    decay_start: float = Field(0.5, ge=0, le=1, description="fraction of training after which the lr decays "
                                                            "linearly to 0 (official niter 100 + niter_decay 100)")
    init_std: float = Field(0.02, gt=0, description="std of the normal init of every conv weight (official 0.02)")
    batch_size: int | None = Field(None, ge=1, description="training batch size of the paper profile; None: the "
                                                           "profile's (1, the official default)")
    label_channels: int | None = Field(
        None, ge=1, description="label input channels of a generator read from the official checkpoint (set from "
                                "its tensors: the dataset's classes + the instance-edge channel); None: bench's own "
                                "generator")
