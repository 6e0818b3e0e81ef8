"""An official generator's state dict under bench's names: tensors renamed, spectral norm's stored vectors
kept (or solved for), every shape checked, and the first tensor that does not fit named in one line.

Both the SPADE and the OASIS official code wrap their convs in torch's first spectral-norm API
(``weight_orig``, ``weight_u``, ``weight_v``; files of its earliest version hold the normalised ``weight``
instead of ``weight_v``); bench's generators use the parametrisation (``parametrizations.weight.original``,
``...weight.0._u``, ``...weight.0._v``). In eval mode both divide the stored weight by ``u . (W v)`` of the
stored vectors, without a power iteration, so the stored vectors are copied as they are.
"""

from __future__ import annotations

from typing import Callable

import torch

from benchmark import BenchError
from benchmark import weights

SPECTRAL = {"weight_orig": "parametrizations.weight.original", "weight_u": "parametrizations.weight.0._u",
            "weight_v": "parametrizations.weight.0._v"}


def solve_v(weight_orig: torch.Tensor, weight: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """A ``v`` for a file of spectral norm's first version (it kept the normalised ``weight``, not ``v``):
    one for which ``u . (W v)`` is the sigma that the file's two weights imply (their mean ratio)."""
    matrix = weight_orig.reshape(weight_orig.shape[0], -1).double()
    sigma = (weight_orig.double() / weight.double()).mean()
    v = matrix.t() @ u.double()
    return (v * sigma / torch.dot(u.double(), matrix @ v)).to(weight_orig.dtype)


def convert(state: dict, own: dict[str, torch.Tensor], rename: Callable[[str], str],
            official_name: Callable[[str], str], family: str, hint: str) -> dict[str, torch.Tensor]:
    """The official tensors under the names of ``own`` (bench's generator state dict). ``rename`` maps an
    official key to bench's, ``official_name`` back (for the messages); ``family`` names the code base
    (``SPADE``) and ``hint`` the options a missing tensor points at."""
    state = weights.strip_module_prefix(state)
    out: dict[str, torch.Tensor] = {}
    origin: dict[str, str] = {}
    for key, tensor in state.items():
        if key.endswith(".weight") and key[: -len("weight")] + "weight_orig" in state:
            continue  # spectral norm's first version: used below to solve for v
        target = rename(key)
        out[target], origin[target] = tensor, key
    for key in [k for k in state if k.endswith(".weight_orig")]:
        stem = key[: -len("_orig")]
        if stem + "_v" not in state and stem in state and stem + "_u" in state:
            target = rename(stem + "_v")
            out[target] = solve_v(state[key], state[stem], state[stem + "_u"])
            origin[target] = stem
    for key, tensor in own.items():
        if key.endswith("num_batches_tracked") and key not in out:
            out[key] = torch.zeros_like(tensor)  # files of older torch versions lack the counter; eval ignores it
    for key, tensor in own.items():
        if key not in out:
            raise BenchError(f"the file has no tensor '{official_name(key)}' that the official {family} generator "
                             f"of these options has; it was trained with other options (e.g. {hint}) or is "
                             f"damaged")
        if tuple(out[key].shape) != tuple(tensor.shape):
            raise BenchError(f"tensor '{origin[key]}' has shape {list(out[key].shape)} in the file but "
                             f"{list(tensor.shape)} in the generator built from these options (bench's "
                             f"'{key}'); the file is not a generator for this dataset and size, or an option "
                             f"differs from its training options")
        out[key] = out[key].to(tensor.dtype)
    extra = [origin[k] for k in out if k not in own]
    if extra:
        raise BenchError(f"the file has a tensor '{extra[0]}' that bench's {family} generator lacks; it is not a "
                         f"generator of the official {family} code")
    return out
