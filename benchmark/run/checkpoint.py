"""Checkpoint files: written atomically, read safely (tensors only), and checked against the
model they are loaded into, each problem said in one line."""

from __future__ import annotations

import pickle
import re
import warnings
import zipfile
from pathlib import Path

import torch

from benchmark.api import Options
from benchmark.util.atomic import atomic_write
from benchmark.util.errors import BenchError, disk_full

HINT = "pass a checkpoint that bench wrote (results/runs/RUN/checkpoints/step_*.pt)"


def save_checkpoint(state: dict, path: Path) -> None:
    try:
        with atomic_write(path, binary=True) as fh:
            torch.save(state, fh)
    except Exception as exc:  # torch reports a full disk as a RuntimeError raised while handling ENOSPC
        raise disk_full(exc, path.parent) or exc


def load_checkpoint(path: Path) -> dict:
    """A checkpoint's dict, loaded with ``weights_only`` (tensors and plain data: no code in the file
    ever runs); any other file is one line saying what it is not and what to pass instead."""
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
