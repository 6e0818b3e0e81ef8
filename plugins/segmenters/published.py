"""What the standard segmenters of semantic image synthesis papers share: published weight files
read into bench's own module trees with ``strict=True``, a check that stops a run before any
training when a file is missing, and the record of the published evaluation in the protocol.

Some training code saves buffers that no forward pass reads beside BatchNorm's statistics (the
synchronized BatchNorm of CSAILVision/semantic-segmentation-pytorch: ``_tmp_running_mean``,
``_tmp_running_var``, ``_running_iter``); a segmenter names them in ``bookkeeping`` and they are
dropped by name, under a BatchNorm of its module tree only, before the strict load. Every other key
stays strict: anything else unexpected is refused with one line naming it.

A :class:`PublishedSegmenter` names its weight files (``specs``), the network that reads them
(``build``), the dataset it was trained for and how it reads photos (``forward``: (N,3,H,W)
photos in [0, 1] -> (N,C,H,W) scores at the photos' size). When its classes are not the
dataset's ids (Cityscapes: 19 train ids against bench's 35 label ids), ``target_ids`` maps each
dataset id to a class of the segmenter (255: not counted) and mIoU is computed over its
classes, as the published evaluation does.
"""

from __future__ import annotations

from typing import Callable, ClassVar

import torch

from benchmark import BenchError, EvalContext, Options, Segmenter, SegmenterModel, WeightsError, WeightSpec, hookimpl
from benchmark import weights

IGNORED = 255
TRAINED = "--set eval.segmenter=trained"


def read_state_dict(path) -> dict:
    """The tensors of a published file: a state dict, possibly under ``state_dict`` and with the
    ``module.`` prefix of a DataParallel wrapper."""
    state = weights.unwrap_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    if not isinstance(state, dict):
        raise WeightsError(f"{path} holds a {type(state).__name__}, not a state dict")
    return weights.strip_module_prefix(state)


def without_bookkeeping(state: dict, net: torch.nn.Module, names: tuple[str, ...]) -> dict:
    """``state`` less the buffers ``names`` of each BatchNorm of ``net`` (``layer1.0.bn1._running_iter``);
    the same name anywhere else stays, so that the strict load refuses it."""
    if not names:
        return state
    norms = [n for n, m in net.named_modules() if isinstance(m, torch.nn.modules.batchnorm._NormBase)]
    dropped = {f"{n}.{b}" if n else b for n in norms for b in names}
    return {k: v for k, v in state.items() if k not in dropped}


def layout_check(build: Callable[[], torch.nn.Module], what: str,
                 bookkeeping: tuple[str, ...] = ()) -> Callable[[dict], "str | None"]:
    """A ``WeightSpec.check``: None when a state dict has every tensor of ``build()`` with its
    shape (BatchNorm's ``num_batches_tracked``, absent from older files, may be missing) and
    nothing else but the ``bookkeeping`` buffers of its BatchNorms."""

    def check(state: dict) -> str | None:
        state = weights.strip_module_prefix(state)
        with torch.device("meta"):
            net = build()
        expected = net.state_dict()
        state = without_bookkeeping(state, net, bookkeeping)
        needed = [k for k in expected if not k.endswith("num_batches_tracked")]
        missing = [k for k in needed if k not in state]
        if missing:
            return f"lacks {len(missing)} of {what}'s {len(needed)} tensors (first: {missing[0]})"
        extra = [k for k in state if k not in expected]
        if extra:
            more = f" and {len(extra) - 1} more" if len(extra) > 1 else ""
            return f"has tensor {extra[0]!r}{more} that {what} lacks"
        for key in needed:
            got = tuple(getattr(state[key], "shape", ()))
            if got != tuple(expected[key].shape):
                return f"has {key} of shape {got}, expected {tuple(expected[key].shape)} for {what}"
        return None

    return check


def load_strict(net: torch.nn.Module, state: dict, what: str, source: str) -> torch.nn.Module:
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).replace("\n", " ")[:240]
        raise WeightsError(f"{source} is not {what} in the published key layout ({first}); import the "
                           f"published file") from None
    return net.eval()


class PublishedModel(SegmenterModel):
    def __init__(self, segmenter: "PublishedSegmenter", net: torch.nn.Module, options: Options,
                 device: torch.device, protocol: dict):
        self.segmenter, self.net, self.options, self.device = segmenter, net.to(device), options, device
        self.protocol = protocol
        self.classes = segmenter.classes
        self.target_ids = segmenter.target_table()

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        size = images.shape[-2:]
        scores = self.segmenter.forward(self.net, images.to(self.device).float(), self.options)
        if scores.shape[-2:] != size:
            scores = torch.nn.functional.interpolate(scores, size=size, mode="bilinear", align_corners=False)
        return scores.argmax(1)


