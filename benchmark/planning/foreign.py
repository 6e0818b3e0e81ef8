"""Checkpoints written by other code bases (e.g. a method's official release), evaluated without training.

``bench run --models M --checkpoint FILE`` with a FILE that is not a bench checkpoint, and every zoo
row ``MODEL@TAG`` (its imported file), go through here when the plan is built:

1. the file is loaded with ``weights_only`` (tensors only: no code in it runs) and handed to the row's
   model plugin (``Model.recognise_checkpoint``), which says what it is and which options its tensors
   imply (a file it does not recognise: one line);
2. those options are applied to the row over its defaults and profile: a value the user set
   differently (``--set``, a config file, the row's preset) stops the run with one line naming the
   option; an option the tensors cannot tell (``ForeignCheckpoint.undetermined``) comes from the
   user or the zoo entry's ``model_options``, else one line says ``--set MODEL.X=VALUE``;
3. the row is labelled ``MODEL@TAG`` (zoo) or ``MODEL@official-<first 8 hex digits of the sha256>``
   (so that it never replaces a trained row of the model), its note says what the weights are (and
   the paper's numbers for a zoo row), and its plan records the format, the file and its sha256.

Execution then builds the trainable, ``Trainable.load_foreign`` converts the tensors (on the CPU),
and the test split is generated (in plain fp32 whatever the run's precision, as the official test
scripts do) and measured; nothing of training is needed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from benchmark.api import ForeignCheckpoint, Model
from benchmark.data.archive import sha256_file
from benchmark.registry.zoo import published_note
from benchmark.planning.checkpoint import HINT, is_bench_checkpoint, read_file, tensors_of
from benchmark.planning.config import Layers, Row, merge, validate_options
from benchmark.util.errors import BenchError, ConfigError
from benchmark.util.imageio import ROUND


@dataclass(frozen=True)
class ForeignWeights:
    """A recognised file of another code base, ready to load into a row's trainable."""

    path: Path
    sha256: str
    found: ForeignCheckpoint
    #: the zoo entry (``MODEL@TAG``) the file is the published checkpoint of, and its paper's numbers
    zoo: str | None = None
    published: dict | None = None
    #: how the generated images become 8-bit: the zoo entry's official test script's way, else bench's
    quantization: str = ROUND
    state: dict[str, torch.Tensor] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """What the row's plan records."""
        out = {"format": self.found.format, "file": str(self.path), "sha256": self.sha256,
               "facts": dict(self.found.facts), "generation": "fp32 (no autocast, no TF32)"}
        if self.zoo:
            out.update(zoo=self.zoo, published=self.published, quantization=self.quantization)
        return out

    def note(self) -> str:
        return "; ".join(filter(None, [self.found.format, published_note(self.published)]))


def quantization_of(row: Row) -> str:
    """How a row's generated images become 8-bit: its zoo entry's official test script's way, else ``round``."""
    return row.foreign.quantization if row.foreign is not None else ROUND


#: the run protocol's record of images written by truncation (rows without the key were rounded)
TRUNCATED = "truncate: (x + 1) / 2 * 255 in float32, clipped, cast to uint8 (the official test script)"


@contextlib.contextmanager
def full_fp32():
    """Generation in plain fp32 on CUDA too (TF32 off for the while): the images of another code base's
    weights are compared with that code's own, pixel for pixel."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def read(path: Path, plugin: Model) -> ForeignWeights | None:
    """None for a bench checkpoint (loaded as before); else the file as ``plugin`` recognises it."""
    path = Path(path)
    content = read_file(path)
    if is_bench_checkpoint(content):
        return None
    tensors = tensors_of(content)
    try:
        found = plugin.recognise_checkpoint(tensors) if tensors is not None else None
    except BenchError as exc:
        raise BenchError(f"{path}: {exc}") from None
    if found is None:
        what = "a flat state dict" if tensors is not None else f"a {type(content).__name__} of other things"
        raise BenchError(f"{path}: neither a bench checkpoint (no 'model' entry) nor a checkpoint of another code "
                         f"base that {plugin.name} reads ({what}); {HINT}, or the official code's generator")
    return ForeignWeights(path, sha256_file(path), found, state=tensors)


def apply(row: Row, weights: ForeignWeights, layers: Layers, token: str,
          given: dict[str, Any] | None = None) -> Row:
    """The row with the options the file implies (and ``given``: a zoo entry's), checked against the
    user's own settings, labelled and marked as evaluating these weights."""
    plugin, name, found = row.plugin, row.plugin.name, weights.found
    where = weights.zoo or str(weights.path)
    explicit: dict[str, Any] = dict(plugin.presets[row.preset].options)
    for key in (name, row.label, token):
        explicit = merge(explicit, layers.plugins.get(key, {}))
    given = dict(given or {})
    for key, value in given.items():
        if key in found.options and found.options[key] != value:
            raise BenchError(f"{where}: {weights.path}'s tensors give {name}.{key}={found.options[key]!r}, but the "
                             f"entry says {value!r}: the file is not this entry's checkpoint")
    implied = {**given, **found.options}
    theirs = validate_options(plugin.Options, implied, name)
    ours = validate_options(plugin.Options, explicit, name)
    for key in implied:
        if key in explicit and getattr(ours, key) != getattr(theirs, key):
            raise ConfigError(f"{where}: the checkpoint has {name}.{key}={getattr(theirs, key)!r} ({found.format}), "
                              f"but it is set to {getattr(ours, key)!r}; remove that setting (the file decides it)")
    for key in found.undetermined:
        if key not in explicit and key not in implied:
            raise ConfigError(f"{where}: {name}.{key} cannot be read from the checkpoint's tensors; say what it "
                              f"was trained with: --set {name}.{key}=VALUE{allowed(plugin, key)}")
    options = validate_options(plugin.Options, {**row.options.model_dump(), **implied}, name)  # the user's kept
    label = weights.zoo or f"{row.label}@official-{weights.sha256[:8]}"
    return dataclasses.replace(row, label=label, options=options, foreign=weights)


def allowed(plugin: Model, key: str) -> str:
    """`` (one of a, b, c)`` for an option whose values are a fixed set."""
    info = plugin.Options.model_fields.get(key)
    values = typing.get_args(info.annotation) if info is not None else ()
    if values and typing.get_origin(info.annotation) is typing.Literal:
        return f" (one of {', '.join(map(str, values))})"
    return ""


def row_note(row: Row) -> str:
    """The leaderboard note of a row: what its weights are, then the model's own note."""
    own = row.plugin.describe(row.options)
    if row.foreign is None:
        return own
    return "; ".join(filter(None, [row.foreign.note(), own]))
