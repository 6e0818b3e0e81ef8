"""label-cgan: a sketch + class-label conditioned GAN (U-Net generator, PatchGAN, BCE + L1).

Source: report 002 ("Conditional Generative Adversarial Network (cGAN) for Image
Synthesis with Class Labels"), the only reference for this model. Preset
``official`` is its setting: the generator reads a grayscale sketch and a class
label, a U-Net with skip connections, transposed convolutions up and a tanh
output; the discriminator is a PatchGAN over image + sketch + label with a
sigmoid output trained with binary cross entropy; the generator loss is BCE + L1;
Adam lr 1e-4, beta1 0.5; the generator is updated twice per discriminator update;
128x128 images; 500 epochs (the report shows results up to its 500th epoch).

What the report leaves open, and this plugin's choices:

- The sketch. The report trains on (photo, sketch) pairs without saying how the
  sketches were made. Here a sketch is computed from the real photo by XDoG
  (extended difference of Gaussians; formula and parameters in
  :mod:`bench_plugins.models.label_cgan.sketch`), in torch, batched, deterministic.
  ``sketch='label-edges'`` uses the label map's region boundaries instead.
- The label. The benchmark's datasets have image-level multi-hot labels
  (``batch['classes']``: the dataset's own, else the classes present in the
  label map); each class becomes a constant input channel of G and D
  (broadcast, no embedding; see :mod:`bench_plugins.models.label_cgan.networks`).
- The L1 weight, which the report does not give: ``lambda_l1 = 100``, the
  value of the pix2pix paper, whose design (U-Net + PatchGAN + cGAN loss + L1)
  the report follows and cites through its references; with images in [-1, 1]
  it makes the L1 term dominate early training, so that the adversarial term
  sharpens a layout that L1 has already fitted.
- Widths (ngf = ndf = 64), depth (down to 1x1), BatchNorm, a 3-layer (70x70)
  PatchGAN, N(0, 0.02) init, Adam beta2 0.999, batch size 16 in the ``paper``
  profile, no augmentation (the report only resizes). Generation runs G in eval
  mode (BatchNorm running statistics).

Comparability. By default the sketch is drawn from the real photo, at test time
too: that is the report's task (sketch -> photo), but the XDoG sketch carries
the target photo's own edges, textures and dark regions, far more about the
target than a label map does. Its PSNR / SSIM are therefore not comparable on
equal terms with label-map models (pix2pix, SPADE). Row ``label-cgan+edges``
(``sketch='label-edges'``) reads only the label map's region boundaries and the
image-level classes, strictly less than a label map: that is the fair
comparison. The leaderboard's Input column says which input a row used.
"""

from __future__ import annotations

from typing import Any, ClassVar

from benchmark import Model, Options, Preset, Size, Trainable, TrainLength, TrainTransform, hookimpl
from bench_plugins.models.profile_length import profile_length
from bench_plugins.models.unet import check_unet_size

from .options import LabelCGANOptions
from .trainable import LabelCGANTrainable


class LabelCGAN(Model):
    """Sketch + image-level class label -> photo, with the class-label cGAN report's settings as ``official``.

    Rows: ``label-cgan`` reads an XDoG sketch drawn from the real photo, at test
    time too (the source's sketch -> photo task). That sketch carries the target
    photo's own edges and textures, far more than a label map does, so its PSNR /
    SSIM are NOT comparable on equal terms with label-map models.
    ``label-cgan+edges`` reads the label map's region boundaries instead (less
    than a label map: no class per region): the fair comparison, a benchmark
    variant not in the source. Both read the image-level classes as constant
    input channels. Source settings: U-Net G, PatchGAN D with sigmoid + BCE,
    L1 term, Adam 1e-4 / beta1 0.5, G updated twice per D update, 128 px, 500
    epochs. Plugin choices (the source gives none): L1 weight 100 (pix2pix's),
    XDoG parameters (see plugins/models/label_cgan/sketch.py), widths 64,
    BatchNorm, 70x70 PatchGAN, batch size 16 in the paper profile.
    """

    name = "label-cgan"
    summary = ("sketch + class label -> photo: U-Net G, PatchGAN D, BCE + L1, G updated twice per D "
               "(the class-label cGAN report)")
    input_kind = "sketch+classes"
    non_square = True
    Options = LabelCGANOptions
    default_preset = "official"
    presets: ClassVar[dict[str, Preset]] = {
        "official": Preset("the class-label cGAN report's settings; XDoG sketch of the real photo"),
        "edges": Preset("label-map region boundaries as the sketch: same information class as label-map "
                        "models (benchmark variant)", {"sketch": "label-edges"}),
    }
    profiles: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {
        "smoke": {"run": {"image_size": 32, "steps": 20, "batch_size": 4}, "options": {"ngf": 8, "ndf": 8}},
        "quick": {"run": {"image_size": 64, "steps": 600, "batch_size": 8}, "options": {"ngf": 16, "ndf": 16}},
        "paper": {"run": {"image_size": 128, "epochs": 500, "batch_size": 16}, "options": {}},
    }

    def train_length(self, options: Options, profile: str) -> TrainLength:
        return profile_length(self.profiles, profile)

    def train_transform(self, options: Options, image_size: int | Size) -> TrainTransform:
        return TrainTransform(load_size=None, hflip=options.hflip)

    def check(self, options: Options, image_size: int | Size, num_classes: int) -> None:
        check_unet_size(self.name, image_size, options.n_layers_d)

    def build(self, options: Options, num_classes: int, image_size: int | Size) -> Trainable:
        return LabelCGANTrainable(options, num_classes, image_size)

    def input_of(self, options: Options) -> str:
        return "label edges + classes" if options.sketch == "label-edges" else "sketch (XDoG) + classes"

    def describe(self, options: Options) -> str:
        notes = []
        if options.g_steps_per_d != 2:
            notes.append(f"G x{options.g_steps_per_d} per D step")
        if options.lambda_l1 != 100:
            notes.append(f"L1 weight {options.lambda_l1:g}")
        return "; ".join(notes)


@hookimpl
def register_models(register):
    register(LabelCGAN())
