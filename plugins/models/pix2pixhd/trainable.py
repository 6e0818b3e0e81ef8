"""pix2pixHD's networks, optimisers and update (the official order: one G forward, G step, then D step)."""

from __future__ import annotations

import torch
from bench_plugins.models import vgg19
from bench_plugins.models.spade.discriminator import MultiscaleDiscriminator
from bench_plugins.models.spade.losses import VGGLoss
from bench_plugins.models.spade.options import effective
from torch import nn

from benchmark import ForeignCheckpoint, Size, StepContext, Trainable

from .encoder import FeatureEncoder
from .generator import Pix2PixHDGenerator
from .inputs import label_channels, segments, semantic_input
from .losses import feature_matching_loss, gan_loss
from .official import convert
from .options import Pix2PixHDOptions


def init_normal(module: nn.Module, std: float) -> None:
    """The official ``weights_init``: every conv and transposed conv weight ~ N(0, std); biases as torch
    initialises them."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)


class Pix2PixHDTrainable(Trainable):
    """G (+ the feature encoder E), the multi-scale D; Adam lr 2e-4, betas (0.5, 0.999); GAN + FM + VGG."""

    def __init__(self, options: Pix2PixHDOptions, num_classes: int, image_size: int | Size):
        super().__init__()
        o = self.options = effective(options)  # without the VGG loss when it is skipped for a missing file
        channels = label_channels(num_classes, edges=bool(o.use_instance_edges))
        extra = o.feat_num if o.instance_feat else 0
        self.G = Pix2PixHDGenerator(channels + extra, ngf=o.ngf, n_downsample_global=o.n_downsample_global,
                                    n_blocks_global=o.n_blocks_global, n_local_enhancers=o.n_local_enhancers,
                                    n_blocks_local=o.n_blocks_local)
        # the official n_layers_D counts the stride-2 convs after the first; SPADE's PatchGAN counts all 4x4 convs
        # before the output one (its 4 is pix2pixHD's 3): the same network, no spectral norm, instance norm
        self.D = MultiscaleDiscriminator(channels + 3, num_D=o.num_D, ndf=o.ndf, n_layers=o.n_layers_D + 1,
                                         spectral=False, norm=True)
        self.E = FeatureEncoder(feat_num=o.feat_num, nef=o.nef, n_downsample=o.n_downsample_E) \
            if o.instance_feat else None
        for net in (self.G, self.D, self.E):
            if net is not None:
                init_normal(net, o.init_std)
        self.optimizers = {}
        self.__dict__["_vgg"] = None  # the fixed VGG19 stays out of the module tree (not checkpointed)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        o = self.options
        g_params = list(self.G.parameters()) + (list(self.E.parameters()) if self.E is not None else [])
        self.optimizers = {"G": torch.optim.Adam(g_params, lr=o.lr, betas=(o.beta1, o.beta2)),
                           "D": torch.optim.Adam(self.D.parameters(), lr=o.lr, betas=(o.beta1, o.beta2))}
        return self.optimizers

    def load_foreign(self, state: dict[str, torch.Tensor], found: ForeignCheckpoint) -> None:
        """The official generator (``latest_net_G.pth``) into ``G`` (see :mod:`.official`)."""
        self.G.load_state_dict(convert(state, self.G.state_dict(), self.options))

    def vgg_loss(self, device: torch.device) -> VGGLoss:
        if self._vgg is None:
            path = vgg19.resolve_file(self.options.vgg_weights or None)
            self.__dict__["_vgg"] = VGGLoss(vgg19.load_features(path)).to(device)
        return self._vgg

    def lr_factor(self, progress: float) -> float:
        start = self.options.decay_start
        if progress <= start or start >= 1:
            return 1.0
        return max(0.0, (1 - progress) / (1 - start))

    # ------------------------------------------------------------ inputs

    def semantic(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The label input of G and D: one-hot (+ instance edges)."""
        return semantic_input(batch, edges=bool(self.options.use_instance_edges))

    def generator_input(self, batch: dict[str, torch.Tensor], label: torch.Tensor) -> torch.Tensor:
        """G's input: the label input, then the encoder's instance-averaged features of the photo."""
        if self.E is None:
            return label
        features = self.E(batch["image"], segments(batch))
        return torch.cat([label, features.to(label.dtype)], dim=1)

    # ------------------------------------------------------------ training

    def train_step(self, batch: dict[str, torch.Tensor], ctx: StepContext) -> dict[str, torch.Tensor]:
        o = self.options
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = o.lr * self.lr_factor(ctx.progress)
        label, real = self.semantic(batch), batch["image"]
        n = len(real)
        with ctx.autocast():
            fake = self.G(self.generator_input(batch, label))
            # D on the detached fake and the real pair in one pass (instance norm is per image)
            both = self.D(torch.cat([label, label]), torch.cat([fake.detach(), real]))
            d_fake = gan_loss([[f[:n] for f in scale] for scale in both], False, o.gan_mode)
            d_real = gan_loss([[f[n:] for f in scale] for scale in both], True, o.gan_mode)
            loss_d = 0.5 * (d_fake + d_real)
        losses: dict[str, torch.Tensor] = {}
        self.D.requires_grad_(False)
        with ctx.autocast():
            feats_fake = self.D(label, fake)
            losses["GAN"] = gan_loss(feats_fake, True, o.gan_mode, for_generator=True)
            if o.lambda_feat > 0:
                feats_real = [[f[n:].detach() for f in scale] for scale in both]
                losses["GAN_Feat"] = feature_matching_loss(feats_fake, feats_real, o.n_layers_D) * o.lambda_feat
            if o.lambda_vgg > 0:
                losses["VGG"] = self.vgg_loss(real.device)(fake, real) * o.lambda_vgg
            loss_g = sum(v.float() for v in losses.values())
        ctx.optimize(loss_g, self.optimizers["G"])
        self.D.requires_grad_(True)
        ctx.optimize(loss_d.float(), self.optimizers["D"])
        losses["D_fake"], losses["D_real"] = d_fake, d_real
        return {k: v.detach().float() for k, v in losses.items()}

    # ------------------------------------------------------------ generation

    @torch.no_grad()
    def generate(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Images for the label maps (with the encoder: features of the test photo, the official
        ``use_encoded_image``). Instance norm keeps no statistics, so eval mode changes nothing."""
        nets = [m for m in (self.G, self.E) if m is not None]
        modes = [m.training for m in nets]
        for m in nets:
            m.eval()
        try:
            return self.G(self.generator_input(batch, self.semantic(batch))).float()
        finally:
            for m, mode in zip(nets, modes):
                m.train(mode)
