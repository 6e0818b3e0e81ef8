"""face-spade: SPADE in VAE mode with noise injection and optional style mixing (the face synthesis report).

The face synthesis report ("Spatially-Adaptive Normalization for Human Face Synthesis", on
CelebAMask-HQ) trains the SPADE generator with its image encoder (VAE mode), adds per-layer noise inputs and proposes
the mixing regularisation of "A Style-Based Generator Architecture for Generative
Adversarial Networks", and sweeps the learning rates of G and D. This plugin reuses
SPADE's modules (:mod:`bench_plugins.models.spade`) and only switches on:

- ``use_vae``: z from the encoder in training, from N(0, I) at generation, seeded per
  test image;
- ``noise``: after each block conv, per-pixel Gaussian noise times a learned
  per-channel weight initialised to zero;
- ``style_mixing`` (option, probability per batch, default off): each block also
  reads z through its own linear layer (a per-channel scale and shift, zero at init);
  with probability p a batch uses the encoder's z before a random block and a second
  z ~ N(0, I) from that block on. The source gives no probability; StyleGAN's is 0.9.

Presets are the source's learning-rate sweep, (G, D): ``official`` (1e-4, 4e-4, the
paper's), ``lr-4e-4`` (4e-4, 6e-4), ``lr-8e-4`` (8e-4, 8e-4), ``lr-1e-3`` (1e-3,
1.2e-3). Everything else (losses, widths, profiles) is SPADE's official setting.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from bench_plugins.models import vgg19

from benchmark import Preset, hookimpl

from . import Spade
from .options import SpadeOptions


class FaceSpadeOptions(SpadeOptions):
    """SPADE's options with VAE mode and noise injection on."""

    use_vae: bool = Field(True, description="VAE mode (the face synthesis report trains with the image encoder)")
    noise: bool = Field(True, description="noise injection after each block conv, learned per-channel weight "
                                          "initialised to zero")


class FaceSpade(Spade):
    """SPADE + VAE encoder + per-layer noise (+ optional style mixing); the face synthesis report's lr sweep
    as presets."""

    name = "face-spade"
    summary = "SPADE with VAE encoder, noise injection and optional style mixing (the face synthesis report)"
    Options = FaceSpadeOptions
    default_preset = "official"
    presets: ClassVar[dict[str, Preset]] = {
        "official": Preset("G lr 1e-4, D lr 4e-4 (the SPADE paper's, the face synthesis report's first run)"),
        "lr-4e-4": Preset("G lr 4e-4, D lr 6e-4 (the face synthesis report's sweep)", {"lr_G": 4e-4, "lr_D": 6e-4}),
        "lr-8e-4": Preset("G lr 8e-4, D lr 8e-4 (the face synthesis report's sweep)", {"lr_G": 8e-4, "lr_D": 8e-4}),
        "lr-1e-3": Preset("G lr 1e-3, D lr 1.2e-3 (the face synthesis report's sweep)", {"lr_G": 1e-3, "lr_D": 1.2e-3}),
    }


@hookimpl
def register_models(register):
    register(FaceSpade())


@hookimpl
def register_weights(register):
    register(vgg19.SPEC)  # its VGG loss, as spade's
