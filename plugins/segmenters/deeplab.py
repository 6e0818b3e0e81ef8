"""`deeplabv3-voc`: torchvision's DeepLabV3-ResNet50 with its PASCAL VOC label weights, for mIoU on VOC.

The Gaussian GAN report measures segmentation consistency on PASCAL VOC 2012 with a
pretrained DeepLabV3-ResNet50. The weights are torchvision's
``DeepLabV3_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1``: trained on a COCO subset
restricted to the 20 VOC categories plus background, so its 21 outputs are the
VOC class ids in the devkit's order (0 background ... 20 tvmonitor), the ids of
the ``voc2012`` dataset. (They were not trained on VOC's own images: torchvision
reports 66.4 mIoU / 92.4 pixel accuracy on its COCO validation subset.)

The file ``deeplabv3_resnet50_coco-cd0a2569.pth`` is resolved through
:mod:`benchmark.registry.weights` (``bench weights import deeplabv3-resnet50-coco-voc FILE``
when offline); as torch.hub does for it, its sha256 must begin with the eight
hex digits in its name. Preprocessing follows torchvision's preset for these
weights: images resized (bilinear) to ``input_size`` (520, the preset's
resize), normalised with the ImageNet mean and deviation; the main head's logits
are resized bilinearly to the label maps and arg-maxed (the auxiliary head is
loaded but not used).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
from bench_plugins.datasets.voc_classes import CLASS_NAMES as VOC_CLASSES
from pydantic import Field

from benchmark import BenchError, EvalContext, Options, Segmenter, SegmenterModel, WeightsError, WeightSpec, hookimpl
from benchmark import archive
from benchmark import weights

FILENAME = "deeplabv3_resnet50_coco-cd0a2569.pth"
#: torch.hub's convention: the file name carries the first hex digits of its sha256
HASH_PREFIX = "cd0a2569"


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class DeepLabOptions(Options):
    input_size: int = Field(520, ge=32, description="side the network reads (torchvision's preset resizes to 520)")


@lru_cache(maxsize=4)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    return archive.sha256_file(Path(path))


def file_sha256(path: Path) -> str:
    stat = path.stat()
    return _sha256(str(path), stat.st_size, stat.st_mtime_ns)


def build_network() -> torch.nn.Module:
    from torchvision.models.segmentation import deeplabv3_resnet50

    return deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=len(VOC_CLASSES), aux_loss=True)


def check_state_dict(state: dict) -> str | None:
    """None when ``state`` has the keys and shapes of :func:`build_network`'s state dict, else why not."""
    expected = build_network().state_dict()
    missing = [k for k in expected if k not in state]
    if missing:
        return f"lacks {len(missing)} of DeepLabV3-ResNet50's {len(expected)} tensors (first: {missing[0]})"
    for key, tensor in expected.items():
        got = tuple(getattr(state[key], "shape", ()))
        if got != tuple(tensor.shape):
            return f"has {key} of shape {got}, expected {tuple(tensor.shape)} (21 VOC classes)"
    return None


SPEC = WeightSpec(
    name="deeplabv3-resnet50-coco-voc",
    filename=FILENAME,
    sha256=None,  # not published; the name carries its first 8 hex digits (checked), the rest is recorded
    url=f"https://download.pytorch.org/models/{FILENAME}",
    summary="DeepLabV3-ResNet50, 21 PASCAL VOC classes (torchvision COCO_WITH_VOC_LABELS_V1): mIoU on voc2012",
    source="torchvision's DeepLabV3_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1 (BSD-3-Clause code; trained on the "
           "COCO train2017 images of the 20 VOC categories); sha256 starts with cd0a2569",
    hash_prefix=HASH_PREFIX,
    check=check_state_dict,
)


class DeepLabModel(SegmenterModel):
    def __init__(self, net: torch.nn.Module, device: torch.device, input_size: int, protocol: dict):
        self.net = net.to(device).eval()
        self.device = device
        self.input_size = input_size
        self.protocol = protocol
        self.mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        size = images.shape[-2:]
        x = torch.nn.functional.interpolate(images.to(self.device).float(), size=(self.input_size,) * 2,
                                            mode="bilinear", align_corners=False, antialias=True)
        logits = self.net((x - self.mean) / self.std)["out"]
        logits = torch.nn.functional.interpolate(logits, size=size, mode="bilinear", align_corners=False)
        return logits.argmax(1)


class DeepLabV3VOC(Segmenter):
    name = "deeplabv3-voc"
    summary = ("torchvision DeepLabV3-ResNet50 with its 21 VOC-label weights (the Gaussian GAN report's segmenter "
               "for VOC)")
    Options = DeepLabOptions

    def load(self, ctx: EvalContext, options: DeepLabOptions) -> DeepLabModel:
        if list(ctx.class_names) != VOC_CLASSES:
            raise BenchError(f"segmenter {self.name!r} predicts the 21 PASCAL VOC classes, but this dataset has "
                             f"{len(ctx.class_names)} other classes; use --set eval.segmenter=trained")
        path = weights.resolve(SPEC)
        sha = file_sha256(path)
        if HASH_PREFIX and not sha.startswith(HASH_PREFIX):
            raise WeightsError(f"weights {SPEC.name!r}: {path} has sha256 {sha}, which does not start with "
                               f"{HASH_PREFIX} as its name says; delete it and import a good copy "
                               f"(`{weights.import_command(SPEC)}`)")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            net = build_network()
            net.load_state_dict(state)
        except Exception as exc:
            raise WeightsError(f"weights {SPEC.name!r}: {path} is not a DeepLabV3-ResNet50 state dict with 21 "
                               f"classes ({type(exc).__name__}: {str(exc)[:200]}); import the right file") from None
        protocol = {"segmenter": f"{self.name}: torchvision DeepLabV3-ResNet50, {FILENAME} (sha256 {sha})",
                    "segmenter_input": f"{options.input_size} px"}
        return DeepLabModel(net, ctx.device, options.input_size, protocol)


@hookimpl
def register_segmenters(register):
    register(DeepLabV3VOC())


@hookimpl
def register_weights(register):
    register(SPEC)
