"""Generators saved by the official OASIS code (boschresearch/OASIS ``models/best_EMA.pth``, the EMA
generator its test script loads): recognised from their tensors and converted into bench's
:class:`~.generator.OasisGenerator`.

The official generator is the same network under other names:

- ``fc``, ``body.0`` ... ``body.5`` and ``conv_img`` are named alike; the official code always builds six
  blocks (widths 16, 16, 16, 8, 4, 2, 1 x ``channels_G``);
- SPADE's layers are ``first_norm`` / ``mlp_shared.0`` / ``mlp_gamma`` / ``mlp_beta`` (bench:
  ``param_free_norm`` / ``shared.0`` / ``gamma`` / ``beta``); synchronized batch norm keeps its running
  statistics under the usual names;
- spectral norm is torch's first implementation (``weight_orig``, ``weight_u``, ``weight_v``), bench's the
  parametrisation (see :mod:`bench_plugins.models.official_state`). The EMA file averages ``u`` and ``v``
  too; both implementations use the stored vectors as they are in eval mode.

What the tensors tell: ``channels_G`` (``conv_img``), SPADE's hidden width, spectral norm or not, batch
or instance norm, and how many channels the generator reads: label channels and noise channels
together (the noise is concatenated before the labels). They cannot tell the two apart; a file that
reads more than 64 channels is read as the official ``z_dim`` 64 (all three releases), one that reads
64 or fewer as ``--no_3dnoise``. Which of the label channels is the dontcare one is decided with the
dataset (``Oasis.for_dataset``): ADE20K 151 and COCO-Stuff 183 channels (dontcare first), Cityscapes 35
(its labelIds 0..33 and one channel never set, bench's license plate id 34).
"""

from __future__ import annotations

import torch

from benchmark import BenchError, ForeignCheckpoint
from benchmark import weights

from bench_plugins.models import official_state
from bench_plugins.models.official_state import SPECTRAL

FORMAT = "official weights (boschresearch/OASIS)"
#: the noise channels of every released generator (config.py's default ``--z_dim``)
OFFICIAL_Z_DIM = 64
BLOCKS = 6
SPADE_LAYERS = {"first_norm": "param_free_norm", "mlp_shared.0": "shared.0", "mlp_gamma": "gamma",
                "mlp_beta": "beta"}


def recognise(state: dict) -> ForeignCheckpoint | None:
    """A :class:`ForeignCheckpoint` when ``state`` is an official OASIS generator, else None."""
    state = weights.strip_module_prefix(state)
    fc, img = state.get("fc.weight"), state.get("conv_img.weight")
    shared = state.get("body.0.norm_0.mlp_shared.0.weight")
    if fc is None or img is None or shared is None or fc.dim() != 4 or img.dim() != 4 or shared.dim() != 4:
        return None
    blocks = {int(k.split(".")[1]) for k in state if k.startswith("body.") and k.split(".")[1].isdigit()}
    if blocks != set(range(BLOCKS)):
        raise BenchError(f"an official OASIS generator has the blocks body.0 ... body.{BLOCKS - 1}, this file has "
                         f"{len(blocks)} ({', '.join(f'body.{b}' for b in sorted(blocks))}); the file is damaged or "
                         f"of another network")
    ngf = int(img.shape[1])
    if fc.shape[0] != 16 * ngf:
        raise BenchError(f"an official OASIS generator's first conv has 16 * channels_G = {16 * ngf} outputs "
                         f"(conv_img reads {ngf}), this one has {fc.shape[0]} (fc.weight); the file is damaged or "
                         f"of another network")
    kernel = tuple(shared.shape[2:])
    if kernel != (3, 3):
        raise BenchError(f"the official OASIS generator's SPADE layers use {kernel[0]}x{kernel[1]} convs "
                         f"(body.0.norm_0.mlp_shared.0.weight {list(shared.shape)}, --spade_ks); bench's SPADE "
                         f"has 3x3 ones (the official default)")
    reads = int(fc.shape[1])
    z_dim = OFFICIAL_Z_DIM if reads > OFFICIAL_Z_DIM else 0
    options = {"ngf": ngf, "num_res_blocks": BLOCKS, "z_dim": z_dim, "spade_hidden": int(shared.shape[0]),
               "spectral": "body.0.conv_0.weight_orig" in state,
               "norm_G": "batch" if "body.0.norm_0.first_norm.running_mean" in state else "instance",
               "label_channels": reads - z_dim}
    facts = {"input_channels": reads, "label_channels": reads - z_dim, "z_dim": z_dim, "ngf": ngf,
             "spectral": options["spectral"], "norm": options["norm_G"],
             "noise": f"{z_dim} channels assumed (the official default; the tensors hold label and noise "
                      f"channels together)" if z_dim else "no 3D noise (the file reads 64 channels or fewer)"}
    return ForeignCheckpoint(FORMAT, options, facts)


def bench_key(key: str) -> str:
    """The bench generator's name of an official tensor (a name that is not converted stays as it is)."""
    if not key.startswith("body."):
        return key
    layer, _, leaf = key.rpartition(".")
    for theirs, ours in SPADE_LAYERS.items():
        if layer.endswith("." + theirs):
            layer = layer[: -len(theirs)] + ours
    return f"{layer}.{SPECTRAL.get(leaf, leaf)}"


def official_key(key: str) -> str:
    """The official name of a bench generator tensor (for the messages)."""
    for official, ours in SPECTRAL.items():
        key = key.replace(ours, official)
    for official, ours in SPADE_LAYERS.items():
        key = key.replace("." + ours + ".", "." + official + ".")
    return key


def convert(state: dict, own: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The official tensors under the names of ``own`` (bench's generator state dict), every shape checked;
    the first tensor that does not fit is one line naming it in the file's terms."""
    return official_state.convert(state, own, bench_key, official_key, "OASIS", "spectral norm or the norm")
