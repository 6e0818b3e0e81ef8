"""pix2pixHD: a coarse-to-fine generator (global generator, local enhancers), multi-scale PatchGANs, LSGAN + FM + VGG.

Source: "High-Resolution Image Synthesis and Semantic Manipulation with Conditional GANs"
(pix2pixHD, CVPR 2018) and its official code, whose defaults are the preset ``official``
(``train.py --name label2city_512p``, Cityscapes at 1024x512): the global generator (ngf
64, 4 downsamplings, 9 residual blocks, instance norm, reflection padding), two PatchGANs
of 3 layers (ndf 64, instance norm) on the pair at full and half size, LSGAN, feature
matching 10, VGG19 10, Adam lr 2e-4 betas (0.5, 0.999), 100 epochs + 100 of linear decay,
batch 1, N(0, 0.02) init, horizontal flip; the label input is the one-hot map and the
instance-edge map where the dataset has instance maps. Presets: ``local`` (the paper's
2048x1024 Cityscapes: one local enhancer, ngf 32, 3 D scales), ``ade20k`` (as SPADE's
Table 1 trained it: no instance map), ``feat`` (the instance-wise feature encoder),
``hinge``.

Differences from the official code forced by the benchmark: the paper's 2048x1024 model
trains its local enhancer on top of a trained 1024x512 global generator (``load_pretrain``,
``niter_fix_global``), here both train together from the start; with the feature encoder,
generation encodes the test photo's instance features (the official ``use_encoded_image``)
instead of sampling k-means cluster centres of the training features; the lr decay is
applied per step from the harness's progress. The official generator checkpoint is read by
:mod:`.official` (``bench run --checkpoint FILE``, zoo row ``pix2pixhd@cityscapes-official``).
Profiles: ``smoke`` (seconds), ``quick`` (64 px, narrow, minutes on 2 CPU cores), ``paper``
(512 px high, official widths, 200 epochs at batch 1). More in docs/pix2pixhd.md.
"""

from __future__ import annotations

from typing import Any, ClassVar

from bench_plugins.models.profile_length import profile_length
from bench_plugins.models import vgg19
from bench_plugins.models.spade.options import effective

from benchmark import ConfigError, DataFacts, ForeignCheckpoint, Model, Options, Preset, Size, Trainable, \
    TrainLength, TrainTransform, hookimpl

from . import official
from .inputs import label_channels
from .options import Pix2PixHDOptions
from .trainable import Pix2PixHDTrainable

#: scripts/train_1024p_24G.sh: netG local, ngf 32, num_D 3 (at 2048x1024)
LOCAL = {"n_local_enhancers": 1, "ngf": 32, "num_D": 3}


