"""The training rule of `label-cgan`: two generator updates, then one discriminator update.

One ``train_step`` (the class-label cGAN report, "Training"):

1. ``g_steps_per_d`` times (2 in the source): ``fake = G(sketch, classes)``;
   generator loss ``BCE(D(fake, sketch, classes), real) + lambda_l1 * L1(fake, real)``;
   one Adam step of G. The discriminator is frozen meanwhile.
2. once: discriminator loss ``(BCE(D(real, ...), real) + BCE(D(fake, ...), fake)) / 2``
   on the last generated batch (detached); one Adam step of D.

BCE is averaged over every patch score and the batch; real targets are 1 and
fake targets 0 (see ``networks`` for the sigmoid). The logged G losses are
the means over the generator updates of the step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from benchmark import StepContext, Trainable

from .networks import PatchDiscriminator, UnetGenerator, init_weights
from .options import LabelCGANOptions
from .sketch import label_edges, xdog


def bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Binary cross entropy of sigmoid(logits) against all ones (real) or all zeros (fake)."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits.float(), target.float())


class LabelCGANTrainable(Trainable):
    """G and D, their Adam optimisers, the sketch maker and the 2:1 update."""

    def __init__(self, options: LabelCGANOptions, num_classes: int, image_size: int):
        super().__init__()
        self.options = options
        self.G = UnetGenerator(num_classes, image_size, ngf=options.ngf)
        self.D = PatchDiscriminator(num_classes, ndf=options.ndf, n_layers=options.n_layers_d)
        init_weights(self.G, options.init_std)
        init_weights(self.D, options.init_std)
        self.optimizers = {}

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        o = self.options
        betas = (o.beta1, o.beta2)
        self.optimizers = {"G": torch.optim.Adam(self.G.parameters(), lr=o.lr, betas=betas),
                           "D": torch.optim.Adam(self.D.parameters(), lr=o.lr, betas=betas)}
        return self.optimizers

    def sketch(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(N,1,H,W) sketch in [-1, 1]: XDoG of ``batch['image']`` or the edges of ``batch['label']``."""
        o = self.options
        if o.sketch == "label-edges":
            return label_edges(batch["label"])
        return xdog(batch["image"], sigma=o.xdog_sigma, k=o.xdog_k, p=o.xdog_p, eps=o.xdog_eps, phi=o.xdog_phi)

    def train_step(self, batch: dict[str, torch.Tensor], ctx: StepContext) -> dict[str, torch.Tensor]:
        o = self.options
        real, classes = batch["image"], batch["classes"]
        sketch = self.sketch(batch)

        self.D.requires_grad_(False)
        g_gan_sum = g_l1_sum = 0.0
        for _ in range(o.g_steps_per_d):
            with ctx.autocast():
                fake = self.G(sketch, classes)
                g_gan = bce(self.D(fake, sketch, classes), True)
                g_l1 = (fake.float() - real.float()).abs().mean()
                loss_g = g_gan + o.lambda_l1 * g_l1
            ctx.optimize(loss_g, self.optimizers["G"])
            g_gan_sum = g_gan_sum + g_gan.detach()
            g_l1_sum = g_l1_sum + g_l1.detach()
        self.D.requires_grad_(True)

        fake = fake.detach()
        with ctx.autocast():
            d_real = bce(self.D(real, sketch, classes), True)
            d_fake = bce(self.D(fake, sketch, classes), False)
            loss_d = 0.5 * (d_real + d_fake)
        ctx.optimize(loss_d, self.optimizers["D"])

        n = o.g_steps_per_d
        losses = {"G_GAN": g_gan_sum / n, "G_L1": g_l1_sum / n, "D_real": d_real, "D_fake": d_fake}
        return {k: v.detach().float() for k, v in losses.items()}

    @torch.no_grad()
    def generate(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Photos for the batch's sketches and classes, with the harness's mode (eval: BatchNorm running stats)."""
        return self.G(self.sketch(batch), batch["classes"]).float()
