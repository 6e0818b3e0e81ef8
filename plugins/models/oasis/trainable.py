"""OASIS's networks, optimisers and alternating update (the official order: G step, D step, EMA update)."""

from __future__ import annotations

import torch
from bench_plugins.models import vgg19
from bench_plugins.models.spade.blocks import PerImageNoise, init_xavier
from bench_plugins.models.spade.losses import VGGLoss

from benchmark import ForeignCheckpoint, Size, StepContext, Trainable

from .discriminator import OasisDiscriminator
from .generator import OasisGenerator
from .ema import ema_copy, refresh_norm_statistics, update_ema
from .inputs import label_channels, semantic_input
from .losses import labelmix, labelmix_loss, segmentation_loss
from .official import convert
from .options import OasisOptions

#: offset of the per-image noise seeds at generation; sample k of image i uses
#: ``GENERATION_SEED + i + k * SAMPLE_STRIDE``
GENERATION_SEED = 20_210_000
SAMPLE_STRIDE = 1_000_003


class OasisTrainable(Trainable):
    """G, its EMA copy and the U-Net D; Adam (G 1e-4, D 4e-4, betas (0, 0.999)); N+1 loss + LabelMix."""

    def __init__(self, options: OasisOptions, num_classes: int, image_size: int | Size):
        super().__init__()
        o = self.options = options
        self.num_classes = num_classes
        channels = label_channels(num_classes, dontcare=bool(o.dontcare_channel))
        self.G = OasisGenerator(channels, image_size, ngf=o.ngf, num_res_blocks=o.num_res_blocks, z_dim=o.z_dim,
                                norm=o.norm_G, hidden=o.spade_hidden, spectral=o.spectral)
        self.D = OasisDiscriminator(channels, ndf=o.ndf, num_res_blocks=o.num_res_blocks, spectral=o.spectral)
        init_xavier(self.G, 0.02)
        init_xavier(self.D, 0.02)
        self.G_ema = ema_copy(self.G) if o.use_ema else None
        self.optimizers = {}
        self.__dict__["_vgg"] = None

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        o = self.options
        self.optimizers = {
            "G": torch.optim.Adam(self.G.parameters(), lr=o.lr_G, betas=(o.beta1, o.beta2)),
            "D": torch.optim.Adam(self.D.parameters(), lr=o.lr_D, betas=(o.beta1, o.beta2)),
        }
        return self.optimizers

    def load_foreign(self, state: dict[str, torch.Tensor], found: ForeignCheckpoint) -> None:
        """The official code's EMA generator (``best_EMA.pth``): its tensors into ``G`` and ``G_ema`` (see
        ``official``), so that generation uses them whether or not the EMA generator is on."""
        tensors = convert(state, self.G.state_dict())
        for net in filter(None, (self.G, self.G_ema)):
            net.load_state_dict(tensors)

    def semantic(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return semantic_input(batch, dontcare=bool(self.options.dontcare_channel))

    def vgg_loss(self, device: torch.device) -> VGGLoss:
        if self._vgg is None:
            path = vgg19.resolve_file(self.options.vgg_weights or None)
            self.__dict__["_vgg"] = VGGLoss(vgg19.load_features(path)).to(device)
        return self._vgg

    @property
    def zero_weight_first(self) -> bool:
        """Whether channel 0 weighs 0 in the balanced loss (``for_dataset`` sets it; else with a dontcare channel)."""
        o = self.options
        return bool(o.dontcare_channel) if o.zero_weight_first is None else o.zero_weight_first

    def d_loss(self, logits: torch.Tensor, label: torch.Tensor, real: bool) -> torch.Tensor:
        return segmentation_loss(logits.float(), label, real=real, balance=self.options.class_balancing,
                                 dontcare_first=self.zero_weight_first)

    def train_step(self, batch: dict[str, torch.Tensor], ctx: StepContext) -> dict[str, torch.Tensor]:
        o = self.options
        label, real = self.semantic(batch), batch["image"]
        losses: dict[str, torch.Tensor] = {}

        # G step: D should see the generated pixels as their real classes.
        self.D.requires_grad_(False)
        with ctx.autocast():
            fake = self.G(label)
            losses["G_adv"] = self.d_loss(self.D(fake), label, real=True)
            if o.lambda_vgg > 0:
                losses["VGG"] = self.vgg_loss(real.device)(fake, real) * o.lambda_vgg
            loss_g = sum(v.float() for v in losses.values())
        ctx.optimize(loss_g, self.optimizers["G"])
        self.D.requires_grad_(True)

        # D step: fake pixels are class 0, real ones their class + 1; LabelMix consistency.
        with torch.no_grad(), ctx.autocast():
            fake = self.G(label).detach()
        with ctx.autocast():
            n = len(real)
            logits = self.D(torch.cat([fake, real]))
            logits_fake, logits_real = logits[:n], logits[n:]
            d_fake = self.d_loss(logits_fake, label, real=False)
            d_real = self.d_loss(logits_real, label, real=True)
            loss_d = d_fake + d_real
            if o.lambda_labelmix > 0:
                mixed, mask = labelmix(label, fake, real)
                lm = labelmix_loss(mask, self.D(mixed).float(), logits_fake.float(), logits_real.float())
                losses["D_labelmix"] = lm * o.lambda_labelmix
                loss_d = loss_d + losses["D_labelmix"]
        ctx.optimize(loss_d.float(), self.optimizers["D"])
        losses["D_fake"], losses["D_real"] = d_fake, d_real

        if self.G_ema is not None:
            update_ema(self.G_ema, self.G, o.ema_decay)
            if ctx.step >= ctx.total_steps - o.ema_stats_batches:
                with ctx.autocast():
                    refresh_norm_statistics(self.G_ema, label)
        return {k: v.detach().float() for k, v in losses.items()}

    # ------------------------------------------------------------ generation

    def noise(self, batch: dict[str, torch.Tensor], sample: int) -> torch.Tensor | None:
        """z for each image, seeded by its index in the split (and the sample number)."""
        if not self.options.z_dim:
            return None
        seeds = PerImageNoise([GENERATION_SEED + int(i) + sample * SAMPLE_STRIDE for i in batch["index"].tolist()])
        return seeds((len(batch["index"]), self.options.z_dim)).to(batch["onehot"].device)

    @torch.no_grad()
    def generate_sample(self, batch: dict[str, torch.Tensor], sample: int) -> torch.Tensor:
        net = self.G_ema if self.G_ema is not None else self.G
        mode = net.training
        net.eval()
        try:
            return net(self.semantic(batch), self.noise(batch, sample)).float()
        finally:
            net.train(mode)

    @torch.no_grad()
    def generate(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.generate_sample(batch, 0)
