"""OASIS: a SPADE generator with 3D noise, a U-Net discriminator that segments into N + 1 classes, LabelMix.

Source: "You Only Need Adversarial Supervision for Semantic Image Synthesis" (OASIS,
ICLR 2021) and its official code, whose defaults are the preset ``official``: 3D noise of
64 channels concatenated to the label map per pixel, a generator of 6 SPADE residual
blocks (ngf 64, spectral norm, parameter-free batch norm, SPADE hidden 128), a U-Net
discriminator of 6 + 6 residual blocks (widths 128 ... 512) classifying each pixel into
the N classes + "fake", the class-balanced (N+1)-class cross-entropy as the only
generator loss (no VGG, no feature matching), LabelMix 10, Adam G 1e-4 / D 4e-4 with
betas (0, 0.999), an EMA generator (decay 0.9999) at test time, batch 32, 200 epochs
(COCO-Stuff 100), resize 286 -> random crop 256 and horizontal flip. Cityscapes (preset
``cityscapes``): G lr 4e-4, LabelMix 5, EMA 0.999, batch 20, a resize without crop.

The model is multi-modal: generation draws z per test image from a generator seeded with
the image's index (and the sample number for ``generate_sample``), so rows are
reproducible and a diversity metric can ask for several images per label map.

Differences from the official code forced by the benchmark: LabelMix flips one
independent coin per class (the official loop re-assigns classes in turn, so a class
whose id equals an earlier coin's value is overwritten); the EMA generator's batch-norm
statistics are refreshed on the last 50 training batches instead of 50 batches read after
training; widths and depth are options so that the smoke and quick profiles can be small.
The official checkpoints (``best_EMA.pth``) are read by :mod:`.official` and listed in the
zoo (:mod:`.zoo`). Profiles: ``smoke`` (seconds), ``quick`` (64 px, narrow, minutes on 2 CPU cores),
``paper`` (256 px, official widths, 200 epochs at batch 32). More in docs/oasis.md.
"""

from __future__ import annotations

from typing import Any, ClassVar

from benchmark import ConfigError, DataFacts, ForeignCheckpoint, Model, Options, Preset, Size, Trainable, \
    TrainLength, TrainTransform, hookimpl

from bench_plugins.models.profile_length import profile_length
from bench_plugins.models import vgg19

from . import official
from .generator import start_grid
from .inputs import label_channels
from .options import OasisOptions
from .trainable import OasisTrainable

CITYSCAPES = {"lr_G": 4e-4, "lambda_labelmix": 5.0, "ema_decay": 0.999, "batch_size": 20, "load_scale": 1.0}


