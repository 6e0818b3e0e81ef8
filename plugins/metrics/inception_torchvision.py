"""The Inception networks pytorch-fid computed FID with, rebuilt on torchvision's Inception v3, and
their weight files.

Two versions of mseitzer/pytorch-fid, the FID code most PyTorch papers of semantic image synthesis
used (SPADE: "pretty much out of the box", NVlabs/SPADE issue 14, April 2019):

``pytorch-fid`` (today's, release 0.3.0 of 2023-01-05; its network unchanged since mid-2019)
    ``pt_inception-2015-12-05-6726825d.pth``: the TensorFlow Inception of 2015-12-05 (the graph of
    the original FID code) ported to torchvision's module tree with 1008 outputs and no auxiliary
    head. Four block types pool as TensorFlow does: the average pool of the Mixed_5*, Mixed_6* and
    Mixed_7b blocks leaves the zero padding out of the mean (``count_include_pad=False``) and
    Mixed_7c takes a max pool instead.
``pytorch-fid-2019`` (commit 4e366b2fc9fb933bec9f6f24c5e87c3bd9452eda of ``inception.py``, the code
    between the input-scaling fix of pytorch-fid issue 3, December 2018, and the TensorFlow weights
    of mid-2019)
    ``torchvision.models.inception_v3(pretrained=True)``: torchvision's ImageNet weights
    (``inception_v3_google-1a9a5a14.pth``, the file torchvision 0.2 downloaded; today's torchvision
    downloads ``inception_v3_google-0cc3c7bd.pth`` instead), torchvision's own blocks.

Both read an image the same way: RGB as float32 in [0, 1] (``x / 255``), resized to 299x299 by
``F.interpolate(mode="bilinear", align_corners=False)`` (no antialiasing), scaled to ``2x - 1``;
the feature is the 2048-d output of the final average pool, in fp32. Only the network and its
weights differ. No file is ever downloaded at test time: each is registered with its published
name, URL and the sha256 prefix its name carries, checked by its tensors when imported
(``bench weights import NAME FILE``), and found in bench's weights cache or in torch hub's cache
(``~/.cache/torch/hub/checkpoints``, where pytorch-fid and torchvision keep them).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from bench_plugins.metrics.inception import full_fp32
from bench_plugins.metrics.inception_weights import Weights
from bench_plugins.segmenters.published import layout_check, read_state_dict
from torchvision.models import inception as tv

from benchmark import WeightsError, WeightSpec
from benchmark import archive
from benchmark import weights

SIDE = 299
FEATURES = 2048
PYTORCH_FID, PYTORCH_FID_2019 = "pytorch-fid", "pytorch-fid-2019"
PYTORCH_FID_COMMIT_2019 = "4e366b2fc9fb933bec9f6f24c5e87c3bd9452eda"


# --------------------------------------------------------------------------- the two module trees


def _tf_average(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def _tf_max(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


def _pooling_as_tensorflow(block: type, pool) -> type:
    """``block`` (a torchvision Inception block) whose pool branch pools by ``pool``: torchvision's
    branches are computed as they are, and the last one (the pool branch) again from ``pool``."""

    def _forward(self, x):
        outputs = block._forward(self, x)
        outputs[-1] = self.branch_pool(pool(x))
        return outputs

    return type(f"TF{block.__name__}", (block,), {"_forward": _forward})


TFInceptionA = _pooling_as_tensorflow(tv.InceptionA, _tf_average)
TFInceptionC = _pooling_as_tensorflow(tv.InceptionC, _tf_average)
TFInceptionE = _pooling_as_tensorflow(tv.InceptionE, _tf_average)
TFInceptionEMax = _pooling_as_tensorflow(tv.InceptionE, _tf_max)


def torchvision_inception() -> tv.Inception3:
    """torchvision's Inception v3 as its ImageNet files hold it (1000 classes, auxiliary head)."""
    return tv.Inception3(num_classes=1000, aux_logits=True, init_weights=False)


