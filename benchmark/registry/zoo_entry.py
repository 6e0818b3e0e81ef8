"""What a published checkpoint is: :class:`ZooEntry` and the check of a registered entry.
Finding entries and their files: :mod:`.zoo`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchmark.api import Size
from benchmark.registry.weight_spec import WeightSpec, command_to_import
from benchmark.registry.weight_spec import validate as validate_weights
from benchmark.util.errors import PluginError
from benchmark.util.imageio import QUANTIZATIONS, ROUND
from benchmark.util.names import check_name

SEPARATOR = "@"


@dataclass(frozen=True)
class Measurement:
    """Numbers of a published checkpoint under one protocol: its paper's, or a later re-measurement's.
    ``bench zoo reproduce`` measures the checkpoint under ``settings`` and shows its numbers beside these."""

    label: str  # e.g. "paper", "pytorch-fid re-measurement"
    source: str  # where the numbers are stated (a paper's table, an issue thread)
    #: the protocol as bench settings (``--set`` keys), e.g. ``{"fid.implementation": "pytorch-fid-2019"}``
    settings: dict[str, Any] = field(default_factory=dict)
    #: the numbers, under bench's column names (FID, mIoU, pixel acc)
    values: dict[str, float] = field(default_factory=dict)
    #: what is known of the protocol beyond the settings (said beside the numbers)
    note: str = ""
    #: the columns whose numbers are percentages where bench measures a fraction (mIoU 38.5 for 0.385)
    percent: tuple[str, ...] = ()


@dataclass(frozen=True)
class ZooEntry:
    """One published checkpoint. ``name`` is ``MODEL@TAG``."""

    model: str  # the bench model family, e.g. "spade"
    tag: str  # e.g. "ade20k-official"
    dataset: str  # the bench dataset it was trained on
    weights: WeightSpec  # the file in bench's weights cache
    source_url: str  # where it is published (a page or archive, or the file itself)
    licence: str
    paper: str  # the paper that reports the numbers, by title and venue
    #: the paper's numbers for this dataset, under bench's column names (FID, mIoU, pixel acc)
    reported: dict[str, float] = field(default_factory=dict)
    #: the official code's options that this checkpoint implies (label channels, sizes, norms)
    options: dict[str, Any] = field(default_factory=dict)
    #: options of the bench model (``model``'s Options) that the checkpoint needs and its tensors
    #: cannot tell (e.g. SPADE's ``num_upsampling_layers``), applied to the zoo row
    model_options: dict[str, Any] = field(default_factory=dict)
    #: where the file sits inside the download, when it is an archive
    member: str = ""
    summary: str = ""
    #: (height, width) the paper's numbers were measured at; a row of this entry is evaluated at it
    #: unless the user sets ``image_size`` or ``aspect_ratio``
    eval_size: tuple[int, int] | None = None
    #: the segmenter its paper's mIoU was measured with (``eval.segmenter``): a row of this entry uses
    #: it unless ``eval.segmenter`` is set (None: the dataset's default)
    segmenter: str | None = None
    #: the protocols its numbers were measured under, the paper's first (``bench zoo reproduce``)
    measurements: tuple[Measurement, ...] = ()
    #: how the official test script makes the generated images 8-bit: ``round`` (bench's) or
    #: ``truncate`` (``(x + 1) / 2 * 255`` cast to uint8); the row's images are written the same way
    quantization: str = ROUND

    @property
    def at(self) -> str | None:
        """``eval_size`` as papers write it (``WxH``)."""
        return None if self.eval_size is None else Size.of(self.eval_size).text()

    @property
    def name(self) -> str:
        return f"{self.model}{SEPARATOR}{self.tag}"

    def obtain(self) -> str:
        """How to get the file by hand, as one clause."""
        inside = f", take {self.member} out of it" if self.member else ""
        return (f"download {self.source_url}{inside} and run "
                f"`{command_to_import(self.weights, self.member.rsplit('/', 1)[-1] or 'FILE')}`")


def validate(entry: object, provider: str) -> None:
    """Refuse a malformed entry with one line naming the package that registered it."""
    if not isinstance(entry, ZooEntry):
        raise PluginError(f"{provider} registered a zoo entry {entry!r} that is not a ZooEntry; register one")
    check_name(entry.model, "zoo entry's model", provider)
    check_name(entry.tag, "zoo entry's tag", provider)
    validate_weights(entry.weights, provider)
    if entry.quantization not in QUANTIZATIONS:
        raise PluginError(f"{provider}: zoo entry {entry.name!r}: quantization {entry.quantization!r} is not one of "
                          f"{', '.join(QUANTIZATIONS)}; fix it")
