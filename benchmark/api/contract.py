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
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Literal, NamedTuple

import torch
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from benchmark.api.context import EvalContext


class Options(BaseModel):
    """Base class for plugin options: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


@dataclass(frozen=True)
class Preset:
    """Named option overrides; every preset shows as its own leaderboard row."""

    summary: str
    options: dict[str, Any] = field(default_factory=dict)


class Size(NamedTuple):
    """An image size in pixels, (height, width) as torch orders them.

    A run's size is ``image_size`` high and ``round(image_size * aspect_ratio)`` wide
    (``aspect_ratio`` = width / height, SPADE's meaning): Cityscapes at ``image_size`` 256
    is 512x256 (width x height), as SPADE trains it.
    """

    height: int
    width: int

    @classmethod
    def of(cls, size: "int | str | tuple[int, int]") -> "Size":
        """A side (a square), a protocol's ``"WxH"`` or a (height, width) pair."""
        if isinstance(size, int):
            return cls(size, size)
        if isinstance(size, str):
            width, _, height = size.partition("x")
            return cls(int(height), int(width)) if height else cls(int(width), int(width))
        return cls(int(size[0]), int(size[1]))

    @property
    def square(self) -> bool:
        return self.height == self.width

    def text(self) -> str:
        """``WxH``, as papers write resolutions."""
        return f"{self.width}x{self.height}"


@dataclass(frozen=True)
class DataFacts:
    """What a model may adapt its option defaults to (:meth:`Model.for_dataset`)."""

    name: str
    num_classes: int
    ignore_index: int | None
    #: the samples carry instance maps (``batch["instance"]``)
    instance_maps: bool
    #: the reference implementation gives ``ignore_index`` pixels their own input channel
    #: (SPADE's ``contain_dontcare_label``)
    dontcare_label: bool
    #: the dataset's colour for each class id (its coloured label maps), when it has one
    palette: "tuple[tuple[int, int, int], ...] | None" = None


@dataclass(frozen=True)
class TrainTransform:
    """What the harness does to a training pair before ``train_step``.

    ``load_size`` is the side the pair is resized to before a random crop of
    ``image_size`` (``None``: no crop); for a non-square run it is the height, and the
    width keeps the run's aspect ratio. Labels are always resized with nearest
    neighbour. Randomness is derived from (seed, epoch, sample index), so it is
    reproducible and survives ``--resume``.
    """

    load_size: int | None = None
    hflip: bool = True
    vflip: bool = False
    rotate_degrees: float = 0.0


@dataclass(frozen=True)
class ForeignCheckpoint:
    """A checkpoint written by another code base (e.g. a method's official release) that a
    model plugin recognised from the file's tensors (``Model.recognise_checkpoint``).

    ``options``: the model options the tensors imply (widths, channel counts, layer counts),
    applied to the row over its defaults; a value the user set differently stops the run with
    one line. ``format``: what the file is, in words, shown in the row's note and recorded in
    the protocol (e.g. "official SPADE generator (NVlabs/SPADE)"). ``facts``: anything else the
    plugin wants recorded with the row (plain JSON values). ``undetermined``: options the tensors
    cannot tell (e.g. SPADE's 5 or 6 upsamplings, the same tensors): the user sets each (or a zoo
    entry's ``model_options`` gives it), else the run stops with one line saying ``--set MODEL.X=``."""

    format: str
    options: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    undetermined: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrainLength:
    """The default training length of a model under the chosen options."""

    epochs: int | None = None
    steps: int | None = None
    batch_size: int = 1


class StepContext:
    """What the harness hands to ``train_step``: where we are, and precision-aware helpers."""

    def __init__(self, *, device: torch.device, dtype: torch.dtype | None, step: int = 0,
                 total_steps: int = 1, epoch: int = 0, total_epochs: int = 1, shards: int = 1):
        self.device = device
        #: data-parallel workers sharing each batch (1 in one process); DDP averages their gradients,
        #: so a loss that sums (not averages) over the batch is multiplied by it
        self.shards = shards
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
    classes present in the label map), and only where the dataset has instance maps
    ``instance`` (N,H,W int64 instance ids, e.g. Cityscapes' ``class * 1000 + k``): a
    model that does not use it ignores it.
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

    @torch.no_grad()
    def generate_sample(self, batch: dict[str, torch.Tensor], sample: int) -> torch.Tensor:
        """The ``sample``-th image (N,3,H,W) for each label map of a multi-modal model
        (:meth:`Model.multi_modal`), seeded per test image and sample number so that it does not
        depend on the batch; sample 0 is what :meth:`generate` gives. Default: :meth:`generate` for
        sample 0, an error for any other (a model that does not sample has one image per map)."""
        if sample == 0:
            return self.generate(batch)
        raise NotImplementedError(f"{type(self).__name__} is not multi-modal: one image per label map")

    def before_training(self, split, ctx: SetupContext) -> None:
        """Called once before the first ``train_step`` with the training split (a
        :class:`benchmark.data.transforms.PairDataset`: ``stems``, ``len``, items one at a time, and
        ``photos`` uint8 (N,3,LH,LW) at the load size, ``labels``, ``instances`` (or None): these three
        read and hold the whole split on first use, which the streamed training otherwise never
        does), e.g. to fit fixed parts of the model on it or load them from a
        cache under ``ctx.cache_dir``. Not called for ``--checkpoint``; on ``--resume`` it runs
        before the checkpoint is restored. Default: nothing."""

    def before_generation(self, split) -> None:
        """Called once before the test split is generated, with that split (a
        :class:`benchmark.data.transforms.PairDataset`: ``stems``, and ``photos`` uint8 (N,3,H,W),
        ``labels`` (N,H,W), read and held on first use), e.g. to pick style images from it. Default: nothing."""

    def load_foreign(self, state: dict[str, torch.Tensor], found: ForeignCheckpoint) -> None:
        """Load the tensors of a checkpoint that ``Model.recognise_checkpoint`` recognised (on the
        CPU, before the model moves to its device), converting another code base's key layout and
        parametrisations into this trainable's. Raise :class:`benchmark.util.errors.BenchError` with one
        line for a tensor that does not fit. Default: this model reads no foreign checkpoint."""
        raise NotImplementedError(f"{type(self).__name__} reads no foreign checkpoint")

    def generation_metrics(self) -> dict[str, Any]:
        """Numbers the model measured itself while generating the test split (stage timings,
        diversity over several outputs per input, ...), as
        ``{column: benchmark.results.records.MetricValue}``; added to its leaderboard row. Default: none."""
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
    #: True: ``check``, ``build`` and ``train_transform`` receive a :class:`Size` (height, width)
    #: and the model trains at any aspect ratio; False (the default): they receive one int side
    #: and a run at another aspect ratio than 1 stops before training with one line
    non_square: ClassVar[bool] = False

    def for_dataset(self, options: Options, data: DataFacts) -> Options:
        """Options with their dataset-dependent defaults filled in (e.g. an option left ``None``
        meaning "the source's setting for this dataset"); called once when the plan is built,
        and the returned options are the row's recorded ones. Default: unchanged."""
        return options

    def train_length(self, options: Options, profile: str) -> TrainLength:
        return TrainLength(steps=100, batch_size=1)

    def train_transform(self, options: Options, image_size: "int | Size") -> TrainTransform:
        return TrainTransform()

    def check(self, options: Options, image_size: "int | Size", num_classes: int) -> None:
        """Raise :class:`benchmark.util.errors.ConfigError` for option combinations that cannot work
        (``image_size``: a :class:`Size` for ``non_square`` models, else the side)."""

    def check_training(self, options: Options) -> None:
        """Raise :class:`benchmark.util.errors.BenchError` when training cannot work though evaluation can
        (e.g. a loss's weight file is missing); called when the plan is built, for rows that train
        (not for ``--checkpoint`` or zoo rows). Default: nothing."""

    def build(self, options: Options, num_classes: int, image_size: "int | Size") -> Trainable:
        raise NotImplementedError

    def describe(self, options: Options) -> str:
        """A short note shown in the leaderboard row (e.g. "no VGG loss")."""
        return ""

    def recognise_checkpoint(self, state: dict[str, torch.Tensor]) -> "ForeignCheckpoint | None":
        """``--checkpoint FILE`` (or a zoo row) whose file is not a bench checkpoint: the file's
        state dict (tensors only). Return a :class:`ForeignCheckpoint` when this family can read it
        (e.g. the official code's generator), else None. Default: None."""
        return None

    def multi_modal(self, options: Options) -> bool:
        """True when the generator samples (a noise input, a latent code from a prior): one label map
        gives many images, each reproducible, and :meth:`Trainable.generate_sample` gives the k-th.
        Diversity metrics ask such a model for several samples per label map. Default: False."""
        return False

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
    #: a 95% bootstrap interval over the images (benchmark.results.bootstrap)
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
    #: ``compute`` splits its work with ``ctx.shard``/``ctx.gather``: every data-parallel worker runs
    #: it (rank 0 records); False: rank 0 alone runs it while the other workers wait
    sharded: ClassVar[bool] = False
    #: ``eval_every`` measures it when ``eval_metrics`` is not set (as the run's first metric of its
    #: kind): False for a metric too costly to repeat during training (a large feature network)
    watch_by_default: ClassVar[bool] = True

    def compute(self, ctx: EvalContext, options: Options) -> MetricResult:
        raise NotImplementedError

    def check(self, options: Options) -> None:
        """Raise :class:`benchmark.util.errors.BenchError` (one line: what to download and import) when a
        file it needs under ``options`` is not at hand; asked by `bench zoo reproduce` before anything
        runs (never downloading). Default: nothing is needed."""

    def samples_per_map(self, options: Options, profile: str | None) -> int:
        """How many images per test label map ``compute`` reads from ``ctx.sample_dirs`` (a diversity
        metric asks for K > 1; ``profile``: smoke, quick, paper or None). The evaluation of a model
        that samples (:meth:`Model.multi_modal`) then writes that many per map, once for all metrics
        (the largest asked). Default: 1, the row's own images."""
        return 1