def fid_inception() -> tv.Inception3:
    """pytorch-fid's FID Inception: torchvision's tree, 1008 classes, no auxiliary head, TF pooling."""
    net = tv.Inception3(num_classes=1008, aux_logits=False, init_weights=False,
                        inception_blocks=[tv.BasicConv2d, TFInceptionA, tv.InceptionB, TFInceptionC,
                                          tv.InceptionD, TFInceptionE, tv.InceptionAux])
    net.Mixed_7c = TFInceptionEMax(2048)
    return net


#: the layers from the image to the 2048-d pool, in order (torchvision's names)
TRUNK = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool2",
         "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a",
         "Mixed_7b", "Mixed_7c", "avgpool")


# --------------------------------------------------------------------------- the weight files

FID_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                   "pt_inception-2015-12-05-6726825d.pth")
TORCHVISION_URL = "https://download.pytorch.org/models/"

PYTORCH_FID_WEIGHTS = WeightSpec(
    name="pt-inception-2015-12-05", filename="pt_inception-2015-12-05-6726825d.pth", sha256=None,
    url=FID_WEIGHTS_URL, hash_prefix="6726825d",
    summary="pytorch-fid's FID Inception (TensorFlow 2015-12-05 weights ported): fid.implementation=pytorch-fid",
    source="mseitzer/pytorch-fid release 'fid_weights' (Apache-2.0), the file pytorch-fid 0.3.0 downloads; "
           "no sha256 published (the name carries its first 8 hex digits)",
    check=layout_check(fid_inception, "pytorch-fid's FID Inception (1008 classes)"))

TORCHVISION_2019_WEIGHTS = WeightSpec(
    name="inception-v3-google-1a9a5a14", filename="inception_v3_google-1a9a5a14.pth", sha256=None,
    url=TORCHVISION_URL + "inception_v3_google-1a9a5a14.pth", hash_prefix="1a9a5a14",
    summary="torchvision's ImageNet Inception v3 as of 2019: fid.implementation=pytorch-fid-2019",
    source="torchvision 0.2 `inception_v3(pretrained=True)` (BSD-3-Clause), what pytorch-fid loaded in spring "
           "2019; no sha256 published (the name carries its first 8 hex digits)",
    check=layout_check(torchvision_inception, "torchvision's Inception v3 (1000 classes)"))

TORCHVISION_WEIGHTS = WeightSpec(
    name="inception-v3-google-0cc3c7bd", filename="inception_v3_google-0cc3c7bd.pth", sha256=None,
    url=TORCHVISION_URL + "inception_v3_google-0cc3c7bd.pth", hash_prefix="0cc3c7bd",
    summary="today's torchvision ImageNet Inception v3 (IMAGENET1K_V1): pytorch-fid-2019 when the 2019 file is absent",
    source="torchvision `Inception_V3_Weights.IMAGENET1K_V1` (BSD-3-Clause); recorded in the protocol, so rows "
           "measured with it never rank with rows of inception_v3_google-1a9a5a14.pth",
    check=layout_check(torchvision_inception, "torchvision's Inception v3 (1000 classes)"))

#: the files each implementation accepts, preferred first
FILES = {PYTORCH_FID: (PYTORCH_FID_WEIGHTS,), PYTORCH_FID_2019: (TORCHVISION_2019_WEIGHTS, TORCHVISION_WEIGHTS)}
SPECS = (PYTORCH_FID_WEIGHTS, TORCHVISION_2019_WEIGHTS, TORCHVISION_WEIGHTS)


def register(register_one) -> None:
    for spec in SPECS:
        register_one(spec)


def torch_hub_file(spec: WeightSpec) -> Path:
    """Where pytorch-fid and torchvision keep ``spec``'s file (torch hub's checkpoint folder)."""
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(home).expanduser() / "hub" / "checkpoints" / spec.filename