class Pix2PixHD(Model):
    """pix2pixHD with the official code's defaults (global generator, 1024x512); ``local`` is its 2048x1024 setting.

    Rows: ``pix2pixhd`` (official: global generator), ``pix2pixhd+local`` (one local enhancer,
    ngf 32, 3 D scales), ``pix2pixhd+ade20k`` (no instance map), ``pix2pixhd+feat`` (the
    instance-wise feature encoder), ``pix2pixhd+hinge``. The VGG loss needs torchvision's
    vgg19-dcbb9e9d.pth (`bench weights import vgg19-imagenet FILE`); ``--set
    pix2pixhd.lambda_vgg=0`` trains without it. Reads the official code's generator
    (``latest_net_G.pth``, netG global or local) with ``--checkpoint FILE``; the released
    label2city_1024p one is the zoo row ``pix2pixhd@cityscapes-official`` (``bench zoo list``).
    More in docs/pix2pixhd.md.
    """

    name = "pix2pixhd"
    summary = "pix2pixHD: global generator + local enhancers, multi-scale PatchGAN, LSGAN + FM + VGG losses"
    input_kind = "label-map"
    non_square = True
    Options = Pix2PixHDOptions
    default_preset = "official"
    presets: ClassVar[dict[str, Preset]] = {
        "official": Preset("pix2pixHD paper / official code defaults: global generator (Cityscapes 1024x512)"),
        "local": Preset("the paper's 2048x1024 Cityscapes model: one local enhancer (ngf 32, global at 64), 3 D "
                        "scales (scripts/train_1024p_24G.sh); run it at image_size 1024", LOCAL),
        "ade20k": Preset("as SPADE's Table 1 trained pix2pixHD on ADE20K: official options, no instance map "
                         "(--no_instance)", {"use_instance_edges": False}),
        "feat": Preset("official instance_feat: the instance-wise feature encoder (feat_num 3, nef 16)",
                       {"instance_feat": True}),
        "hinge": Preset("hinge GAN loss instead of LSGAN (not in the official code)", {"gan_mode": "hinge"}),
    }
    profiles: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {
        "smoke": {"run": {"image_size": 32, "steps": 20, "batch_size": 2},
                  "options": {"ngf": 8, "ndf": 8, "n_downsample_global": 2, "n_blocks_global": 2, "n_blocks_local": 1,
                              "n_layers_D": 2, "nef": 4, "n_downsample_E": 2, "vgg_if_missing": "skip"}},
        "quick": {"run": {"image_size": 64, "steps": 1000, "batch_size": 4},
                  "options": {"ngf": 16, "ndf": 16, "n_downsample_global": 3, "n_blocks_global": 4,
                              "n_blocks_local": 2, "nef": 8, "n_downsample_E": 3}},
        "paper": {"run": {"image_size": 512, "epochs": 200, "batch_size": 1}, "options": {}},
    }

    def train_length(self, options: Options, profile: str) -> TrainLength:
        return profile_length(self.profiles, profile, options.batch_size)

    def for_dataset(self, options: Options, data: DataFacts) -> Options:
        """Instance edges where the dataset has instance maps, unless the options (or a loaded file) say."""
        edges = options.use_instance_edges
        if options.label_channels is not None and edges is None:
            edges = options.label_channels - data.num_classes == 1
        if edges and not data.instance_maps:
            why = (f"the checkpoint's generator reads {options.label_channels} label channels, {data.name}'s "
                   f"{data.num_classes} classes and the instance-edge channel, but" if options.use_instance_edges
                   is None else f"{self.name}.use_instance_edges=true:")
            raise ConfigError(f"{self.name}: {why} dataset {data.name} has no instance maps; set "
                              f"{self.name}.use_instance_edges=false or import {data.name} with its instance maps")
        if edges is None:
            edges = data.instance_maps
        return options.model_copy(update={"use_instance_edges": edges})

    def train_transform(self, options: Options, image_size: int | Size) -> TrainTransform:
        return TrainTransform(load_size=None, hflip=True)

    def check(self, options: Options, image_size: int | Size, num_classes: int) -> None:
        size = Size.of(image_size)
        shown = f"image_size {size.height}" if size.square else f"size {size.text()}"
        depth = options.n_downsample_global + options.n_local_enhancers
        step = 2 ** depth
        if size.height % step or size.width % step or min(size.height, size.width) // step < 2:
            raise ConfigError(f"{self.name}: {shown} must be a multiple of 2**(n_downsample_global + "
                              f"n_local_enhancers) = {step} on both sides and at least {2 * step} (the residual "
                              f"blocks' reflection padding needs a 2x2 map); use a multiple of {step} or set "
                              f"{self.name}.n_downsample_global lower")
        if options.instance_feat and min(size.height, size.width) // 2 ** options.n_downsample_E < 2:
            raise ConfigError(f"{self.name}: the feature encoder's {options.n_downsample_E} downsamplings leave less "
                              f"than 2x2 of {shown}; set {self.name}.n_downsample_E lower")
        if options.instance_feat and size.height % 2 ** options.n_downsample_E + size.width % 2 ** options.n_downsample_E:
            raise ConfigError(f"{self.name}: {shown} must be a multiple of 2**n_downsample_E = "
                              f"{2 ** options.n_downsample_E} for the feature encoder; set "
                              f"{self.name}.n_downsample_E lower")
        if options.label_channels is not None:
            own = label_channels(num_classes, edges=bool(options.use_instance_edges))
            if own != options.label_channels:
                parts = f"{num_classes} classes" + (" + instance edges" if options.use_instance_edges else "")
                raise ConfigError(f"{self.name}: the checkpoint's generator reads {options.label_channels} label "
                                  f"channels, but this dataset gives {own} ({parts}); it was trained on another "
                                  f"dataset (or set {self.name}.use_instance_edges)")

    def check_training(self, options: Options) -> None:
        # stops the run before any training when the VGG19 file is missing (offline) or broken
        vgg19.check_for_loss(self.name, effective(options).lambda_vgg, options.vgg_weights)

    def build(self, options: Options, num_classes: int, image_size: int | Size) -> Trainable:
        return Pix2PixHDTrainable(options, num_classes, image_size)

    def recognise_checkpoint(self, state: dict) -> ForeignCheckpoint | None:
        """The official code's generator (``latest_net_G.pth``), see :mod:`.official`."""
        return official.recognise(state)

    def describe(self, options: Options) -> str:
        notes = []
        if options.use_instance_edges:
            notes.append("instance edges")
        if options.n_local_enhancers:
            notes.append(f"{options.n_local_enhancers} local enhancer{'s' * (options.n_local_enhancers > 1)}")
        if options.instance_feat:
            notes.append("instance features of the test photo")
        if effective(options).lambda_vgg == 0 and options.label_channels is None:
            notes.append("no VGG loss")
        if options.gan_mode != "lsgan":
            notes.append(f"{options.gan_mode} GAN loss")
        return "; ".join(notes)


@hookimpl
def register_models(register):
    register(Pix2PixHD())


@hookimpl
def register_weights(register):
    register(vgg19.SPEC)
