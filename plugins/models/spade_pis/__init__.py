"""spade-pis: SPADE's output restyled by a style photo with PhotoWCT and photorealistic smoothing.

Sources:

- The photorealistic stylization report ("Semantic Image Synthesis with Photorealistic Image Stylization")
  gives the pipeline: SPADE turns the label map into a content photo, then photorealistic
  image stylization (PIS) transfers a style photo onto it, so that one label map yields
  many styles. It reports no numbers and no settings of its own beyond the two methods'
  pretrained defaults.
- "A Closed-form Solution to Photorealistic Image Stylization" and its official code give
  PIS (preset ``official``): PhotoWCT (VGG19 encoders to relu1_1..relu4_1 keeping their
  max-pooling switches, mirrored decoders that unpool, whitening and colouring by
  eigen-decomposition, coarse to fine, per class region when both label maps are known),
  then the closed-form smoothing with the matting affinity of the content photo, lambda
  1e-4. Preset ``fast`` uses the guided filter of the official code's fast mode (radius
  35, eps 1e-3) instead.

Choices of this plugin, forced by the benchmark or left open by the sources:

- SPADE is the ``spade`` model embedded with its own options (``--set spade.KEY=VALUE``)
  and trained in the same run with the same budget as a ``spade`` row, or taken from an
  earlier run (``spade_run``).
- The style photos are, by default, other real photos of the test split with their label
  maps, ``num_styles`` per test image chosen by ``style_seed``; ``style_dir`` gives a
  folder of photos instead (transferred whole: they have no label maps).
- Label-aware WCT skips a class missing from either image, smaller than ``min_region``
  (10) feature pixels in either, or more than ``max_region_ratio`` (100) times larger in
  one image than in the other; skipped pixels keep the content's features.
- The decoders are trained by bench on the dataset's training photos (pixel + feature
  reconstruction, Adam) instead of MS-COCO, once per training set, encoder weights and
  settings, and cached under ``OUTPUT_ROOT/cache/spade-pis``.

Numbers added to the row (see ``measures.py``): ``STYLE`` (colour 2-Wasserstein distance to
the style photo, lower is better), ``STYLE_SPADE`` (the same for SPADE's own output),
``DIVERSITY`` over the stylizations of one label map, and the time per image of each stage.
Cost per stylization at 256 px on one CPU core (measured while other jobs shared the machine):
PhotoWCT with the full VGG19 widths about 3.3 s, exact smoothing about 9.5 s (SciPy, always on
the CPU), the guided filter about 0.23 s; at 64 px 0.4 s, 0.16 s and 0.02 s.

The written images (``fake/``) are the first stylizations, so the ``miou`` metric measures
the semantics that survive stylization; SPADE's own mIoU is the ``spade`` row of the same
command (``--models spade,spade-pis``: same seed and options, hence the same SPADE on a
deterministic device).
"""

from __future__ import annotations

from typing import Any, ClassVar

from bench_plugins.models import vgg19
from bench_plugins.models.spade import Spade

from benchmark import (ConfigError, DataFacts, Model, Options, Preset, Size, Trainable, TrainLength, TrainTransform,
                       hookimpl)

from .options import SpadePisOptions
from .styles import read_style_dir
from .trainable import SpadePisTrainable

SPADE = Spade()

#: this plugin's own options per profile; SPADE's come from the spade model's profiles
OWN_PROFILES: dict[str, dict[str, Any]] = {
    # smoke: the feature term is scaled down because the tests' narrow random VGG19 has features on
    # another scale than ImageNet's; with it at 1 the decoders barely learn the pixels in 150 steps
    "smoke": {"decoder_steps": 150, "decoder_lr": 3e-3, "decoder_feature_weight": 0.1, "num_styles": 2,
              "guided_radius": 4},
    "quick": {"decoder_steps": 300, "decoder_lr": 1e-3, "guided_radius": 8},
    "paper": {},
}


class SpadePis(Model):
    """SPADE + PhotoWCT + smoothing: ``official`` smooths in closed form, ``fast`` with a guided filter.

    SPADE is embedded (``--set spade.KEY=VALUE``) and trained in the run, or loaded with
    ``spade_run``. Style photos: other test photos chosen per image by ``style_seed``, or
    ``style_dir``. Added columns: STYLE (colour 2-Wasserstein distance of output and style
    photo, lower is better), STYLE_SPADE (the same for SPADE's own photo), DIVERSITY over the
    ``num_styles`` stylizations of a label map, T_SPADE_MS / T_PWCT_MS / T_SMOOTH_MS per image.
    mIoU of this row measures the stylized images; SPADE's own is the ``spade`` row of the
    same command (same seed and options: the same SPADE). ``save_dir`` keeps every stylization.
    """

    name = "spade-pis"
    summary = ("SPADE output stylized by a style photo: PhotoWCT + photorealistic smoothing (the photorealistic "
               "stylization report)")
    input_kind = "label-map + style photo"
    non_square = True
    Options = SpadePisOptions
    default_preset = "official"
    presets: ClassVar[dict[str, Preset]] = {
        "official": Preset("PhotoWCT + closed-form smoothing (paper and official code)"),
        "fast": Preset("PhotoWCT + guided-filter smoothing (the official code's fast mode)", {"smoothing": "fast"}),
    }
    profiles: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {
        profile: {"run": {"image_size": SPADE.profiles[profile]["run"]["image_size"]}, "options": own}
        for profile, own in OWN_PROFILES.items()
    }
    embeds: ClassVar[dict[str, str]] = {"spade": "spade"}

    def train_length(self, options: Options, profile: str) -> TrainLength:
        if options.spade_run:
            return TrainLength(steps=1, batch_size=1)  # nothing to train but the decoders
        return SPADE.train_length(options.spade, profile)

    def for_dataset(self, options: Options, data: DataFacts) -> Options:
        return options.model_copy(update={"spade": SPADE.for_dataset(options.spade, data)})

    def train_transform(self, options: Options, image_size: int | Size) -> TrainTransform:
        return SPADE.train_transform(options.spade, image_size)

    def check(self, options: Options, image_size: int | Size, num_classes: int) -> None:
        if min(Size.of(image_size)) < 8:
            raise ConfigError(f"{self.name}: both sides must be at least 8 px (three 2x2 poolings), got "
                              f"{Size.of(image_size).text()}")
        if not options.spade_run:
            SPADE.check(options.spade, image_size, num_classes)
            SPADE.check_training(options.spade)
        if options.style_dir:
            read_style_dir(options.style_dir, 8)
        # stops the run before any training when the VGG19 file is missing (offline) or broken
        vgg19.resolve_file(options.vgg_weights or None)

    def build(self, options: Options, num_classes: int, image_size: int | Size) -> Trainable:
        return SpadePisTrainable(options, num_classes, image_size, SPADE)

    def describe(self, options: Options) -> str:
        notes = [f"{options.smoothing} smoothing", f"{options.num_styles} styles"]
        if options.spade_run:
            notes.append(f"SPADE from {options.spade_run}")
        else:
            spade_note = SPADE.describe(options.spade)
            if spade_note:
                notes.append(f"SPADE: {spade_note}")
        if options.style_dir:
            notes.append(f"styles from {options.style_dir}")
        elif not options.label_aware:
            notes.append("whole-image WCT")
        return "; ".join(notes)


@hookimpl
def register_models(register):
    register(SpadePis())


@hookimpl
def register_weights(register):
    register(vgg19.SPEC)
