"""pix2pix: a U-Net generator and a PatchGAN discriminator trained with a cGAN loss plus L1.

Sources:

- "Image-to-Image Translation with Conditional Adversarial Networks" (the pix2pix
  paper) and its official code give the defaults (preset ``official``): U-Net
  with skip connections and dropout, 70x70 PatchGAN, vanilla GAN loss with
  ``lambda_l1 = 100``, Adam lr 2e-4, betas (0.5, 0.999), batch size 1,
  100 epochs at constant lr then 100 epochs of linear decay to 0
  (``decay_start = 0.5``), N(0, 0.02) init, resize to 286 then random 256 crop
  and horizontal flip, and at test time the generator run as in training
  (dropout on, BatchNorm on the test image's own statistics).
- The pix2pix KL report ("Image-to-image translation with Pix2Pix conditional GAN
  architecture") gives the variants: an added KL term with ``beta = 0.2``
  (presets ``kl`` and ``aug-kl``; the reading of its KL is documented in
  :func:`bench_plugins.models.pix2pix.losses.kl_loss`) and online augmentation by
  rotation and vertical flip on top of the official crop and horizontal flip
  (presets ``aug`` and ``aug-kl``). The report gives no rotation angle:
  ``rotate_degrees = 10`` is this plugin's choice. The report's footnote says
  lr 0.002 while also saying the paper's hyper-parameters were unchanged; the
  paper's 2e-4 is used. It trained 500 epochs; every preset here keeps the
  official 200 so that the four rows share one budget.

Differences from the official code: by default the generator reads the one-hot
label map (``num_classes`` channels) instead of a colour-coded label image
(``label_input='colour'`` reads the colour image, rendered from the class ids with
the dataset's palette: :mod:`.colour_input`); the U-Net depth follows the image size
(``log2(image_size)`` halvings down to 1x1, so 8 at 256 px as in ``unet_256``)
unless ``num_downs`` fixes it; the lr decay is applied per step from the harness's
progress instead of per epoch. Test-time dropout (``test_mode='paper'``, the
official test.py without ``--eval``) is seeded per test image so that a row is
reproducible. Generators saved by the official code are recognised and loaded by
:mod:`.official` (``bench run --checkpoint FILE``, zoo row ``pix2pix@facades-official``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from benchmark import (
    ConfigError,
    DataFacts,
    ForeignCheckpoint,
    Model,
    Options,
    Preset,
    Size,
    Trainable,
    TrainLength,
    TrainTransform,
    hookimpl,
)
from bench_plugins.models.profile_length import profile_length
from bench_plugins.models.unet import check_unet_size, patch_grid_size

from . import official
from .colour_input import input_palette
from .options import Pix2PixOptions
from .trainable import Pix2PixTrainable, official_test_seed

__all__ = ["Pix2Pix", "Pix2PixOptions", "Pix2PixTrainable", "official", "official_test_seed", "register_models"]


class Pix2Pix(Model):
    """pix2pix with the paper's and official code's defaults; the pix2pix KL report's KL term and
    augmentation as presets.

    Row ``pix2pix`` is the official setting. ``pix2pix+kl`` adds ``0.2 * KL`` (source
    004; KL(P_real || P_fake) of per-channel intensity distributions over pixel
    positions, see ``losses.kl_loss``), ``pix2pix+aug`` adds vertical flips and
    +-10 degree rotations (the angle is this plugin's choice), ``pix2pix+aug-kl``
    both. Generation follows the paper: dropout on and BatchNorm on each test
    image's own statistics (``test_mode='eval'`` for the usual eval mode).
    """

    name = "pix2pix"
    summary = "U-Net generator + 70x70 PatchGAN, cGAN + L1 loss (pix2pix paper and official code)"
    input_kind = "label-map"
    non_square = True
    Options = Pix2PixOptions
    default_preset = "official"
    presets: ClassVar[dict[str, Preset]] = {
        "official": Preset("pix2pix paper / official code defaults"),
        "kl": Preset("+ KL term, beta 0.2 (the pix2pix KL report)", {"beta_kl": 0.2}),
        "aug": Preset("+ rotation and vertical-flip augmentation (the pix2pix KL report)", {"augment": True}),
        "aug-kl": Preset("+ augmentation and KL term, beta 0.2 (the pix2pix KL report's best)",
                         {"augment": True, "beta_kl": 0.2}),
    }
    profiles: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {
        "smoke": {"run": {"image_size": 32, "steps": 30, "batch_size": 4}, "options": {"ngf": 8, "ndf": 8}},
        "quick": {"run": {"image_size": 64, "steps": 1200, "batch_size": 8}, "options": {"ngf": 16, "ndf": 16}},
        "paper": {"run": {"image_size": 256, "epochs": 200, "batch_size": 1}, "options": {}},
    }

    def train_length(self, options: Options, profile: str) -> TrainLength:
        return profile_length(self.profiles, profile)

    def train_transform(self, options: Options, image_size: int | Size) -> TrainTransform:
        return TrainTransform(
            load_size=round(Size.of(image_size).height * options.load_scale),
            hflip=True,
            vflip=options.augment,
            rotate_degrees=options.rotate_degrees if options.augment else 0.0,
        )

    def for_dataset(self, options: Options, data: DataFacts) -> Options:
        """Colour input: record the palette the label maps are rendered with (the dataset's unless given)."""
        if options.label_input != "colour":
            return options
        return options.model_copy(update={"label_palette": input_palette(data, options.label_palette)})

    def check(self, options: Options, image_size: int | Size, num_classes: int) -> None:
        if options.num_downs is None:
            check_unet_size(self.name, image_size, options.n_layers_d)
            return
        size = Size.of(image_size)
        step = 2 ** options.num_downs
        if size.height % step or size.width % step:
            good = step * max(1, round(size.height / step))
            raise ConfigError(f"{self.name}: num_downs={options.num_downs} halves the image {options.num_downs} "
                              f"times, and {size.text()} is not a multiple of {step} on both sides; use "
                              f"--set image_size={good}")
        if patch_grid_size(min(size), options.n_layers_d) < 1:
            raise ConfigError(f"{self.name}: n_layers_d={options.n_layers_d} leaves no PatchGAN output at "
                              f"{size.text()}; lower n_layers_d or use a larger image_size")

    def build(self, options: Options, num_classes: int, image_size: int | Size) -> Trainable:
        return Pix2PixTrainable(options, num_classes, image_size)

    def recognise_checkpoint(self, state: dict[str, torch.Tensor]) -> ForeignCheckpoint | None:
        """The official code's ``unet_256`` / ``unet_128`` generator (e.g. ``facades_label2photo.pth``)."""
        return official.recognise(state)

    def input_of(self, options: Options) -> str:
        return "colour label image" if options.label_input == "colour" else self.input_kind

    def describe(self, options: Options) -> str:
        notes = []
        if options.num_downs is not None:
            notes.append(f"{options.num_downs} U-Net halvings")
        if options.beta_kl > 0:
            notes.append(f"KL beta {options.beta_kl:g}")
        if options.augment:
            notes.append(f"aug: vflip, rotate +-{options.rotate_degrees:g} deg")
        if options.test_mode == "eval":
            notes.append("eval-mode generation")
        return "; ".join(notes)


@hookimpl
def register_models(register):
    register(Pix2Pix())
