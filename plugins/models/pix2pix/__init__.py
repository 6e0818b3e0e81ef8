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
- Source report 004 ("Image-to-image translation with Pix2Pix conditional GAN
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

import contextlib
from typing import Any, ClassVar, Literal

import torch
from pydantic import Field

from benchmark import (
    ConfigError,
    DataFacts,
    ForeignCheckpoint,
    Model,
    Options,
    Preset,
    Size,
    StepContext,
    Trainable,
    TrainLength,
    TrainTransform,
    hookimpl,
)
from bench_plugins.models.unet import check_unet_size, patch_grid_size

from . import official
from .colour_input import colour_table, input_palette, render
from .losses import gan_loss, kl_loss, l1_loss
from .networks import PatchDiscriminator, UnetGenerator, init_weights

#: offset of the per-image seeds of test-time dropout, so that they differ from the indices 0, 1, ...
GENERATION_SEED = 7_919_000


class Pix2PixOptions(Options):
    """Defaults are the paper's / official code's; beta_kl, augment and rotate_degrees serve source 004."""

    ngf: int = Field(64, ge=1, description="generator width: channels of the first U-Net level")
    ndf: int = Field(64, ge=1, description="discriminator width: channels of the first PatchGAN conv")
    n_layers_d: int = Field(3, ge=1, description="stride-2 convs in the PatchGAN (3: 70x70 patches)")
    norm: Literal["batch", "instance"] = Field("batch", description="normalisation layer in G and D")
    use_dropout: bool = Field(True, description="dropout 0.5 in the generator's innermost 8ngf decoder steps")
    lambda_l1: float = Field(100.0, ge=0, description="weight of the L1 loss between fake and real")
    beta_kl: float = Field(0.0, ge=0, description="weight of the KL term of source 004 (it uses 0.2); 0: off")
    augment: bool = Field(False, description="source 004's augmentation: vertical flip and random rotation "
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


class Pix2PixTrainable(Trainable):
    """G and D of pix2pix, their Adam optimisers, and the alternating update."""

    def __init__(self, options: Pix2PixOptions, num_classes: int, image_size: int):
        super().__init__()
        self.options = options
        in_channels = num_classes
        if options.label_input == "colour":
            if not options.label_palette:
                raise ConfigError("pix2pix: label_input=colour needs pix2pix.label_palette (the run fills it from "
                                  "the dataset's palette)")
            in_channels = 3
            self.register_buffer("colours", colour_table(options.label_palette), persistent=False)
        self.G = UnetGenerator(in_channels, 3, image_size, ngf=options.ngf, norm=options.norm,
                               use_dropout=options.use_dropout, num_downs=options.num_downs)
        self.D = PatchDiscriminator(in_channels + 3, ndf=options.ndf, n_layers=options.n_layers_d,
                                    norm=options.norm)
        init_weights(self.G, options.init_gain)
        init_weights(self.D, options.init_gain)
        self.optimizers = {}

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        o = self.options
        betas = (o.beta1, o.beta2)
        self.optimizers = {
            "G": torch.optim.Adam(self.G.parameters(), lr=o.lr, betas=betas),
            "D": torch.optim.Adam(self.D.parameters(), lr=o.lr, betas=betas),
        }
        return self.optimizers

    def lr_factor(self, progress: float) -> float:
        """1 until ``decay_start``, then linear to 0 at the end of training."""
        start = self.options.decay_start
        if progress <= start or start >= 1:
            return 1.0
        return max(0.0, (1 - progress) / (1 - start))

    def train_step(self, batch: dict[str, torch.Tensor], ctx: StepContext) -> dict[str, torch.Tensor]:
        o = self.options
        lr = o.lr * self.lr_factor(ctx.progress)
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] = lr
        condition, real = self.condition(batch), batch["image"]

        with ctx.autocast():
            fake = self.G(condition)

        # D: real pairs -> 1, generated pairs -> 0; G gets no gradient from this.
        self.D.requires_grad_(True)
        with ctx.autocast():
            d_real = gan_loss(self.D(condition, real), True)
            d_fake = gan_loss(self.D(condition, fake.detach()), False)
            loss_d = 0.5 * (d_real + d_fake)
        ctx.optimize(loss_d, self.optimizers["D"])

        # G: fool the updated D, stay close to the real image.
        self.D.requires_grad_(False)
        with ctx.autocast():
            g_gan = gan_loss(self.D(condition, fake), True)
            g_l1 = l1_loss(fake.float(), real.float())
            loss_g = g_gan + o.lambda_l1 * g_l1
            if o.beta_kl > 0:
                g_kl = kl_loss(fake, real)
                loss_g = loss_g + o.beta_kl * g_kl
        ctx.optimize(loss_g, self.optimizers["G"])
        self.D.requires_grad_(True)

        losses = {"G_GAN": g_gan, "G_L1": g_l1, "D_real": d_real, "D_fake": d_fake}
        if o.beta_kl > 0:
            losses["G_KL"] = g_kl
        return {k: v.detach().float() for k, v in losses.items()}

    def condition(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """What G and D read: the one-hot map, or the colour rendering of the label map."""
        if self.options.label_input == "colour":
            return render(batch["label"], self.colours)
        return batch["onehot"]

    @torch.no_grad()
    def generate(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        condition = self.condition(batch)
        was_training = self.G.training
        try:
            if self.options.test_mode == "eval":
                self.G.eval()
                out = self.G(condition)
            else:
                self.G.train()
                with _running_stats_kept(self.G):
                    out = torch.cat([self.paper_forward(x, int(i)) for x, i in zip(condition, batch["index"])])
        finally:
            self.G.train(was_training)
        return out.float()

    def paper_forward(self, condition: torch.Tensor, index: int) -> torch.Tensor:
        """G in training mode on one image, its dropout drawn from the RNG seeded with
        :func:`official_test_seed` (``index``): the same image gets the same output in any batch."""
        devices = [condition.device] if condition.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(official_test_seed(index))
            return self.G(condition[None])

    def load_foreign(self, state: dict[str, torch.Tensor], found: ForeignCheckpoint) -> None:
        """An official pix2pix generator (:mod:`.official`); D keeps its initialisation (unused at test time)."""
        self.G.load_state_dict(official.convert(state, self.G))


def official_test_seed(index: int) -> int:
    """The seed of test image ``index``'s dropout masks in ``test_mode='paper'``."""
    return GENERATION_SEED + index


@contextlib.contextmanager
def _running_stats_kept(module: torch.nn.Module):
    """Restore every buffer (BatchNorm running statistics) on exit: generation must not train."""
    saved = [b.clone() for b in module.buffers()]
    try:
        yield
    finally:
        for buffer, value in zip(module.buffers(), saved):
            buffer.copy_(value)


class Pix2Pix(Model):
    """pix2pix with the paper's and official code's defaults; source 004's KL term and augmentation as presets.

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
        "kl": Preset("+ KL term, beta 0.2 (source 004)", {"beta_kl": 0.2}),
        "aug": Preset("+ rotation and vertical-flip augmentation (source 004)", {"augment": True}),
        "aug-kl": Preset("+ augmentation and KL term, beta 0.2 (source 004's best)",
                         {"augment": True, "beta_kl": 0.2}),
    }
    profiles: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {
        "smoke": {"run": {"image_size": 32, "steps": 30, "batch_size": 4}, "options": {"ngf": 8, "ndf": 8}},
        "quick": {"run": {"image_size": 64, "steps": 1200, "batch_size": 8}, "options": {"ngf": 16, "ndf": 16}},
        "paper": {"run": {"image_size": 256, "epochs": 200, "batch_size": 1}, "options": {}},
    }

    def train_length(self, options: Options, profile: str) -> TrainLength:
        run = self.profiles.get(profile, self.profiles["paper"])["run"]
        return TrainLength(epochs=run.get("epochs"), steps=run.get("steps"), batch_size=run["batch_size"])

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
