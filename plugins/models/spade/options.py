"""SPADE's options: defaults are the official code's (``official`` preset)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from bench_plugins.models import vgg19

from benchmark import Options, WeightsError


class SpadeOptions(Options):
    """Defaults of the SPADE paper's official code; presets change the loss weights, VAE mode, ..."""

    ngf: int = Field(64, ge=2, description="generator width: the last block has ngf channels, the first 16*ngf")
    ndf: int = Field(64, ge=1, description="discriminator width: channels of the first PatchGAN conv")
    nef: int = Field(64, ge=1, description="encoder width (VAE mode): channels of its first conv")
    num_upsampling_layers: Literal["normal", "more", "most"] = Field(
        "normal", description="2x upsamplings from the start grid: normal 5, more 6, most 7 "
                              "(start grid image_size / 2**n)")
    use_vae: bool = Field(False, description="VAE mode: the generator starts from z (an image encoder in "
                                             "training, N(0, I) or a style image at generation); off: from the "
                                             "downsampled label map (the official default)")
    z_dim: int = Field(256, ge=1, description="latent size in VAE mode")
    norm_G: Literal["batch", "instance"] = Field(
        "batch", description="parameter-free norm inside SPADE: batch (synchronized under multi-GPU) or instance")
    spade_hidden: int = Field(128, ge=1, description="channels of SPADE's shared conv")
    spectral_G: bool = Field(True, description="spectral norm on the generator's block convs")
    block_activation: Literal["lrelu", "relu"] = Field(
        "lrelu", description="activation in the SPADE blocks: lrelu (LeakyReLU 0.2, official code and source "
                             "000) or relu (the paper's figure)")
    num_D: int = Field(2, ge=1, description="discriminator scales")
    n_layers_D: int = Field(4, ge=1, description="4x4 convs per PatchGAN before its output conv")
    spectral_D: bool = Field(True, description="spectral norm on the discriminator's inner convs")
    lambda_feat: float = Field(10.0, ge=0, description="weight of the discriminator feature-matching loss")
    lambda_vgg: float = Field(10.0, ge=0, description="weight of the VGG19 perceptual loss; 0: off, no weights "
                                                      "file needed")
    lambda_kld: float = Field(0.05, ge=0, description="weight of the KL term (VAE mode)")
    vgg_weights: str = Field("", description="VGG19 state dict file for the VGG loss; empty: torchvision's "
                                             "vgg19-dcbb9e9d.pth from the weights cache (`bench weights`)")
    vgg_if_missing: Literal["error", "skip"] = Field(
        "error", description="when lambda_vgg > 0 and the cached VGG19 file is absent: error (stop before "
                             "training) or skip (train without the VGG loss; the row's note says 'no VGG loss'). "
                             "The default `bench run` sets skip")
    vgg_input: Literal["raw", "imagenet"] = Field(
        "raw", description="what VGG19 reads: raw images in [-1, 1] (official code) or ImageNet-normalised")
    lr_G: float = Field(1e-4, gt=0, description="generator (and encoder) Adam lr (TTUR: half of 2e-4)")
    lr_D: float = Field(4e-4, gt=0, description="discriminator Adam lr (TTUR: twice 2e-4)")
    beta1: float = Field(0.0, ge=0, lt=1, description="Adam beta1")
    beta2: float = Field(0.9, ge=0, lt=1, description="Adam beta2 (0.9 under TTUR in the official code)")
    decay_start: float = Field(0.5, ge=0, le=1, description="fraction of training after which both lrs decay "
                                                            "linearly to 0; 1: constant")
    init_gain: float = Field(0.02, gt=0, description="gain of the Xavier-normal init (official: 0.02)")
    load_scale: float = Field(286 / 256, ge=1, description="resize side relative to the random-crop side")
    batch_size: int | None = Field(None, ge=1, description="training batch size of the paper profile; None: "
                                                           "the profile's (1 in paper, as the official default)")
    generate_z: Literal["prior", "encoder"] = Field(
        "prior", description="VAE mode, generation: z from N(0, I) seeded per test image, or the encoder's mean "
                             "for the test photo used as style image")
    use_instance_edges: bool | None = Field(
        None, description="append SPADE's instance-edge channel (1 on the boundaries between instances of the "
                          "dataset's instance maps) to the label channels; None: the official setting for the "
                          "dataset, on where the dataset has instance maps (Cityscapes; COCO-Stuff when imported "
                          "with its annotations)")
    dontcare_channel: bool | None = Field(
        None, description="one more label channel, 1 where the label is the dataset's ignore id (SPADE's "
                          "contain_dontcare_label); None: the official setting for the dataset (ADE20K, "
                          "COCO-Stuff: on; others off)")
    label_channels: int | None = Field(
        None, ge=1, description="label input channels of a generator read from another code base's checkpoint "
                                "(set from its tensors, e.g. the official code's latest_net_G.pth): the dataset's "
                                "classes + the dontcare channel + the instance-edge channel, which of the two it "
                                "holds decided with the dataset; None: bench's own generator")
    # face-spade additions (off for spade)
    noise: bool = Field(False, description="noise injection after each block conv, learned per-channel weight "
                                           "initialised to zero")
    block_styles: bool = Field(False, description="per-block style modulation from z (zero init); "
                                                  "needed by style mixing")
    style_mixing: float = Field(0.0, ge=0, le=1, description="probability per training batch of style mixing: "
                                                             "z from the encoder before a random block, a second "
                                                             "z ~ N(0, I) from it on; 0: off")


def effective(options: SpadeOptions) -> SpadeOptions:
    """``options`` as trained: without the VGG loss when ``vgg_if_missing="skip"`` and the cached VGG19
    file is absent (an explicit ``vgg_weights`` file is always required)."""
    if options.lambda_vgg > 0 and options.vgg_if_missing == "skip" and not options.vgg_weights:
        try:
            vgg19.resolve_file(None)
        except WeightsError:
            return options.model_copy(update={"lambda_vgg": 0.0})
    return options
