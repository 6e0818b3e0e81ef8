"""SPADE (GauGAN): a generator of SPADE residual blocks, multi-scale PatchGANs, hinge + FM + VGG (+ KL).

Sources:

- "Semantic Image Synthesis with Spatially-Adaptive Normalization" (the SPADE paper)
  and its official code give the defaults (preset ``official``): SPADE with
  parameter-free batch norm, a 3x3 shared conv of 128 channels,
  ``normalized * (1 + gamma) + beta`` (the code's form); spectral norm on the block
  convs; 5 upsamplings (``normal``), ngf 64; no VAE (the generator starts from the
  downsampled label map); two PatchGANs of 4 layers, ndf 64, spectral instance norm;
  hinge loss, feature matching 10, VGG19 10 (layer weights 1/32 ... 1), KL 0.05 in VAE
  mode; TTUR: G lr 1e-4, D lr 4e-4, Adam betas (0.0, 0.9); Xavier init with gain 0.02;
  resize 286 -> random crop 256 and horizontal flip; linear lr decay over the second
  half of training; generation in eval mode.
- The Gaussian GAN report ("Conditional Image Generation using Gaussian GAN", a GauGAN in
  TensorFlow/Keras on facades and PASCAL VOC) gives the preset ``gaussian-gan``: VAE mode with
  a 256-d z through a linear layer to a 4x4 grid (6 upsamplings, ``more``), loss weights
  GAN 1 / FM 10 / VGG 0.1 / KL 0.1, Adam (0.0, 0.999) with G 1e-4 and D 4e-4, batch 4
  (paper profile), resize 288 -> crop 256, LeakyReLU 0.2 in the blocks (as the official code; the paper's figure shows
  ReLU, ``block_activation=relu``), and its discriminator of 4 strided conv blocks plus
  an output conv with instance norm and no spectral norm (the report names none).
- Preset ``vae`` is the official setting in VAE mode (the paper's multi-modal
  synthesis): z from the encoder in training, from N(0, I) at generation, seeded per
  test image so generation is reproducible (``generate_z=encoder`` reads the test
  photo as style image instead; the row note says so).

The VGG loss needs torchvision's ImageNet VGG19 (``vgg19-dcbb9e9d.pth``, see
``bench weights list``) or a file given with ``spade.vgg_weights=FILE``; offline and
missing, the run stops before training with the command that imports it, unless
``spade.vgg_if_missing=skip`` (which the default ``bench run`` sets): then the row
trains without that loss. With ``spade.lambda_vgg=0`` no file is needed; either way
the row's note says "no VGG loss".

The label input is the dataset's one-hot map, then, as the official code, the "don't care"
channel (``dontcare_channel``, its ``contain_dontcare_label``: ADE20K and COCO-Stuff) and
the instance-edge channel (``use_instance_edges``: Cityscapes, and COCO-Stuff imported
with its annotations); both default to the official setting for the dataset and the
row's note says which are on. Non-square runs start from an ``sh x sw`` grid (8x16 at
Cityscapes' 512x256). Differences from the official code forced by the benchmark: the encoder reads
the training height with ``log2(size / 4)`` stride-2 convs (six at 256 px, as the
official one after its resize to 256; a non-square photo is first resized to that square); the lr decay is applied per step from the
harness's progress instead of per epoch. Profiles: ``smoke`` (seconds), ``quick``
(64 px, narrow networks, a few minutes on 2 CPU cores), ``paper`` (256 px, official
widths, 200 epochs at batch 1, the official code's default batch size).
"""

from __future__ import annotations

from typing import Any, ClassVar

from bench_plugins.models.profile_length import profile_length
from bench_plugins.models import vgg19

from benchmark import (
    ConfigError,
    DataFacts,
    ForeignCheckpoint,
    Size,
    Model,
    Options,
    Preset,
    Trainable,
    TrainLength,
    TrainTransform,
    hookimpl,
)

from . import official
from .encoder import encoder_depth
from .generator import NUM_UP, start_grid
from .inputs import label_channels
from .options import SpadeOptions, effective
from .trainable import SpadeTrainable

GAUSSIAN_GAN = {"use_vae": True, "num_upsampling_layers": "more", "lambda_feat": 10.0, "lambda_vgg": 0.1,
              "lambda_kld": 0.1, "lr_G": 1e-4, "lr_D": 4e-4, "beta1": 0.0, "beta2": 0.999, "batch_size": 4,
              "load_scale": 288 / 256, "block_activation": "lrelu", "spectral_D": False, "n_layers_D": 4}


