"""SPADE's networks, optimisers and alternating update (the official order: G step, then D step)."""

from __future__ import annotations

import random
from pathlib import Path

import torch
from bench_plugins.models import vgg19
from torch.nn.utils import parametrize

from benchmark import ForeignCheckpoint, Size, StepContext, Trainable

from .blocks import PerImageNoise, init_xavier
from .discriminator import MultiscaleDiscriminator
from .encoder import ConvEncoder, reparameterize
from .generator import SPADEGenerator
from .inputs import label_channels, semantic_input
from .official import convert
from .losses import VGGLoss, feature_matching_loss, hinge_d_loss, hinge_g_loss, kld_loss
from .options import SpadeOptions, effective

#: offset of the per-image seeds used at generation (z and noise), so that they differ from index 0, 1, ...
GENERATION_SEED = 20_190_000
#: sample k of a multi-modal row draws with seeds ``GENERATION_SEED + index + k * SAMPLE_STRIDE``
SAMPLE_STRIDE = 1_000_003


class SpadeTrainable(Trainable):
    """G (+ E in VAE mode) and the multi-scale D, Adam with TTUR, hinge + FM + VGG + KL losses."""

    def __init__(self, options: SpadeOptions, num_classes: int, image_size: int | Size):
        super().__init__()
        o = self.options = effective(options)  # without the VGG loss when it is skipped for a missing file
        size = Size.of(image_size)
        channels = label_channels(num_classes, dontcare=bool(o.dontcare_channel), edges=bool(o.use_instance_edges))
        self.G = SPADEGenerator(channels, size, ngf=o.ngf, num_upsampling_layers=o.num_upsampling_layers,
                                use_vae=o.use_vae, z_dim=o.z_dim, norm=o.norm_G, hidden=o.spade_hidden,
                                spectral=o.spectral_G, act=o.block_activation, noise=o.noise,
                                block_styles=o.block_styles or o.style_mixing > 0)
        self.D = MultiscaleDiscriminator(channels + 3, num_D=o.num_D, ndf=o.ndf, n_layers=o.n_layers_D,
                                         spectral=o.spectral_D)
        self.E = ConvEncoder(size.height, ndf=o.nef, z_dim=o.z_dim) if o.use_vae else None
        for net in (self.G, self.D, self.E):
            if net is not None:
                init_xavier(net, o.init_gain)
        self.optimizers = {}
        # the fixed VGG19 is kept out of the module tree: not checkpointed, loaded on first use
        self.__dict__["_vgg"] = None
        self.vgg_file: Path | None = None

    # ------------------------------------------------------------ setup

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        o = self.options
        g_params = list(self.G.parameters()) + (list(self.E.parameters()) if self.E is not None else [])
        self.optimizers = {
            "G": torch.optim.Adam(g_params, lr=o.lr_G, betas=(o.beta1, o.beta2)),
            "D": torch.optim.Adam(self.D.parameters(), lr=o.lr_D, betas=(o.beta1, o.beta2)),
        }
        return self.optimizers

    def load_foreign(self, state: dict[str, torch.Tensor], found: ForeignCheckpoint) -> None:
        """The official code's generator (``latest_net_G.pth``): its tensors into ``G`` (see ``official``)."""
        self.G.load_state_dict(convert(state, self.G.state_dict()))

    def vgg_loss(self, device: torch.device) -> VGGLoss:
        if self._vgg is None:
            path = self.vgg_file or vgg19.resolve_file(self.options.vgg_weights or None)
            self.__dict__["_vgg"] = VGGLoss(vgg19.load_features(path), self.options.vgg_input).to(device)
        return self._vgg

    def lr_factor(self, progress: float) -> float:
        start = self.options.decay_start
        if progress <= start or start >= 1:
            return 1.0
        return max(0.0, (1 - progress) / (1 - start))

    # ------------------------------------------------------------ training

    def semantic(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The label input: one-hot (+ dontcare channel) (+ instance edges), per the options."""
        return semantic_input(batch, dontcare=bool(self.options.dontcare_channel),
                              edges=bool(self.options.use_instance_edges))

    def encode(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.E(image)
        return reparameterize(mu, logvar), mu, logvar

    def _mixing(self, z: torch.Tensor | None) -> dict:
        o = self.options
        if z is None or o.style_mixing <= 0 or random.random() >= o.style_mixing:
            return {}
        return {"z2": torch.randn_like(z), "crossover": random.randint(1, self.G.num_blocks() - 1)}

    def train_step(self, batch: dict[str, torch.Tensor], ctx: StepContext) -> dict[str, torch.Tensor]:
        o = self.options
        factor = self.lr_factor(ctx.progress)
        for name, lr in (("G", o.lr_G), ("D", o.lr_D)):
            for group in self.optimizers[name].param_groups:
                group["lr"] = lr * factor
        label, real = self.semantic(batch), batch["image"]
        losses: dict[str, torch.Tensor] = {}

        # G (and E) step: fool D, match its features and VGG features, keep q(z|x) near N(0, I).
        self.D.requires_grad_(False)
        with ctx.autocast():
            z = None
            if self.E is not None:
                z, mu, logvar = self.encode(real)
                # a sum over the batch: times the workers sharing it, whose gradients DDP averages
                losses["KLD"] = kld_loss(mu.float(), logvar.float()) * o.lambda_kld * ctx.shards
            fake = self.G(label, z, **self._mixing(z))
            # D's pass on the fake and on the real pair apart (its norms are per image, so each image's
            # features are those of one pass on both): no gradient is kept for the real half, whose
            # features the losses detach; one spectral-norm power iteration serves both, as one pass
            with parametrize.cached():
                feats_fake = self.D(label, fake)
                with torch.no_grad():
                    feats_real = self.D(label, real)
            losses["GAN"] = hinge_g_loss([s[-1] for s in feats_fake])
            if o.lambda_feat > 0:
                losses["GAN_Feat"] = feature_matching_loss(feats_fake, feats_real) * o.lambda_feat
            if o.lambda_vgg > 0:
                losses["VGG"] = self.vgg_loss(real.device)(fake, real) * o.lambda_vgg
            loss_g = sum(v.float() for v in losses.values())
        ctx.optimize(loss_g, self.optimizers["G"])
        self.D.requires_grad_(True)

        # D step on a fresh fake from the updated G.
        with torch.no_grad(), ctx.autocast():
            z = self.encode(real)[0] if self.E is not None else None
            fake = self.G(label, z, **self._mixing(z)).detach()
        with ctx.autocast():
            logits = [s[-1] for s in self.D(torch.cat([label, label]), torch.cat([fake, real]))]
            n = len(real)  # the batch is [fake, real]
            d_real, d_fake = hinge_d_loss([lg[n:] for lg in logits], [lg[:n] for lg in logits])
            loss_d = d_fake + d_real
        ctx.optimize(loss_d.float(), self.optimizers["D"])
        losses["D_fake"], losses["D_real"] = d_fake, d_real
        return {k: v.detach().float() for k, v in losses.items()}

    # ------------------------------------------------------------ generation

    def latent(self, batch: dict[str, torch.Tensor], seeds: PerImageNoise) -> torch.Tensor | None:
        """z for generation: None without VAE; else the prior or the style image's encoding, seeded per image."""
        if self.E is None:
            return None
        eps = seeds((len(batch["index"]), self.options.z_dim)).to(batch["onehot"].device)
        if self.options.generate_z == "encoder":
            mu, logvar = self.E(batch["image"])
            return mu + torch.exp(0.5 * logvar) * eps.to(mu.dtype)
        return eps

    @torch.no_grad()
    def generate_sample(self, batch: dict[str, torch.Tensor], sample: int) -> torch.Tensor:
        """The ``sample``-th image per label map (z and noise seeded by the image's index and ``sample``)."""
        return self.generate(batch, sample=sample)

    @torch.no_grad()
    def generate(self, batch: dict[str, torch.Tensor], z: torch.Tensor | None = None, *,
                 sample: int = 0) -> torch.Tensor:
        """Images for the label maps; ``z`` overrides the latent code (VAE mode); ``sample`` k > 0 draws
        the k-th other z and noise per image (sample 0 is the row's image)."""
        seeds = PerImageNoise([GENERATION_SEED + int(i) + sample * SAMPLE_STRIDE for i in batch["index"].tolist()])
        modes = [m.training for m in (self.G, self.E) if m is not None]
        self.G.eval()
        if self.E is not None:
            self.E.eval()
        try:
            if z is None:
                z = self.latent(batch, seeds)
            out = self.G(self.semantic(batch), z, noise_source=seeds if self.options.noise else None)
        finally:
            for m, mode in zip([m for m in (self.G, self.E) if m is not None], modes):
                m.train(mode)
        return out.float()
