"""The published checkpoints of the built-in model families (the model zoo, ``bench zoo list``).

- SPADE: the generators the official code releases for COCO-Stuff, ADE20K and
  Cityscapes, all three in one archive (``checkpoints.tar.gz`` on Google Drive, CC
  BY-NC-SA 4.0); the numbers are Table 1 of "Semantic Image Synthesis with
  Spatially-Adaptive Normalization" (CVPR 2019): mIoU, pixel accuracy and FID.
- pix2pix: ``facades_label2photo.pth`` of the official PyTorch code of
  "Image-to-Image Translation with Conditional Adversarial Networks" (CVPR 2017), a
  ``unet_256`` generator whose input is the colour label image; the paper reports no
  FID, mIoU or pixel accuracy for CMP Facades.
- OASIS: the EMA generators the official code releases for ADE20K, Cityscapes and COCO-Stuff
  (AGPL-3.0), with Table 1 of its ICLR 2021 paper: see ``bench_plugins.models.oasis.zoo``.
- pix2pixHD: the released Cityscapes generator (``label2city_1024p``, BSD) with the pix2pixHD row of
  SPADE's Table 1: see ``bench_plugins.models.pix2pixhd.zoo``.

No sha256 is published for these files: each is checked by its tensors when it is
imported (``bench weights import``) and its sha256 recorded then. A SPADE entry's
``model_options`` give what the generator's tensors cannot tell (5 or 6 upsamplings, which
extra label channels), so ``bench run --models spade@ade20k-official`` evaluates the file;
pix2pix's give the official test setting (colour label input, test.py without ``--eval``).
Each entry's ``quantization`` is how its official test script writes the images (both truncate
``(x + 1) / 2.0 * 255.0`` to uint8, ``util/util.py``'s ``tensor2im``), and its row's images are
written the same way (trained rows keep bench's rounding). Each entry's ``eval_size`` is the official test size (SPADE: ``crop_size`` wide,
``crop_size / aspect_ratio`` high: 256x256, Cityscapes 512x256; pix2pix: 256x256), at which its
row is evaluated unless ``image_size`` or ``aspect_ratio`` is set.

Each SPADE entry names the segmenter of the paper's mIoU (NVlabs/SPADE issue 39): ADE20K's is
``upernet-101-baseline``, the UperNet-101 CSAIL published before August 2019 (the paper is of March
2019; today's ``ade20k-resnet101-upernet`` came with the rewrite of August 2019), so the ADE20K row
uses it unless ``eval.segmenter`` is set. Its ``measurements`` are the protocols `bench zoo
reproduce` measures it under: the paper's (FID by pytorch-fid as it was in spring 2019, issue 14)
and the community's re-measurements, each with the settings it used as far as its thread says
(docs/reproducing.md).
"""

from __future__ import annotations

from benchmark import BenchError, Measurement, WeightSpec, ZooEntry, hookimpl

from bench_plugins.models.oasis.zoo import ENTRIES as OASIS_ENTRIES
from bench_plugins.models.pix2pixhd.zoo import ENTRIES as PIX2PIXHD_ENTRIES

SPADE_ARCHIVE = "https://drive.google.com/file/d/12gvlTbMvUcJewQlSEaZdeb2CdOB-b8kQ/view"
SPADE_PAPER = "Semantic Image Synthesis with Spatially-Adaptive Normalization (CVPR 2019), Table 1"
SPADE_LICENCE = "CC BY-NC-SA 4.0 (non-commercial)"
PIX2PIX_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch/facades_label2photo.pth"
PIX2PIX_PAPER = "Image-to-Image Translation with Conditional Adversarial Networks (CVPR 2017)"


def spade_check(channels: int):
    """A SPADE generator state dict: its first layer reads ``channels`` label channels."""
    def check(state: dict) -> str | None:
        for key in ("fc.weight", "conv_img.weight"):
            if key not in state:
                return f"has no tensor {key!r} of the official SPADE generator"
        if not any(k.startswith("head_0.") for k in state):
            return "has no head_0 block of the official SPADE generator"
        found = tuple(state["fc.weight"].shape)
        if len(found) != 4 or found[1] != channels:
            return f"reads {found[1] if len(found) > 1 else '?'} label channels (fc.weight {list(found)}), not {channels}"
        return None
    return check


