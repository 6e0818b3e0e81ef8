"""The contract between the harness and its model and metric plugins.

A model plugin is a :class:`Model`: a name, a pydantic ``Options`` model
holding the defaults of its source, named presets (each one its own leaderboard
row), per-profile overrides, and ``build()`` which returns a :class:`Trainable`.

The trainable owns its networks, losses, optimisers and update rule
(``train_step``) and ``generate``. The harness owns the loop, the device, the
precision, checkpoints, progress and logging: a trainable never calls ``.to()``
or wraps its modules, so that multi-GPU can be added to the harness alone.

A metric plugin is a :class:`Metric`: it reads the image folders that the
evaluation wrote and returns values plus the protocol facts that make them
comparable.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict

from benchmark.context import EvalContext, Progress, ResolvedSegmenter  # noqa: F401  (part of the API)


class Options(BaseModel):
    """Base class for plugin options: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


@dataclass(frozen=True)
class Preset:
    """Named option overrides; every preset shows as its own leaderboard row."""

    summary: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainTransform:
    """What the harness does to a training pair before ``train_step``.

    ``load_size`` is the side the pair is resized to before a random crop of
    ``image_size`` (``None``: no crop). Labels are always resized with nearest
    neighbour. Randomness is derived from (seed, epoch, sample index), so it is
    reproducible and survives ``--resume``.
    """

    load_size: int | None = None
    hflip: bool = True
    vflip: bool = False
    rotate_degrees: float = 0.0


@dataclass(frozen=True)
class TrainLength:
    """The default training length of a model under the chosen options."""

    epochs: int | None = None
    steps: int | None = None
    batch_size: int = 1


