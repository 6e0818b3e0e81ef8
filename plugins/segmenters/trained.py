"""`trained`: a small U-Net that bench trains on the dataset's real training photos, for mIoU.

The Gaussian GAN report measures segmentation consistency with a pretrained
DeepLabV3; for datasets that no public segmenter covers (facades, faces, your
own folder) bench trains one instead, from random weights, on the real
training split at the evaluation resolution (``ctx.train_images``: its photos
and class ids, written by the harness). Cross-entropy over the
dataset's classes with its ignore index, Adam, random horizontal flips, a
sampled batch per step, seeded with the run's seed. The network is cached under
``CACHE/evalnets/trained-KEY.pt`` (KEY: content hash of the training split,
options, seed, classes) and reused by every later row and run.

What it scores on the real test photos is the ceiling of mIoU and pixel
accuracy (the "real images" row, and ``real_miou`` / ``real_pixel_acc`` in
the protocol of every row): generated images are segmented no better than
real ones by a segmenter that learned from real ones.
"""

from __future__ import annotations

from typing import Any

import torch
from bench_plugins.segmenters import fitting
from bench_plugins.segmenters.networks import SmallUNet
from pydantic import Field

from benchmark import EvalContext, ImageSet, Options, Segmenter, SegmenterModel, hookimpl

#: training steps when ``steps`` is not set, by the run's profile
STEPS = {"smoke": 60, "quick": 400, "paper": 4000}


class TrainedOptions(Options):
    steps: int | None = Field(None, ge=1, description="training steps (default by profile: smoke 60, quick 400, "
                              "paper 4000)")
    width: int = Field(16, ge=2, description="U-Net channels at full resolution (doubling per level)")
    depth: int = Field(3, ge=1, le=6, description="U-Net halvings (2x2 max-pool)")
    batch_size: int = Field(8, ge=1, description="training images per step")
    lr: float = Field(2e-3, gt=0, description="Adam learning rate")
    input_size: int | None = Field(None, ge=16, description="side the segmenter sees (bilinear resize; "
                                   "default: the evaluation resolution); logits are resized back to the label maps")


def steps_for(options: TrainedOptions, profile: str | None) -> int:
    return options.steps or STEPS.get(profile or "quick", STEPS["quick"])


class UNetModel(SegmenterModel):
    def __init__(self, net: SmallUNet, device: torch.device, input_size: int | None, protocol: dict[str, Any]):
        self.net = net.to(device).eval()
        self.device = device
        self.input_size = input_size
        self.protocol = protocol

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        return predict_logits(self.net, images.to(self.device), self.input_size).argmax(1)


def predict_logits(net: torch.nn.Module, images: torch.Tensor, input_size: int | None) -> torch.Tensor:
    """Class logits at the size of ``images`` ([0, 1] floats), the network reading ``input_size``."""
    size = images.shape[-2:]
    x = fitting.normalize(images)
    if input_size is not None and tuple(size) != (input_size, input_size):
        x = torch.nn.functional.interpolate(x, size=(input_size, input_size), mode="bilinear",
                                            align_corners=False, antialias=True)
    logits = net(x)
    if logits.shape[-2:] != size:
        logits = torch.nn.functional.interpolate(logits, size=size, mode="bilinear", align_corners=False)
    return logits


class TrainedSegmenter(Segmenter):
    name = "trained"
    summary = "a small U-Net trained by bench on the dataset's real training photos (cached per split and seed)"
    Options = TrainedOptions

    def load(self, ctx: EvalContext, options: TrainedOptions) -> UNetModel:
        train = fitting.require_train_images(ctx, "the 'trained' segmenter")
        steps = steps_for(options, ctx.profile)
        key = fitting.cache_key(name=self.name, options=options.model_dump(), steps=steps, seed=ctx.seed,
                                classes=list(ctx.class_names), ignore_index=ctx.ignore_index,
                                data=fitting.content_hash(train))
        path = fitting.cache_file(ctx.cache_dir, self.name, key)
        net = fitting.seeded(ctx.seed, lambda: SmallUNet(ctx.num_classes, options.width, options.depth))
        cached = fitting.load(path)
        if cached is not None:
            net.load_state_dict(cached["state_dict"])
            meta = cached["meta"]
        else:
            meta = self.train(net, ctx, options, steps, train)
            fitting.save(path, net, meta)
        side = options.input_size or ctx.image_size
        protocol = {"segmenter": f"{self.name}: U-Net width {options.width} depth {options.depth}, {steps} steps on "
                                 f"{meta['train_images']} real training images, seed {ctx.seed}, "
                                 f"weights {fitting.state_sha256(net)}",
                    "segmenter_input": f"{side} px" if side else "the evaluation resolution"}
        return UNetModel(net, ctx.device, options.input_size, protocol)

    def train(self, net: SmallUNet, ctx: EvalContext, options: TrainedOptions, steps: int,
              train: ImageSet) -> dict:
        stems = [p.stem for p in fitting.split_files(train.real)]
        data = fitting.SplitImages(train, stems, with_labels=True)
        ignore = ctx.ignore_index if ctx.ignore_index is not None else -100
        net.to(ctx.device)

        def loss_of(gen: torch.Generator) -> torch.Tensor:
            photos, labels = data.batch(fitting.batch_indices(gen, len(stems), options.batch_size))
            labels = torch.where((labels >= 0) & (labels < ctx.num_classes), labels, torch.full_like(labels, ignore))
            x, y = fitting.random_hflip(photos.float() / 255.0, labels, gen)
            logits = predict_logits(net, x.to(ctx.device), options.input_size)
            return torch.nn.functional.cross_entropy(logits, y.to(ctx.device), ignore_index=ignore)

        losses = fitting.fit(net, loss_of, steps=steps, lr=options.lr, seed=ctx.seed,
                             reporter=ctx.progress,
                             label=f"train segmenter on {len(stems)} real images")
        return {"train_images": len(stems), "steps": steps, "final_loss": losses[-1]}


@hookimpl
def register_segmenters(register):
    register(TrainedSegmenter())