def imported_or_hub(spec: WeightSpec, needed_by: str) -> Path:
    """``spec``'s file from bench's weights cache, else imported from torch hub's cache (verified like
    any import); else one line saying what ``needed_by`` needs, where to download it and how to import it."""
    if weights.status(spec) != weights.MISSING:
        return weights.resolve(spec, download=False)
    hub = torch_hub_file(spec)
    if hub.is_file():
        return weights.import_file(spec, hub)
    raise WeightsError(f"{needed_by} needs {spec.filename}: download {spec.url} and run "
                       f"`{weights.import_command(spec)}`")


def find(implementation: str, download: bool | None = None) -> Weights:
    """The verified file of ``implementation``: from bench's cache, else imported from torch hub's cache,
    else downloaded (unless offline); else one line saying what to download and import."""
    specs = FILES[implementation]
    for spec in specs:
        if weights.status(spec) != weights.MISSING:
            return Weights(spec, weights.resolve(spec, download=False))
        hub = torch_hub_file(spec)
        if hub.is_file():
            return Weights(spec, weights.import_file(spec, hub))  # a wrong file is refused with its reason
    allowed = not archive.offline() if download is None else download
    if allowed:
        try:
            return Weights(specs[0], weights.resolve(specs[0], download=True))
        except WeightsError:
            pass
    options = " or ".join(f"{s.url} (then `{weights.import_command(s)}`)" for s in specs)
    raise WeightsError(f"fid.implementation={implementation} needs {specs[0].filename}, which is not in the weights "
                       f"cache{' and could not be downloaded' if allowed else ''}: download {options}")


# --------------------------------------------------------------------------- features


class TorchvisionInception:
    """A loaded file of :data:`SPECS` in its module tree; ``features`` of (N,3,H,W) images in [0, 1]."""

    def __init__(self, w: Weights, device: torch.device):
        build = fid_inception if w.spec.name == PYTORCH_FID_WEIGHTS.name else torchvision_inception
        net = build()
        state = read_state_dict(w.path)
        for key, value in net.state_dict().items():  # files saved before BatchNorm counted its batches
            if key.endswith("num_batches_tracked"):
                state.setdefault(key, value)
        net.load_state_dict(state, strict=True)
        self.weights, self.device = w, device
        self.trunk = torch.nn.Sequential(*(getattr(net, name) for name in TRUNK)).to(device).eval()

    @torch.inference_mode()
    def features(self, images: torch.Tensor) -> np.ndarray:
        """(N,3,H,W) float32 in [0, 1] -> (N, 2048): bilinear to 299 (align_corners=False), 2x - 1, the trunk."""
        with full_fp32(self.device):
            x = F.interpolate(images.to(self.device), size=(SIDE, SIDE), mode="bilinear", align_corners=False)
            out = self.trunk(2 * x - 1)
        return out.reshape(images.shape[0], FEATURES).cpu().numpy()


RESIZE = {
    PYTORCH_FID: "pytorch-fid 0.3.0: RGB / 255, torch bilinear to 299x299 (align_corners=False, no antialias), "
                 "2x - 1",
    PYTORCH_FID_2019: f"pytorch-fid {PYTORCH_FID_COMMIT_2019[:7]} (2019): RGB / 255, torch bilinear to 299x299 "
                      f"(align_corners=False, no antialias), 2x - 1",
}
NETWORK = {
    PYTORCH_FID: "pytorch-fid FID Inception (TensorFlow 2015-12-05 weights, TF pooling) pool3 2048-d fp32",
    PYTORCH_FID_2019: "torchvision Inception v3 (ImageNet inception_v3_google) avgpool 2048-d fp32",
}
LIBRARY = {
    PYTORCH_FID: "bench's re-implementation of pytorch-fid 0.3.0",
    PYTORCH_FID_2019: f"bench's re-implementation of pytorch-fid at commit {PYTORCH_FID_COMMIT_2019}",
}
