"""The zoo entry of pix2pixHD's released Cityscapes generator (``label2city_1024p``) with the numbers papers compare.

NVIDIA/pix2pixHD publishes one generator, ``latest_net_G.pth`` of ``label2city_1024p`` (a Google Drive
file linked from its README and ``scripts/download_models.py``), tested by ``scripts/test_1024p.sh``
(``--netG local --ngf 32 --resize_or_crop none``): a local enhancer (ngf 32) around the global
generator (ngf 64, 4 downsamplings, 9 residual blocks), instance norm, reading Cityscapes' 35 label
ids one-hot and the instance-edge map (36 channels) at the full 2048x1024. The repository's
LICENSE.txt is BSD (2019; its source files' headers still carry the older CC BY-NC-SA 4.0 notice).

The pix2pixHD paper measures no FID; the numbers semantic image synthesis papers compare with are the
pix2pixHD row of Table 1 of "Semantic Image Synthesis with Spatially-Adaptive Normalization" (SPADE,
CVPR 2019) on Cityscapes: mIoU 58.3, pixel accuracy 81.4, FID 95.0. Its protocol: a pix2pixHD that
SPADE's authors trained with the official code at SPADE's Cityscapes size, 512x256 (not this
released 2048x1024 file); mIoU and accuracy by DRN-D-105; FID by pytorch-fid as it was in spring 2019.
So the entry's ``eval_size`` is 512x256 (the paper's), and a row at the file's own 2048x1024
(``--set image_size=1024``) is said not to be comparable with them.
"""

from __future__ import annotations

from benchmark import BenchError, Measurement, WeightSpec, ZooEntry

from . import official

URL = "https://drive.google.com/file/d/1h9SykUnuZul7J3Nbms2QGH1wa85nbN2-/view"
PAPER = "Semantic Image Synthesis with Spatially-Adaptive Normalization (CVPR 2019), Table 1 (pix2pixHD row)"
LICENCE = "BSD (NVIDIA/pix2pixHD LICENSE.txt, 2019)"
#: what ``scripts/test_1024p.sh`` and the file's tensors say
RELEASED = {"netG": "local", "ngf": 32, "n_downsample_global": 4, "n_blocks_global": 9, "n_local_enhancers": 1,
            "n_blocks_local": 3, "label_nc": 35, "no_instance": False, "input_nc": 36, "norm": "instance",
            "resize_or_crop": "none", "test size": "2048x1024"}
WANT = {"ngf": 32, "n_downsample_global": 4, "n_blocks_global": 9, "n_local_enhancers": 1, "n_blocks_local": 3,
        "label_channels": 36}


def released_check(state: dict) -> str | None:
    """The label2city_1024p generator: netG local, ngf 32, 4 + 9 + 3, 36 input channels."""
    try:
        found = official.recognise(state)
    except BenchError as exc:
        return str(exc)
    if found is None:
        return "is not an official pix2pixHD generator (no 7x7 'model.1' conv and residual blocks)"
    got = {k: found.options[k] for k in WANT}
    return None if got == WANT else f"is a pix2pixHD generator with {got}, not label2city_1024p's {WANT}"


ENTRIES = (
    ZooEntry(
        model="pix2pixhd", tag="cityscapes-official", dataset="cityscapes",
        weights=WeightSpec(name="pix2pixhd-cityscapes-official", filename="pix2pixhd-label2city_1024p-latest_net_G.pth",
                           sha256=None, url=None, summary="official pix2pixHD label2city_1024p generator (netG local)",
                           source=f"{URL} (checkpoints/label2city_1024p/latest_net_G.pth); {LICENCE}",
                           check=released_check),
        source_url=URL, member="", licence=LICENCE, paper=PAPER,
        reported={"mIoU": 58.3, "pixel acc": 81.4, "FID": 95.0}, options=dict(RELEASED),
        model_options={"use_instance_edges": True},
        summary="the official code's released Cityscapes generator (2048x1024); the numbers are SPADE's "
                "re-training at 512x256",
        eval_size=(256, 512), segmenter="drn-d-105",
        measurements=(Measurement(
            "paper", f"{PAPER}; FID: pytorch-fid 'pretty much out of the box' (NVlabs/SPADE issue 14); mIoU: "
                     "drn-d-105 (issue 39)", {"fid.implementation": "pytorch-fid-2019", "eval.segmenter": "drn-d-105"},
            {"mIoU": 58.3, "pixel acc": 81.4, "FID": 95.0},
            note="a pix2pixHD trained by SPADE's authors with the official code at 512x256, not this released "
                 "2048x1024 file", percent=("mIoU", "pixel acc")),),
        quantization="truncate"),  # util/util.py tensor2im: (x + 1) / 2.0 * 255.0, clip, astype(uint8)
)