class StepContext:
    """What the harness hands to ``train_step``: where we are, and precision-aware helpers."""

    def __init__(self, *, device: torch.device, dtype: torch.dtype | None, step: int = 0,
                 total_steps: int = 1, epoch: int = 0, total_epochs: int = 1):
        self.device = device
        self.dtype = dtype  # autocast dtype, None for full fp32
        self.step = step
        self.total_steps = total_steps
        self.epoch = epoch
        self.total_epochs = total_epochs
        self.scalers: dict[int, torch.amp.GradScaler] = {}

    @property
    def progress(self) -> float:
        """Fraction of training done before this step, in [0, 1)."""
        return self.step / max(1, self.total_steps)

    def autocast(self):
        """Mixed precision for the forward pass (a no-op in fp32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def optimize(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """zero_grad, backward, step: with a gradient scaler under fp16."""
        optimizer.zero_grad(set_to_none=True)
        if self.dtype is torch.float16:
            scaler = self.scalers.setdefault(id(optimizer), torch.amp.GradScaler(self.device.type))
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()


@dataclass
class SetupContext:
    """What the harness hands to :meth:`Trainable.before_training`."""

    device: torch.device
    dtype: torch.dtype | None  # autocast dtype, None for full fp32
    #: the run's shared cache folder (``OUTPUT_ROOT/cache``): key what you store there by its content
    cache_dir: Path
    seed: int
    #: one line to the run's console
    log: Callable[[str], None] = print


class Trainable(torch.nn.Module):
    """A model ready to train: networks as submodules, optimisers in ``self.optimizers``.

    Batches are dicts of tensors already on the device:
    ``label`` (N,H,W int64 class ids), ``onehot`` (N,C,H,W float),
    ``image`` (N,3,H,W float in [-1, 1], the real photo; at generation time it is the
    test photo, which a fair model reads only as a style reference if at all),
    ``index`` (N int64, position in the split: seed per-image randomness with it),
    ``classes`` (N,C float multi-hot image-level labels: the dataset's, else the
    classes present in the label map).
    """

    optimizers: dict[str, torch.optim.Optimizer]

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Called by the harness after the model is on its device."""
        raise NotImplementedError

    def train_step(self, batch: dict[str, torch.Tensor], ctx: StepContext) -> dict[str, torch.Tensor]:
        """One update; returns the losses (scalar tensors) to log."""
        raise NotImplementedError

    @torch.no_grad()
    def generate(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Images (N,3,H,W) in [-1, 1] for the label maps in ``batch``."""
        raise NotImplementedError

    def before_training(self, split, ctx: SetupContext) -> None:
        """Called once before the first ``train_step`` with the training split (a
        :class:`benchmark.transforms.PairDataset`: ``photos`` uint8 (N,3,L,L) at the load size,
        ``labels``, ``stems``), e.g. to fit fixed parts of the model on it or load them from a
        cache under ``ctx.cache_dir``. Not called for ``--checkpoint``; on ``--resume`` it runs
        before the checkpoint is restored. Default: nothing."""

    def before_generation(self, split) -> None:
        """Called once before the test split is generated, with that split (a
        :class:`benchmark.transforms.PairDataset`: ``photos`` uint8 (N,3,S,S), ``labels``
        (N,S,S), ``stems``), e.g. to pick style images from it. Default: nothing."""

    def generation_metrics(self) -> dict[str, Any]:
        """Numbers the model measured itself while generating the test split (stage timings,
        diversity over several outputs per input, ...), as
        ``{column: benchmark.records.MetricValue}``; added to its leaderboard row. Default: none."""
        return {}


class Model:
    """A model family. Subclass it and register an instance in ``register_models``."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    #: what the generator reads: "label-map", "sketch+class", ...
    input_kind: ClassVar[str] = "label-map"
    Options: ClassVar[type[Options]] = Options
    default_preset: ClassVar[str] = "official"
    presets: ClassVar[dict[str, Preset]] = {"official": Preset("the source's defaults")}
    #: per profile: {"run": {RunConfig keys}, "options": {Options keys}}
    profiles: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {}
    #: other model plugins whose options this one holds: {Options field: model name}. The field
    #: (typed as that model's Options) is filled from that model's defaults, profile overrides and
    #: the user's table for it (``--set spade.lambda_vgg=0``), then this model's nested keys.
    embeds: ClassVar[dict[str, str]] = {}

    def train_length(self, options: Options, profile: str) -> TrainLength:
        return TrainLength(steps=100, batch_size=1)

    def train_transform(self, options: Options, image_size: int) -> TrainTransform:
        return TrainTransform()

    def check(self, options: Options, image_size: int, num_classes: int) -> None:
        """Raise :class:`benchmark.errors.ConfigError` for option combinations that cannot work."""

    def build(self, options: Options, num_classes: int, image_size: int) -> Trainable:
        raise NotImplementedError

    def describe(self, options: Options) -> str:
        """A short note shown in the leaderboard row (e.g. "no VGG loss")."""
        return ""

    def input_of(self, options: Options) -> str:
        """What the generator reads under these options, for the leaderboard's Input column."""
        return self.input_kind


#: "up": higher is better, "down": lower is better, "none": shown but never ranked (e.g. a spread)
Direction = Literal["up", "down", "none"]


@dataclass
class MetricResult:
    values: dict[str, float | None]
    protocol: dict[str, Any]
    #: why a value is missing (shown in the table cell)
    notes: dict[str, str] = field(default_factory=dict)
    #: column -> one value per test image, when the value is their mean: the harness then records
    #: a 95% bootstrap interval over the images (benchmark.bootstrap)
    per_image: dict[str, list[float]] = field(default_factory=dict)


class Metric:
    """A metric plugin. ``columns`` maps each value it returns to its direction."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    columns: ClassVar[dict[str, Direction]] = {}
    #: "paired" (fake vs its real), "distribution", "segmentation", "classifier". For the
    #: "real images" row the harness leaves paired metrics empty (real against itself).
    kind: ClassVar[str] = "paired"
    Options: ClassVar[type[Options]] = Options

    def compute(self, ctx: EvalContext, options: Options) -> MetricResult:
        raise NotImplementedError


class Segmenter:
    """A segmentation network for mIoU and pixel accuracy: trained by bench or loaded from weights.

    Register an instance in ``register_segmenters``. ``load`` returns a
    :class:`SegmenterModel` ready on ``ctx.device`` (training it on
    ``ctx.train_images`` and caching it under ``ctx.cache_dir`` if it must), or
    raises :class:`benchmark.errors.BenchError` saying what is missing.
    """

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    Options: ClassVar[type[Options]] = Options

    def load(self, ctx: EvalContext, options: Options) -> "SegmenterModel":
        raise NotImplementedError


class SegmenterModel:
    """A loaded segmenter: ``predict`` maps photos to class ids; ``protocol`` says what it is."""

    #: e.g. {"segmenter": "trained", "architecture": ..., "weights_sha256": ..., "input_size": 64}
    protocol: dict[str, Any] = {}

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """(N,3,H,W) float photos in [0, 1] on the device -> (N,H,W) int64 class ids of the dataset."""
        raise NotImplementedError