class Oasis(Model):
    """OASIS with the official code's defaults; ``cityscapes`` holds its Cityscapes settings.

    Rows: ``oasis`` (official), ``oasis+cityscapes``, ``oasis+vgg`` (the official
    add_vgg_loss, VGG 10: needs torchvision's vgg19-dcbb9e9d.pth), ``oasis+no-3dnoise``
    (one image per label map). Reads the official code's EMA generator (``best_EMA.pth``) with
    ``--checkpoint FILE``; the released ones are the zoo rows ``oasis@ade20k-official``,
    ``oasis@cityscapes-official`` and ``oasis@coco-stuff-official`` (``bench zoo list``). More in
    docs/oasis.md.
    """

    name = "oasis"
    summary = "OASIS: SPADE generator with 3D noise, U-Net (N+1)-class segmentation discriminator, LabelMix, EMA"
    input_kind = "label-map"
    non_square = True
    Options = OasisOptions
    default_preset = "official"
    presets: ClassVar[dict[str, Preset]] = {
        "official": Preset("OASIS paper / official code defaults (ADE20K, COCO-Stuff)"),
        "cityscapes": Preset("official Cityscapes settings: G lr 4e-4, LabelMix 5, EMA 0.999, batch 20, no crop", CITYSCAPES),
        "vgg": Preset("official add_vgg_loss: VGG19 perceptual loss, weight 10", {"lambda_vgg": 10.0}),
        "no-3dnoise": Preset("official no_3dnoise: no noise input, one image per label map", {"z_dim": 0}),
    }
    profiles: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {
        "smoke": {"run": {"image_size": 32, "steps": 20, "batch_size": 2},
                  "options": {"ngf": 4, "ndf": 4, "spade_hidden": 16, "z_dim": 8, "num_res_blocks": 5,
                              "ema_decay": 0.9, "ema_stats_batches": 5}},
        "quick": {"run": {"image_size": 64, "steps": 1000, "batch_size": 4},
                  "options": {"ngf": 16, "ndf": 16, "spade_hidden": 32, "z_dim": 16, "num_res_blocks": 6,
                              "ema_decay": 0.99, "ema_stats_batches": 20}},
        "paper": {"run": {"image_size": 256, "epochs": 200, "batch_size": 32}, "options": {}},
    }

    def multi_modal(self, options: Options) -> bool:
        return options.z_dim > 0

    def train_length(self, options: Options, profile: str) -> TrainLength:
        return profile_length(self.profiles, profile, options.batch_size)

    def for_dataset(self, options: Options, data: DataFacts) -> Options:
        """The official per-dataset settings of the dontcare channel and of channel 0's weight in the
        balanced loss where the options leave them open."""
        if options.dontcare_channel is None:
            if options.label_channels is not None:
                dontcare = options.label_channels == data.num_classes + 1
            else:
                dontcare = data.dontcare_label and data.ignore_index is not None
            options = options.model_copy(update={"dontcare_channel": dontcare})
        if options.zero_weight_first is None:
            # Cityscapes has no dontcare channel here (its 35 channels are the labelIds), but the official
            # code's contain_dontcare_label still zeroes channel 0 there: labelId 0, "unlabeled"
            zero = bool(options.dontcare_channel) or data.name == "cityscapes"
            options = options.model_copy(update={"zero_weight_first": zero})
        return options

    def train_transform(self, options: Options, image_size: int | Size) -> TrainTransform:
        load = round(Size.of(image_size).height * options.load_scale)
        return TrainTransform(load_size=load if load != Size.of(image_size).height else None, hflip=True)

    def check(self, options: Options, image_size: int | Size, num_classes: int) -> None:
        size = Size.of(image_size)
        n = options.num_res_blocks
        # D pools n times; G starts at size / 2**(n-1), all a generator read from a file needs (no D runs)
        generator_only = options.label_channels is not None
        step = 2 ** (n - 1) if generator_only else 2 ** n
        if size.height % step or size.width % step:
            shown = f"image_size {size.height}" if size.square else f"size {size.text()}"
            what = f"2**(num_res_blocks-1) = {step} (the generator's start grid)" if generator_only else \
                f"2**num_res_blocks = {step}"
            fix = "" if generator_only else f" or set {self.name}.num_res_blocks lower"
            raise ConfigError(f"{self.name}: {shown} must be a multiple of {what} on both sides "
                              f"(num_res_blocks={n}); use a multiple of {step}{fix}")
        if options.norm_G == "instance" and min(start_grid(size, n)) < 2:
            raise ConfigError(f"{self.name}: norm_G='instance' needs a start grid of at least 2x2: use a larger "
                              f"image or fewer blocks ({self.name}.num_res_blocks)")
        if options.label_channels is not None:
            own = label_channels(num_classes, dontcare=bool(options.dontcare_channel))
            if own != options.label_channels:
                raise ConfigError(f"{self.name}: the checkpoint's generator reads {options.label_channels} label "
                                  f"channels (after {options.z_dim} noise channels), but this dataset gives {own} "
                                  f"({num_classes} classes{' + dontcare' if options.dontcare_channel else ''}); it "
                                  f"was trained on another dataset (or set {self.name}.dontcare_channel)")

    def check_training(self, options: Options) -> None:
        # stops the run before any training when the VGG19 file is missing (offline) or broken
        vgg19.check_for_loss(self.name, options.lambda_vgg, options.vgg_weights)

    def build(self, options: Options, num_classes: int, image_size: int | Size) -> Trainable:
        return OasisTrainable(options, num_classes, image_size)

    def recognise_checkpoint(self, state: dict) -> ForeignCheckpoint | None:
        """The official code's EMA generator (``best_EMA.pth``), see :mod:`.official`."""
        return official.recognise(state)

    def describe(self, options: Options) -> str:
        notes = [f"z ~ N(0,I), {options.z_dim}-d 3D noise" if options.z_dim else "no 3D noise"]
        if options.dontcare_channel:
            notes.append("dontcare channel")
        if options.lambda_vgg > 0:
            notes.append(f"VGG loss {options.lambda_vgg:g}")
        if not options.use_ema:
            notes.append("no EMA")
        return "; ".join(notes)


@hookimpl
def register_models(register):
    register(Oasis())