def unet_check(state: dict) -> str | None:
    """The official ``unet_256`` generator, ngf 64, BatchNorm, reading the 3-channel colour label image."""
    from bench_plugins.models.pix2pix.official import recognise

    if "model.model.0.weight" not in state:
        return "has no tensor 'model.model.0.weight' of the official unet_256 generator"
    try:
        found = recognise(state)
    except BenchError as exc:
        return str(exc)
    if found is None:
        return "is not an official pix2pix U-Net generator (its first layer is not a 4x4 conv)"
    want = {"ngf": 64, "norm": "batch", "num_downs": 8, "label_input": "colour"}
    if found.options != want:
        return f"is a {found.facts['netG']} with {found.options}, not unet_256 with {want}"
    return None


#: the bench options that reproduce the official facades_label2photo setting: its network as the file
#: implies it, the colour label image as input, and test.py's default generation (no --eval: training-
#: mode BatchNorm per image, dropout on) at batch size 1 and 256x256 (load_size = crop_size = 256)
PIX2PIX_FACADES_OPTIONS = {"ngf": 64, "norm": "batch", "num_downs": 8, "use_dropout": True, "label_input": "colour",
                           "test_mode": "paper"}


#: the paper's protocol as bench settings: FID by the pytorch-fid of spring 2019 (NVlabs/SPADE issue 14)
PAPER_FID = {"fid.implementation": "pytorch-fid-2019"}
#: the segmenter of each dataset's mIoU in the paper (NVlabs/SPADE issue 39)
PAPER_SEGMENTER = {"coco-stuff": "deeplabv2-cocostuff", "ade20k": "upernet-101-baseline", "cityscapes": "drn-d-105"}

#: the papers give mIoU and pixel accuracy in percent
PERCENT = ("mIoU", "pixel acc")

#: re-measurements of the released generators in public threads, with the protocol each used
REMEASURED = {
    "ade20k": (
        Measurement("SMIS re-measurement", "Seanseattle/SMIS issue 6 (May 2020): the released generator, "
                    "'the dataset's evaluation method', the updated pytorch-fid",
                    {"eval.segmenter": "upernet-101", "fid.implementation": "pytorch-fid"},
                    {"mIoU": 42.0, "pixel acc": 81.4},
                    note="segmenter version not stated; after August 2019 CSAIL published only "
                         "ade20k-resnet101-upernet; the thread gives no FID", percent=PERCENT),
    ),
    "cityscapes": (
        Measurement("pytorch-fid re-measurement", "NVlabs/SPADE issue 51 (June 2019): the released generator, "
                    "pytorch-fid after its TensorFlow weights (May 2019)", {"fid.implementation": "pytorch-fid"},
                    {"FID": 63.0}, note="FID only, 'about 63'"),
        Measurement("issue 100 re-measurement", "NVlabs/SPADE issue 100 (January 2020): the released generator, "
                    "labels bilinear-downsampled (issue 39), pytorch-fid",
                    {"fid.implementation": "pytorch-fid", "eval.segmenter": "drn-d-105",
                     "miou.label_resize": "bilinear", "miou.count_dontcare": False},
                    {"mIoU": 62.2, "pixel acc": 93.5, "FID": 63.36},
                    note="accuracy 93.5 without the void pixels (the paper's 81.9 counts them)", percent=PERCENT),
    ),
}


def spade_measurements(dataset: str, reported: dict[str, float]) -> tuple[Measurement, ...]:
    paper = Measurement("paper", SPADE_PAPER + "; FID: pytorch-fid 'pretty much out of the box' (NVlabs/SPADE "
                        "issue 14); mIoU: " + PAPER_SEGMENTER[dataset] + " (issue 39)",
                        {**PAPER_FID, "eval.segmenter": PAPER_SEGMENTER[dataset]}, dict(reported), percent=PERCENT)
    return (paper, *REMEASURED.get(dataset, ()))


