"""The segmenter contract: a network for mIoU and pixel accuracy, trained by bench or loaded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch

from benchmark.api.contract import Options

if TYPE_CHECKING:
    from benchmark.api.context import EvalContext


class Segmenter:
    """A segmentation network for mIoU and pixel accuracy: trained by bench or loaded from weights.

    Register an instance in ``register_segmenters``. ``load`` returns a
    :class:`SegmenterModel` ready on ``ctx.device`` (training it on
    ``ctx.train_images`` and caching it under ``ctx.cache_dir`` if it must), or
    raises :class:`benchmark.util.errors.BenchError` saying what is missing.
    """

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    Options: ClassVar[type[Options]] = Options

    def load(self, ctx: EvalContext, options: Options) -> "SegmenterModel":
        raise NotImplementedError

    def check(self, options: Options) -> None:
        """Raise :class:`benchmark.util.errors.BenchError` when ``load`` cannot work (e.g. a weight
        file is missing); called when the run is planned, before any training."""


class SegmenterModel:
    """A loaded segmenter: ``predict`` maps photos to class ids; ``protocol`` says what it is."""

    #: e.g. {"segmenter": "trained", "architecture": ..., "weights_sha256": ..., "input_size": 64}
    protocol: dict[str, Any] = {}
    #: the classes ``predict`` returns when they are not the dataset's (None: the dataset's ids);
    #: mIoU is then computed over these classes
    classes: list[str] | None = None
    #: with ``classes``: a lookup table dataset id -> class id (ids >= len(classes) are not counted)
    target_ids: torch.Tensor | None = None

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """(N,3,H,W) float photos in [0, 1] on the device -> (N,H,W) int64 class ids of the dataset
        (of ``classes`` when set)."""
        raise NotImplementedError