class PublishedSegmenter(Segmenter):
    """A published network and its weight files; subclasses fill in the class variables."""

    #: the dataset it was trained for (a different dataset stops the run)
    dataset: ClassVar[str]
    #: the weight files, in the order ``build_from`` reads them
    specs: ClassVar[tuple[WeightSpec, ...]]
    #: the classes it predicts when they are not the dataset's ids (else None)
    classes: ClassVar[list[str] | None] = None
    #: dataset id -> its class (``IGNORED``: not counted), when ``classes`` is set
    target_map: ClassVar[dict[int, int] | None] = None
    #: number of the dataset's classes it predicts (checked at load)
    num_classes: ClassVar[int]
    #: the published evaluation, recorded in the protocol
    preprocessing: ClassVar[str] = ""
    #: buffers its training code saves beside each BatchNorm's statistics that no forward pass
    #: reads; dropped by name before the strict load (see the module's docstring)
    bookkeeping: ClassVar[tuple[str, ...]] = ()

    def build(self) -> torch.nn.Module:
        raise NotImplementedError

    def state_from(self, paths: list) -> dict:
        """The state dict of :meth:`build` from the files of ``specs`` (one file: itself)."""
        return read_state_dict(paths[0])

    def forward(self, net: torch.nn.Module, images: torch.Tensor, options: Options) -> torch.Tensor:
        raise NotImplementedError

    def describe_options(self, options: Options) -> str:
        return ""

    def target_table(self) -> torch.Tensor | None:
        if self.target_map is None:
            return None
        table = torch.full((256,), IGNORED, dtype=torch.int64)
        for dataset_id, own in self.target_map.items():
            table[dataset_id] = own
        return table

    def check(self, options: Options) -> None:
        """Stop before any training when a weight file is missing: one line naming each missing file,
        its source and the alternative."""
        problems = []
        for spec in self.specs:
            try:
                weights.resolve(spec)
            except WeightsError as e:
                problems.append(str(e))
        if problems:
            raise WeightsError(f"the standard mIoU segmenter {self.name!r} of {self.dataset} needs its "
                               f"published weights: {'; '.join(problems)}; or measure with a segmenter bench trains "
                               f"({TRAINED}: a different protocol, never ranked with this one)")

    def load(self, ctx: EvalContext, options: Options) -> PublishedModel:
        if ctx.num_classes != self.num_classes:
            raise BenchError(f"segmenter {self.name!r} was trained for {self.dataset} ({self.num_classes} classes), "
                             f"but dataset '{ctx.dataset or '?'}' has {ctx.num_classes}; use {TRAINED}")
        self.check(options)
        paths = [weights.resolve(spec) for spec in self.specs]
        shown = " + ".join(p.name for p in paths)
        try:
            state = self.state_from(paths)
        except WeightsError as e:
            raise WeightsError(f"weights of {self.name!r}: {e}; import the published file") from None
        except Exception as exc:  # a file torch cannot read
            raise WeightsError(f"weights of {self.name!r}: {shown} cannot be read ({type(exc).__name__}: "
                               f"{str(exc)[:200]}); import the published file") from None
        net = self.build()
        net = load_strict(net, without_bookkeeping(state, net, self.bookkeeping), self.summary.split(":")[0], shown)
        sums = ", ".join(f"{p.name} (sha256 {weights.recorded_sha256(s)})" for p, s in zip(paths, self.specs))
        protocol = {"segmenter": f"{self.name}: {sums}", "segmenter_preprocessing": self.preprocessing,
                    "segmenter_input": self.describe_options(options)}
        if self.classes is not None:
            protocol["segmenter_classes"] = f"{len(self.classes)} ({', '.join(self.classes)})"
            protocol["segmenter_label_map"] = "dataset ids -> the segmenter's train ids, others ignored"
        return PublishedModel(self, net, options, ctx.device, protocol)


def hooks(*segmenters: "PublishedSegmenter"):
    """The plugin module's two hook implementations for its published segmenters: it registers each
    segmenter and its weight files (``register_segmenters, register_weights = hooks(Net())``)."""

    @hookimpl
    def register_segmenters(register):
        for segmenter in segmenters:
            register(segmenter)

    @hookimpl
    def register_weights(register):
        for segmenter in segmenters:
            for spec in segmenter.specs:
                register(spec)

    return register_segmenters, register_weights
