"""OASIS's options: defaults are the official code's for ADE20K (``official`` preset)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from benchmark import Options


class OasisOptions(Options):
    """Defaults of the OASIS paper's official code (ADE20K / COCO-Stuff; Cityscapes' differ, see ``for_dataset``)."""

    ngf: int = Field(64, ge=1, description="generator width (channels_G): the last block has ngf channels, the "
                                           "first 16*ngf")
    ndf: int = Field(64, ge=1, description="discriminator width: the U-Net's widths are 2, 2, 4, 4, 8, 8 x ndf "
                                           "(the official 128 ... 512 at 64) and its last block has ndf channels")
    num_res_blocks: int = Field(6, ge=2, le=6, description="residual blocks of G (start grid size / "
                                                           "2**(n-1)) and of each half of D's U-Net (n "
                                                           "downsamplings); the official 6")
    z_dim: int = Field(64, ge=0, description="channels of the 3D noise concatenated to the label map per pixel; "
                                             "0: no noise (the official no_3dnoise), one image per label map")
    spade_hidden: int = Field(128, ge=1, description="channels of SPADE's shared conv")
    norm_G: Literal["batch", "instance"] = Field(
        "batch", description="parameter-free norm inside SPADE: batch (official: synchronized batch norm) or "
                             "instance")
    spectral: bool = Field(True, description="spectral norm on G's block convs and all of D's convs (official "
                                             "default; no_spectral_norm turns both off)")
    lambda_labelmix: float = Field(10.0, ge=0, description="weight of the LabelMix consistency loss of D; 0: "
                                                           "off (the official no_labelmix)")
    class_balancing: bool = Field(True, description="weight the real-class cross-entropy by inverse class "
                                                    "frequency in the batch (off: the official "
                                                    "no_balancing_inloss)")
    lambda_vgg: float = Field(0.0, ge=0, description="weight of the VGG19 perceptual loss (official: off, 10 "
                                                     "with add_vgg_loss); > 0 needs the VGG19 weights file")
    vgg_weights: str = Field("", description="VGG19 state dict file for the VGG loss; empty: the weights cache")
    ema_decay: float = Field(0.9999, ge=0, lt=1, description="decay of the EMA generator used at test time "
                                                             "(official: 0.9999; Cityscapes 0.999)")
    use_ema: bool = Field(True, description="generate with the EMA generator (off: the official no_EMA)")
    ema_stats_batches: int = Field(50, ge=0, description="the EMA generator's batch-norm statistics are "
                                                         "recomputed on this many last training batches")
    lr_G: float = Field(1e-4, gt=0, description="generator Adam lr (official: 1e-4; Cityscapes 4e-4)")
    lr_D: float = Field(4e-4, gt=0, description="discriminator Adam lr")
    beta1: float = Field(0.0, ge=0, lt=1, description="Adam beta1")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam beta2")
    load_scale: float = Field(286 / 256, ge=1, description="resize side relative to the random-crop side "
                                                          "(official ADE20K/COCO-Stuff: 286 -> 256; Cityscapes: "
                                                          "1, a resize to 512x256 without crop)")
    batch_size: int | None = Field(None, ge=1, description="training batch size of the paper profile; None: the "
                                                           "profile's (32, the official ADE20K/COCO-Stuff script)")
    dontcare_channel: bool | None = Field(
        None, description="one more label channel, first, 1 where the label is the dataset's ignore id (the "
                          "official contain_dontcare_label; its weight in the balanced loss is 0); None: the "
                          "official setting for the dataset (ADE20K, COCO-Stuff: on; others off)")
    zero_weight_first: bool | None = Field(
        None, description="weight 0 for label channel 0 in D's class-balanced loss (the official code does so on "
                          "all its datasets, its contain_dontcare_label: the dontcare channel of ADE20K and "
                          "COCO-Stuff, labelId 0 'unlabeled' of Cityscapes); None: on with a dontcare channel "
                          "and on cityscapes, off elsewhere")
    label_channels: int | None = Field(
        None, ge=1, description="label input channels of a generator read from the official checkpoint (set "
                                "from its tensors); None: bench's own generator")
