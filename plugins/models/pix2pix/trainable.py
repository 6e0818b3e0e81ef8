"""pix2pix's networks, optimisers and alternating update (D step, then G step), and its generation."""

from __future__ import annotations

import contextlib

import torch

from benchmark import ConfigError, ForeignCheckpoint, StepContext, Trainable

from . import official
from .colour_input import colour_table, render
from .losses import gan_loss, kl_loss, l1_loss
from .networks import PatchDiscriminator, UnetGenerator, init_weights
from .options import Pix2PixOptions

#: offset of the per-image seeds of test-time dropout, so that they differ from the indices 0, 1, ...
GENERATION_SEED = 7_919_000


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