def spade_entry(dataset: str, folder: str, reported: dict[str, float], options: dict) -> ZooEntry:
    channels = options["label_nc"] + int(options["contain_dontcare_label"]) + int(not options["no_instance"])
    spec = WeightSpec(
        name=f"spade-{dataset}-official", filename=f"spade-{folder}-latest_net_G.pth", sha256=None, url=None,
        summary=f"official SPADE generator for {dataset} ({folder}/latest_net_G.pth)",
        source=f"{folder}/latest_net_G.pth inside checkpoints.tar.gz, {SPADE_ARCHIVE}; {SPADE_LICENCE}",
        check=spade_check(channels))
    return ZooEntry(model="spade", tag=f"{dataset}-official", dataset=dataset, weights=spec, source_url=SPADE_ARCHIVE,
                    member=f"{folder}/latest_net_G.pth", licence=SPADE_LICENCE, paper=SPADE_PAPER, reported=reported,
                    options={**options, "ngf": 64, "use_vae": False, "norm_G": "spectralspadesyncbatch3x3",
                             "semantic_nc": channels},
                    model_options={"num_upsampling_layers": options["num_upsampling_layers"],
                                   "dontcare_channel": options["contain_dontcare_label"],
                                   "use_instance_edges": not options["no_instance"]},
                    summary=f"the official code's released {dataset} generator",
                    # the official test.py generates at crop_size wide, crop_size / aspect_ratio high
                    eval_size=(round(options["crop_size"] / options["aspect_ratio"]), options["crop_size"]),
                    segmenter=PAPER_SEGMENTER[dataset] if dataset == "ade20k" else None,
                    measurements=spade_measurements(dataset, reported),
                    # util/util.py tensor2im: (x + 1) / 2.0 * 255.0, np.clip(0, 255), astype(uint8)
                    quantization="truncate")


ENTRIES = (
    spade_entry("coco-stuff", "coco_pretrained", {"mIoU": 37.4, "pixel acc": 67.9, "FID": 22.6},
                {"label_nc": 182, "contain_dontcare_label": True, "no_instance": False, "crop_size": 256,
                 "aspect_ratio": 1.0, "num_upsampling_layers": "normal"}),
    spade_entry("ade20k", "ade20k_pretrained", {"mIoU": 38.5, "pixel acc": 79.9, "FID": 33.9},
                {"label_nc": 150, "contain_dontcare_label": True, "no_instance": True, "crop_size": 256,
                 "aspect_ratio": 1.0, "num_upsampling_layers": "normal"}),
    spade_entry("cityscapes", "cityscapes_pretrained", {"mIoU": 62.3, "pixel acc": 81.9, "FID": 71.8},
                {"label_nc": 35, "contain_dontcare_label": False, "no_instance": False, "crop_size": 512,
                 "aspect_ratio": 2.0, "num_upsampling_layers": "more"}),
    ZooEntry(
        model="pix2pix", tag="facades-official", dataset="facades",
        weights=WeightSpec(name="pix2pix-facades-official", filename="pix2pix-facades_label2photo.pth", sha256=None,
                           url=PIX2PIX_URL, summary="official pix2pix facades_label2photo generator (unet_256)",
                           source=f"{PIX2PIX_URL} (the official PyTorch code's download script; BSD licence)",
                           check=unet_check),
        source_url=PIX2PIX_URL, licence="BSD (the official PyTorch code); CMP Facades: research use",
        paper=PIX2PIX_PAPER, reported={},
        options={"netG": "unet_256", "ngf": 64, "norm": "batch", "no_dropout": False, "input_nc": 3,
                 "input": "colour label image", "direction": "BtoA", "load_size": 256, "crop_size": 256,
                 "eval": False},
        model_options=dict(PIX2PIX_FACADES_OPTIONS),
        summary="the paper reports no FID, mIoU or pixel accuracy for CMP Facades", eval_size=(256, 256),
        quantization="truncate"),  # util/util.py tensor2im: (x + 1) / 2.0 * 255.0, astype(uint8)
) + OASIS_ENTRIES + PIX2PIXHD_ENTRIES


@hookimpl
def register_zoo(register):
    for entry in ENTRIES:
        register(entry)


@hookimpl
def register_weights(register):
    for entry in ENTRIES:
        register(entry.weights)
