"""Checkpoint files: written atomically with a checksum beside them, read safely (tensors only),
and checked against the model they are loaded into, each problem said in one line.

``step_N.pt`` is written with ``step_N.pt.sha256`` (the sha256 of its bytes, written before the
checkpoint appears): a file changed after it was written (a flipped bit loads as well-formed
tensors and turns a resumed run NaN) is refused before it is loaded, so ``--resume`` sets it aside
and continues from the previous checkpoint. A file without a checksum beside it (another tool's,
or an older bench's) is read unchecked."""

from __future__ import annotations

import pickle
import re
import warnings
import zipfile
from pathlib import Path

import torch

from benchmark.api import Options
from benchmark.data.archive import sha256_file
from benchmark.util.atomic import atomic_write, write_text
from benchmark.util.errors import BenchError, disk_full

HINT = "pass a checkpoint that bench wrote (results/runs/RUN/checkpoints/step_*.pt)"


def checksum_file(path: Path) -> Path:
    """Where the sha256 of checkpoint ``path`` is kept: ``step_N.pt.sha256`` beside it."""
    return Path(path).with_name(Path(path).name + ".sha256")


def save_checkpoint(state: dict, path: Path) -> None:
    path = Path(path)
    try:
        with atomic_write(path, binary=True) as fh:
            torch.save(state, fh)
            fh.flush()
            write_text(checksum_file(path), f"{sha256_file(Path(fh.temp_path))}  {path.name}\n")
    except Exception as exc:  # torch reports a full disk as a RuntimeError raised while handling ENOSPC
        raise disk_full(exc, path.parent) or exc


def remove_checkpoint(path: Path) -> None:
    """Delete a checkpoint and its checksum."""
    Path(path).unlink(missing_ok=True)
    checksum_file(path).unlink(missing_ok=True)


def set_aside(path: Path) -> Path:
    """Rename a damaged checkpoint (and its checksum) to ``*.damaged``; returns the new name."""
    path = Path(path)
    aside = path.with_name(path.name + ".damaged")
    path.rename(aside)
    if checksum_file(path).exists():
        checksum_file(path).rename(checksum_file(aside))
    return aside


def verify_checksum(path: Path) -> None:
    """One line if ``path`` differs from the sha256 written with it (no checksum file: unchecked)."""
    path = Path(path)
    try:
        expected = checksum_file(path).read_text(encoding="utf-8").split()[0]
    except (OSError, UnicodeDecodeError, IndexError):
        return
    if path.is_file() and sha256_file(path) != expected:
        raise BenchError(f"{path}: its sha256 differs from the one written with it ({checksum_file(path).name}): "
                         f"the file changed after it was written (a damaged disk or copy); {HINT}")


def load_checkpoint(path: Path) -> dict:
    """A checkpoint's dict, loaded with ``weights_only`` (tensors and plain data: no code in the file
    ever runs) after its checksum is verified; any other file is one line saying what it is not and
    what to pass instead."""
    verify_checksum(path)
    state = read_file(path)
    if not is_bench_checkpoint(state):
        raise BenchError(f"{path}: a PyTorch file but not a bench checkpoint (no 'model' entry); {HINT}")
    return state


def is_bench_checkpoint(state: object) -> bool:
    return isinstance(state, dict) and isinstance(state.get("model"), dict)


def tensors_of(state: object) -> dict[str, torch.Tensor] | None:
    """A file's flat state dict (names -> tensors), as other code bases save a network; else None."""
    if isinstance(state, dict) and state and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                  for k, v in state.items()):
        return dict(state)
    return None


def read_file(path: Path):
    """What a PyTorch file holds, loaded with ``weights_only``; any other file is one line."""
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"{path}: no such checkpoint file; {HINT}")
    if path.stat().st_size == 0:
        raise BenchError(f"{path}: an empty file, not a PyTorch checkpoint; {HINT}")
    try:
        with warnings.catch_warnings():  # e.g. a pickle protocol torch does not expect: the error says it
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        text = str(exc)
        code = re.search(r"unsupported GLOBAL (\S+)|Unsupported global: GLOBAL (\S+)", text)
        if code:
            raise BenchError(f"{path}: refused, it holds Python code objects ({code[1] or code[2]}) that could run "
                             f"when loaded, so it is not a bench checkpoint; {HINT}") from None
        if not zipfile.is_zipfile(path) or isinstance(exc, (pickle.UnpicklingError, EOFError, KeyError)):
            raise BenchError(f"{path}: not a PyTorch checkpoint (neither torch.save's zip format nor a readable "
                             f"legacy one); {HINT}") from None
        first = " ".join(text.split())[:160] or type(exc).__name__
        raise BenchError(f"{path}: a damaged or truncated PyTorch checkpoint ({first}); {HINT}") from None
    return state


def mismatch(model: torch.nn.Module, state: dict, options: Options, prefix: str) -> str | None:
    """The first difference between a model's tensors and a checkpoint's ``model`` state, as one
    sentence naming the tensor, both shapes and the options that likely differ; None if they fit."""
    own = model.state_dict()
    theirs = state["model"]
    for name, tensor in own.items():
        if name not in theirs:
            return f"the file has no tensor '{name}' that this model has; it is likely of another model or preset"
        file_shape, model_shape = tuple(theirs[name].shape), tuple(tensor.shape)
        if file_shape != model_shape:
            guesses = width_options(options, model_shape, prefix)
            likely = f"likely {' or '.join(guesses)} differs from the file's" if guesses else \
                "an option of the model (a width or depth) likely differs from the file's"
            return (f"tensor '{name}' has shape {list(file_shape)} in the file but {list(model_shape)} in the "
                    f"model built from these options; {likely}")
    extra = [k for k in theirs if k not in own]
    if extra:
        return f"the file has a tensor '{extra[0]}' this model lacks; it is likely of another model or preset"
    return None


def width_options(options: Options, shape: tuple[int, ...], prefix: str) -> list[str]:
    """Integer options whose value is a dimension of ``shape`` (then those dividing one): a width
    shows in the shapes of the tensors it sizes."""
    ints = [(k, v) for k, v in options.model_dump().items()
            if isinstance(v, int) and not isinstance(v, bool) and v > 1]
    exact = [(k, v) for k, v in ints if v in shape]
    divides = [(k, v) for k, v in ints if (k, v) not in exact and any(d % v == 0 for d in shape)]
    return [f"{prefix}.{k} (now {v})" for k, v in (exact + divides)[:2]]