class Spade(Model):
    """SPADE / GauGAN with the official code's defaults; the Gaussian GAN report's settings and VAE mode as presets.

    Rows: ``spade`` (official, no VAE), ``spade+vae`` (official in VAE mode, z ~ N(0, I)
    at generation, seeded per test image), ``spade+gaussian-gan`` (the Gaussian GAN report's loss
    weights, optimiser and preprocessing). SPADE computes ``normalized * (1 + gamma) +
    beta`` as the official code does (the paper writes ``gamma * normalized + beta``).
    The VGG loss needs torchvision's vgg19-dcbb9e9d.pth (`bench weights import
    vgg19-imagenet FILE`, or ``spade.vgg_weights=FILE``); ``--set spade.lambda_vgg=0``
    trains without it and the row says "no VGG loss". More in docs/spade.md.
    """

    name = "spade"
    summary = "SPADE/GauGAN: SPADE ResBlk generator, multi-scale PatchGAN, hinge + FM + VGG (+KL) losses"
    input_kind = "label-map"
    non_square = True
    Options = SpadeOptions
    default_preset = "official"
    presets: ClassVar[dict[str, Preset]] = {
        "official": Preset("SPADE paper / official code defaults (no VAE)"),
        "vae": Preset("official, VAE mode: image encoder, KL 0.05, z ~ N(0, I) at generation", {"use_vae": True}),
        "gaussian-gan": Preset("the Gaussian GAN report: VAE, 6 upsamplings, losses 1/10/0.1/0.1, "
                               "betas (0, 0.999), batch 4, "
                             "288 -> 256 crop", GAUSSIAN_GAN),
    }
    profiles: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {
        "smoke": {"run": {"image_size": 32, "steps": 20, "batch_size": 2},
                  "options": {"ngf": 4, "ndf": 8, "nef": 8, "spade_hidden": 16, "z_dim": 16,
                              "num_upsampling_layers": "normal", "vgg_if_missing": "skip"}},
        "quick": {"run": {"image_size": 64, "steps": 1000, "batch_size": 4},
                  "options": {"ngf": 16, "ndf": 16, "nef": 16, "spade_hidden": 32, "z_dim": 64, "num_D": 2,
                              "n_layers_D": 3}},
        "paper": {"run": {"image_size": 256, "epochs": 200, "batch_size": 1}, "options": {}},
    }

    def multi_modal(self, options: Options) -> bool:
        """VAE mode with z from the prior, or noise injection: one label map gives many images."""
        return (options.use_vae and options.generate_z == "prior") or options.noise

    def train_length(self, options: Options, profile: str) -> TrainLength:
        return profile_length(self.profiles, profile, options.batch_size)

    def for_dataset(self, options: Options, data: DataFacts) -> Options:
        """The official per-dataset settings where the options leave them open (None)."""
        if options.use_instance_edges and not data.instance_maps:
            raise ConfigError(f"{self.name}.use_instance_edges=true: dataset {data.name} has no instance maps; "
                              f"set {self.name}.use_instance_edges=false (or import its instance maps)")
        if options.label_channels is not None:  # a loaded generator's channels decide
            return options.model_copy(update=self.read_channels(options, data))
        updates = {}
        if options.use_instance_edges is None:
            updates["use_instance_edges"] = data.instance_maps
        if options.dontcare_channel is None:
            updates["dontcare_channel"] = data.dontcare_label and data.ignore_index is not None
        return options.model_copy(update=updates) if updates else options

    def read_channels(self, options: Options, data: DataFacts) -> dict[str, Any]:
        """A loaded generator's label channels (``label_channels``) beyond the dataset's classes: the
        dontcare and instance-edge channels the options leave open, decided with the dataset."""
        extra = options.label_channels - data.num_classes
        dontcare, edges = options.dontcare_channel, options.use_instance_edges
        if dontcare is None and edges is None and extra == 1:
            possible = [name for name, ok in (("dontcare_channel", data.ignore_index is not None),
                                              ("use_instance_edges", data.instance_maps)) if ok]
            if len(possible) == 2:
                raise ConfigError(f"{self.name}: the checkpoint's generator reads {options.label_channels} label "
                                  f"channels, {data.name}'s {data.num_classes} classes and one more, the dontcare "
                                  f"or the instance-edge channel; say which: --set {self.name}.dontcare_channel=true"
                                  f" or --set {self.name}.use_instance_edges=true")
            dontcare = possible == ["dontcare_channel"] or not possible
            edges = not dontcare
        elif dontcare is None and edges is None:
            dontcare = edges = extra == 2  # another count: check() says it does not fit
        elif dontcare is None:
            dontcare = extra - int(edges) == 1
        elif edges is None:
            edges = extra - int(dontcare) == 1
        if edges and not data.instance_maps:
            raise ConfigError(f"{self.name}: the checkpoint's generator reads {options.label_channels} label "
                              f"channels, {data.name}'s {data.num_classes} classes, the dontcare and the "
                              f"instance-edge channel, but {data.name} has no instance maps; it was trained on "
                              f"another dataset (or import {data.name} with its instance maps)")
        return {"dontcare_channel": dontcare, "use_instance_edges": edges}

    def train_transform(self, options: Options, image_size: int | Size) -> TrainTransform:
        return TrainTransform(load_size=round(Size.of(image_size).height * options.load_scale), hflip=True)

    def check(self, options: Options, image_size: int | Size, num_classes: int) -> None:
        size = Size.of(image_size)
        shown = f"image_size {size.height}" if size.square else f"size {size.text()}"
        up = NUM_UP[options.num_upsampling_layers]
        grid = start_grid(size, options.num_upsampling_layers)
        if min(grid) < 1 or size.height % 2 ** up or size.width % 2 ** up:
            raise ConfigError(
                f"{self.name}: {shown} must be a multiple of 2**{up} = {2 ** up} on both sides with "
                f"num_upsampling_layers={options.num_upsampling_layers!r}; use a multiple of {2 ** up} or fewer "
                f"upsampling layers (normal 5, more 6, most 7)")
        image_size = size.height
        if options.norm_G == "instance" and min(grid) < 2:
            raise ConfigError(f"{self.name}: norm_G='instance' needs a start grid of at least 2x2 (instance norm "
                              f"of a 1x1 map is undefined): use image_size >= {2 ** (up + 1)} or fewer upsampling "
                              f"layers")
        if options.use_vae and (image_size < 8 or image_size & (image_size - 1)):
            raise ConfigError(f"{self.name}: VAE mode needs a power-of-two image_size >= 8 for the encoder "
                              f"({encoder_depth(max(image_size, 8))} stride-2 convs to 4x4), got {image_size}")
        if options.num_upsampling_layers == "most" and options.ngf < 2:
            raise ConfigError(f"{self.name}: num_upsampling_layers='most' needs ngf >= 2 (its last block has "
                              f"ngf/2 channels)")
        if (options.style_mixing > 0 or options.generate_z == "encoder") and not options.use_vae:
            raise ConfigError(f"{self.name}: style_mixing and generate_z='encoder' need use_vae=true (a latent z)")
        if options.label_channels is not None:
            self.check_channels(options, num_classes)

    def check_channels(self, options: Options, num_classes: int) -> None:
        own = label_channels(num_classes, dontcare=bool(options.dontcare_channel),
                             edges=bool(options.use_instance_edges))
        if own != options.label_channels:
            parts = f"{num_classes} classes" + (" + dontcare" if options.dontcare_channel else "") + \
                (" + instance edges" if options.use_instance_edges else "")
            raise ConfigError(f"{self.name}: the checkpoint's generator reads {options.label_channels} label "
                              f"channels, but this dataset gives {own} ({parts}); it was trained on another "
                              f"dataset or with other dontcare/instance settings (spade.dontcare_channel, "
                              f"spade.use_instance_edges)")

    def check_training(self, options: Options) -> None:
        # stops the run before any training when the VGG19 file is missing (offline) or broken
        vgg19.check_for_loss(self.name, effective(options).lambda_vgg, options.vgg_weights)

    def build(self, options: Options, num_classes: int, image_size: int | Size) -> Trainable:
        return SpadeTrainable(options, num_classes, image_size)

    def recognise_checkpoint(self, state: dict) -> ForeignCheckpoint | None:
        """The official code's generator (``latest_net_G.pth``), see :mod:`.official`."""
        return official.recognise(state)

    def describe(self, options: Options) -> str:
        notes = []
        if options.use_instance_edges:
            notes.append("instance edges")
        if options.dontcare_channel:
            notes.append("dontcare channel")
        if effective(options).lambda_vgg == 0 and options.label_channels is None:  # not for loaded weights
            notes.append("no VGG loss")
        if options.use_vae:
            notes.append("z from the test photo (style)" if options.generate_z == "encoder" else "z ~ N(0,I)")
        if options.noise:
            notes.append("noise injection")
        if options.style_mixing > 0:
            notes.append(f"style mixing p={options.style_mixing:g}")
        return "; ".join(notes)


@hookimpl
def register_models(register):
    register(Spade())


@hookimpl
def register_weights(register):
    register(vgg19.SPEC)
