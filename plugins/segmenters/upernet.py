"""UperNet-101, ADE20K's standard mIoU segmenter, in both versions CSAIL published.

CSAILVision/semantic-segmentation-pytorch released two UperNet-101 models for ADE20K, each as two
files (``encoder_epoch_50.pth``, ``decoder_epoch_50.pth``) of the same module tree
(:mod:`.upernet_net`) but trained on differently prepared photos, so each must be read the way its
own evaluation code read photos:

``upernet-101-baseline`` (``baseline-resnet101-upernet``, published before the August 2019 rewrite,
the one a paper of spring 2019 such as SPADE could use): the photo as OpenCV reads it, BGR in
0..255, minus the mean (B, G, R) = (102.9801, 115.9465, 122.7717), deviation 1; ``cv2.resize``
(bilinear, no antialiasing) of the 8-bit photo so that the short side is 450 px (long side at most
1000, rounded up to a multiple of 32: its README's ``--padding_constant 32`` for UperNet), one scale
(``eval.py``'s default ``--imgSize 450``).

``upernet-101`` (``ade20k-resnet101-upernet``, today's ``config/ade20k-resnet101-upernet.yaml``):
the photo as PIL reads it, RGB in [0, 1], ImageNet mean and deviation; PIL's bilinear resize
(antialiased when shrinking) of the 8-bit photo to short sides 300, 375, 450, 525, 600 (long side
at most 1000, rounded up to a multiple of 32).

In both, each scale's scores are resized bilinearly to the label map, soft-maxed and averaged, and
the average is arg-maxed; the 150 outputs are ADE20K classes 1..150, bench's ids 0..149 ("other",
bench's 255, is not counted). ``SEGMENTER.scales`` changes the scales (recorded). The files saved
by that repository's ``train.py`` hold its synchronized BatchNorm's bookkeeping buffers
(``lib/nn/modules/batchnorm.py``: ``_tmp_running_mean``, ``_tmp_running_var``, ``_running_iter``),
which no forward pass reads; they are dropped by name, every other key is loaded strictly.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F

from benchmark import Options, WeightSpec
from bench_plugins.segmenters.published import PublishedSegmenter, hooks, layout_check, read_state_dict
from bench_plugins.segmenters.upernet_net import Decoder, Encoder, UperNet

SITE = "http://sceneparsing.csail.mit.edu/model/pytorch/"
SOURCE = "CSAILVision/semantic-segmentation-pytorch (BSD-3-Clause), model "
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BASELINE_BGR_MEAN = (102.9801, 115.9465, 122.7717)
PUBLISHED_SCALES = (300, 375, 450, 525, 600)
BASELINE_SCALES = (450,)
MAX_SIDE, MULTIPLE = 1000, 32
#: the synchronized BatchNorm's buffers that CSAIL's train.py saves and no forward pass reads
SYNC_BN_BOOKKEEPING = ("_tmp_running_mean", "_tmp_running_var", "_running_iter")


def scaled_size(height: int, width: int, short: int) -> tuple[int, int]:
    """The published test size: short side ``short``, long side at most 1000, rounded up to x32."""
    scale = min(short / min(height, width), MAX_SIDE / max(height, width))
    h, w = int(height * scale), int(width * scale)
    return ((h - 1) // MULTIPLE + 1) * MULTIPLE, ((w - 1) // MULTIPLE + 1) * MULTIPLE


def resized_8bit(images: torch.Tensor, size: tuple[int, int], pil: bool) -> torch.Tensor:
    """(N,3,H,W) photos in [0, 1] resized bilinearly (half-pixel centres) as an 8-bit image is, in
    0..255 rounded half up as both libraries' fixed-point arithmetic does. ``pil``: as PIL's
    ``Image.resize(BILINEAR)``: antialiased when shrinking, the width first, the intermediate image
    rounded to 8 bits; else as ``cv2.resize``: one pass, no antialiasing."""
    def rounded(x):
        return torch.floor(x + 0.5).clamp(0, 255)

    x = images * 255
    if not pil:
        return rounded(F.interpolate(x, size=size, mode="bilinear", align_corners=False))
    if x.shape[-1] != size[1]:
        x = rounded(F.interpolate(x, size=(x.shape[-2], size[1]), mode="bilinear", align_corners=False, antialias=True))
    if x.shape[-2] != size[0]:
        x = rounded(F.interpolate(x, size=(size[0], x.shape[-1]), mode="bilinear", align_corners=False, antialias=True))
    return x


def upernet_specs(prefix: str, model: str) -> tuple[WeightSpec, ...]:
    """The two files (encoder, decoder) of a published UperNet-101 model, checked by structure when
    imported: weights ``PREFIX-encoder`` / ``PREFIX-decoder``, downloaded from ``MODEL/PART_epoch_50.pth``."""
    what = {"encoder": "ResNet-101 encoder", "decoder": "UPerNet decoder (150 classes)"}
    build = {"encoder": Encoder, "decoder": Decoder}
    return tuple(WeightSpec(
        name=f"{prefix}-{part}", filename=f"{model}-{part}_epoch_50.pth", sha256=None,
        url=f"{SITE}{model}/{part}_epoch_50.pth",
        summary=f"UperNet-101's {what[part]} ({model}/{part}_epoch_50.pth): ADE20K's mIoU segmenter",
        source=SOURCE + model, check=layout_check(build[part], f"UperNet-101's {what[part]}", SYNC_BN_BOOKKEEPING))
        for part in ("encoder", "decoder"))


class UperNetOptions(Options):
    scales: list[int] = Field(list(PUBLISHED_SCALES), min_length=1, description="short sides the images are "
                              "read at; the softmax is averaged over them (published: 300,375,450,525,600)")


class BaselineOptions(Options):
    scales: list[int] = Field(list(BASELINE_SCALES), min_length=1, description="short sides the images are "
                              "read at; the softmax is averaged over them (published: 450)")


class UperNet101(PublishedSegmenter):
    name = "upernet-101"
    summary = "UperNet-101: ADE20K's standard mIoU segmenter (150 classes), ade20k-resnet101-upernet epoch 50"
    Options = UperNetOptions
    dataset = "ade20k"
    num_classes = 150
    bookkeeping = SYNC_BN_BOOKKEEPING
    specs = upernet_specs("upernet101-ade20k", "ade20k-resnet101-upernet")
    preprocessing = ("ade20k-resnet101-upernet (config/ade20k-resnet101-upernet.yaml): RGB in [0,1], ImageNet "
                     "mean/std; PIL bilinear resize of the 8-bit photo (antialiased) to each short side (long side "
                     "<= 1000, rounded up to x32); softmax resized bilinearly to the labels and averaged over scales")

    def build(self) -> nn.Module:
        return UperNet()

    def state_from(self, paths):
        encoder, decoder = (read_state_dict(p) for p in paths)
        return {**{f"encoder.{k}": v for k, v in encoder.items()}, **{f"decoder.{k}": v for k, v in decoder.items()}}

    def prepare(self, images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """The network's input at ``size`` from (N,3,H,W) RGB photos in [0, 1]."""
        mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=images.device).view(1, 3, 1, 1)
        return (resized_8bit(images, size, pil=True) / 255 - mean) / std

    def forward(self, net, images, options):
        size = images.shape[-2:]
        total = 0
        for short in options.scales:
            x = self.prepare(images, scaled_size(*size, short))
            scores = F.interpolate(net(x), size=size, mode="bilinear", align_corners=False)
            total = total + scores.softmax(1) / len(options.scales)
        return total

    def describe_options(self, options):
        return "short side " + ", ".join(str(s) for s in options.scales) + " px (softmax averaged)"


class UperNet101Baseline(UperNet101):
    name = "upernet-101-baseline"
    summary = ("UperNet-101 as published before August 2019 (baseline-resnet101-upernet epoch 50): ADE20K's "
               "mIoU segmenter of SPADE's time (150 classes)")
    Options = BaselineOptions
    specs = upernet_specs("upernet101-baseline", "baseline-resnet101-upernet")
    preprocessing = ("baseline-resnet101-upernet (eval.py before August 2019): BGR in 0..255 minus the mean "
                     "(102.9801, 115.9465, 122.7717), std 1; cv2.resize (bilinear, no antialiasing) of the 8-bit "
                     "photo to the short side (long side <= 1000, rounded up to x32); softmax resized bilinearly "
                     "to the labels and averaged over scales")

    def prepare(self, images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        mean = torch.tensor(BASELINE_BGR_MEAN, device=images.device).view(1, 3, 1, 1)
        return resized_8bit(images[:, [2, 1, 0]], size, pil=False) - mean


register_segmenters, register_weights = hooks(UperNet101(), UperNet101Baseline())
