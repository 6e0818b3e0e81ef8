"""The zoo entries of OASIS's released generators (ADE20K, Cityscapes, COCO-Stuff) with its paper's numbers.

boschresearch/OASIS publishes one zip per dataset (``oasis_ade20k_pretrained.zip``,
``oasis_cityscapes_pretrained.zip``, ``oasis_coco_pretrained.zip``) in a Dropbox folder linked from its
README; its ``test.py`` loads ``models/best_EMA.pth`` (``--ckpt_iter best``, the EMA generator), which is
the file an entry imports. The repository is AGPL-3.0 and the checkpoints come with it.

The numbers are Table 1 of "You Only Need Adversarial Supervision for Semantic Image Synthesis" (ICLR
2021): FID and mIoU (the paper gives no pixel accuracy). Its protocol: FID by the pytorch-fid Inception
(the official ``utils/fid_scores.py`` adapts mseitzer/pytorch-fid: FID Inception weights, float images,
no 8-bit rounding) between the EMA generator's images of the test split and the test photos at the
training size; mIoU by UperNet101 (ADE20K, CSAIL's ``ade20k-resnet101-upernet``), multi-scale DRN-D-105
(Cityscapes) and DeepLabV2 (COCO-Stuff) on the generated images at their size (512x256 for Cityscapes,
boschresearch/OASIS issue 5). The ``best`` checkpoint is the one of lowest FID on that same test split
during training (``utils/fid_scores.py``, every 5000 iterations, Cityscapes 2500).

Each entry's ``model_options`` say what bench needs beyond the tensors: the noise channels (64) and
which label channel is the dontcare one (ADE20K, COCO-Stuff: the unlabeled id first; Cityscapes: none,
its 35 channels are the labelIds 0..33 and one never set). Images are written as ``test.py``'s
``results_saver`` writes them: ``(x + 1) / 2 * 255`` cast to uint8 (truncation).
"""

from __future__ import annotations

from benchmark import Measurement, WeightSpec, ZooEntry

from .official import OFFICIAL_Z_DIM

OASIS_URL = "https://www.dropbox.com/sh/nf6of02pyk84zjg/AAC8hnnj0T_MAiPx3tzdAyiWa?dl=0"
OASIS_PAPER = "You Only Need Adversarial Supervision for Semantic Image Synthesis (ICLR 2021), Table 1"
OASIS_LICENCE = "AGPL-3.0 (boschresearch/OASIS, with its released checkpoints)"
#: the segmenter of each dataset's mIoU in the paper (bench's names)
SEGMENTER = {"ade20k": "upernet-101", "cityscapes": "drn-d-105", "coco-stuff": "deeplabv2-cocostuff"}
#: the official dataset classes' settings: (folder, label_nc, semantic_nc, crop_size, aspect_ratio, dontcare first)
DATASETS = {
    "ade20k": ("oasis_ade20k_pretrained", 150, 151, 256, 1.0, True),
    "cityscapes": ("oasis_cityscapes_pretrained", 34, 35, 512, 2.0, False),
    "coco-stuff": ("oasis_coco_pretrained", 182, 183, 256, 1.0, True),
}


def oasis_check(semantic_nc: int):
    """An OASIS generator state dict whose first conv reads ``semantic_nc`` label + 64 noise channels."""
    want = semantic_nc + OFFICIAL_Z_DIM

    def check(state: dict) -> str | None:
        for key in ("fc.weight", "conv_img.weight", "body.0.norm_0.mlp_shared.0.weight"):
            if key not in state:
                return f"has no tensor {key!r} of the official OASIS generator"
        found = tuple(state["fc.weight"].shape)
        if len(found) != 4 or found[1] != want:
            return (f"reads {found[1] if len(found) > 1 else '?'} channels (fc.weight {list(found)}), not "
                    f"{semantic_nc} label + {OFFICIAL_Z_DIM} noise = {want}")
        return None
    return check


def oasis_entry(dataset: str, reported: dict[str, float]) -> ZooEntry:
    folder, label_nc, semantic_nc, crop, aspect, dontcare = DATASETS[dataset]
    member = f"{folder}/models/best_EMA.pth"
    spec = WeightSpec(name=f"oasis-{dataset}-official", filename=f"oasis-{folder}-best_EMA.pth", sha256=None, url=None,
                      summary=f"official OASIS EMA generator for {dataset} ({member})",
                      source=f"{member} inside {folder}.zip, {OASIS_URL}; {OASIS_LICENCE}",
                      check=oasis_check(semantic_nc))
    segmenter = SEGMENTER[dataset]
    paper = Measurement(
        "paper", f"{OASIS_PAPER}; FID: the official utils/fid_scores.py (pytorch-fid's Inception); mIoU: {segmenter}",
        {"fid.implementation": "pytorch-fid", "eval.segmenter": segmenter}, dict(reported),
        note="the released 'best' checkpoint is the one of lowest FID on the test split during training; FID of "
             "float images, one noise draw per image", percent=("mIoU",))
    return ZooEntry(
        model="oasis", tag=f"{dataset}-official", dataset=dataset, weights=spec, source_url=OASIS_URL, member=member,
        licence=OASIS_LICENCE, paper=OASIS_PAPER, reported=reported,
        options={"dataset_mode": "coco" if dataset == "coco-stuff" else dataset, "label_nc": label_nc,
                 "contain_dontcare_label": True, "semantic_nc": semantic_nc, "crop_size": crop, "aspect_ratio": aspect,
                 "channels_G": 64, "num_res_blocks": 6, "z_dim": OFFICIAL_Z_DIM, "param_free_norm": "syncbatch",
                 "spade_ks": 3, "no_3dnoise": False, "no_EMA": False, "ckpt_iter": "best"},
        model_options={"z_dim": OFFICIAL_Z_DIM, "dontcare_channel": dontcare},
        summary=f"the official code's released {dataset} EMA generator",
        # the official dataset classes test at crop_size wide, crop_size / aspect_ratio high
        eval_size=(round(crop / aspect), crop), segmenter=segmenter, measurements=(paper,),
        quantization="truncate")  # utils.results_saver: tens_to_im(x) * 255, astype(np.uint8)


ENTRIES = (
    oasis_entry("ade20k", {"mIoU": 48.8, "FID": 28.3}),
    oasis_entry("cityscapes", {"mIoU": 69.3, "FID": 47.7}),
    oasis_entry("coco-stuff", {"mIoU": 44.1, "FID": 17.0}),
)
