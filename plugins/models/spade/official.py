"""Generators saved by the official SPADE code (NVlabs/SPADE ``latest_net_G.pth``): recognised from
their tensors and converted into bench's :class:`~.generator.SPADEGenerator`.

The official generator is the same network under other names:

- blocks sit at the top level (``head_0``, ``G_middle_0``, ..., ``up_4``), bench's under ``blocks.``;
- SPADE's layers are ``mlp_shared.0`` / ``mlp_gamma`` / ``mlp_beta`` (bench: ``shared.0`` / ``gamma`` /
  ``beta``); its parameter-free norm (synchronized batch norm, ``param_free_norm``) keeps its running
  statistics under the same names in both;
- spectral norm is torch's first implementation (``weight_orig``, ``weight_u``, ``weight_v``; files of
  its earliest version hold the normalised ``weight`` instead of ``weight_v``), bench's the
  parametrisation (``parametrizations.weight.original``, ``...weight.0._u``, ``...weight.0._v``). In eval mode both divide the
  stored weight by ``u . (W v)`` of the stored vectors, without a power iteration.

What the tensors tell: VAE or not (``fc`` a linear layer or a conv), ``ngf`` (``fc`` / ``head_0``),
``z_dim``, the width of SPADE's shared conv, spectral norm or not, batch or instance norm (running
statistics or none), 7 upsamplings (``up_4``) and the label channels. What they cannot tell: 5 or 6
upsamplings (``normal`` / ``more``: the same tensors), asked for with one line, and which of the
dontcare and instance-edge channels the label channels hold (decided with the dataset, see
``Spade.for_dataset``).
"""

from __future__ import annotations

import torch

from benchmark import BenchError, ForeignCheckpoint
from benchmark import weights

from bench_plugins.models import official_state
from bench_plugins.models.official_state import SPECTRAL

FORMAT = "official weights (NVlabs/SPADE)"
BLOCKS = ("head_0", "G_middle_0", "G_middle_1", "up_0", "up_1", "up_2", "up_3", "up_4")
SPADE_LAYERS = {"mlp_shared.0": "shared.0", "mlp_gamma": "gamma", "mlp_beta": "beta"}


def recognise(state: dict) -> ForeignCheckpoint | None:
    """A :class:`ForeignCheckpoint` when ``state`` is an official SPADE generator, else None."""
    state = weights.strip_module_prefix(state)
    fc, img = state.get("fc.weight"), state.get("conv_img.weight")
    shared = state.get("head_0.norm_0.mlp_shared.0.weight")
    if fc is None or img is None or shared is None or shared.dim() != 4 or img.dim() != 4:
        return None
    vae = fc.dim() == 2
    if vae:
        conv = state.get("head_0.conv_0.weight_orig", state.get("head_0.conv_0.weight"))
        if conv is None:
            return None
        width = conv.shape[0]
    elif fc.dim() == 4:
        width = fc.shape[0]
    else:
        return None
    if width % 16:
        raise BenchError(f"an official SPADE generator's first block must have 16 * ngf channels, this one has "
                         f"{width} (head_0); the file is damaged or of another network")
    ngf = width // 16
    most = any(k.startswith("up_4.") for k in state)
    options = {"ngf": ngf, "use_vae": vae, "spade_hidden": int(shared.shape[0]),
               "spectral_G": "head_0.conv_0.weight_orig" in state,
               "norm_G": "batch" if "head_0.norm_0.param_free_norm.running_mean" in state else "instance",
               "label_channels": int(shared.shape[1]), "block_activation": "lrelu", "noise": False,
               "block_styles": False, "style_mixing": 0.0}
    if vae:
        options["z_dim"] = int(fc.shape[1])
    if most:
        options["num_upsampling_layers"] = "most"
    kernel = tuple(shared.shape[2:])
    if kernel != (3, 3):
        raise BenchError(f"the official SPADE generator's SPADE layers use {kernel[0]}x{kernel[1]} convs "
                         f"(head_0.norm_0.mlp_shared.0.weight {list(shared.shape)}); bench's SPADE has 3x3 ones "
                         f"(the official default spectralspadesyncbatch3x3)")
    facts = {"label_channels": int(shared.shape[1]), "ngf": ngf, "vae": vae, "spectral": options["spectral_G"],
             "norm": options["norm_G"]}
    return ForeignCheckpoint(FORMAT, options, facts, undetermined=() if most else ("num_upsampling_layers",))


def bench_key(key: str) -> str:
    """The bench generator's name of an official tensor (a name that is not converted stays as it is)."""
    block, _, rest = key.partition(".")
    if block not in BLOCKS:
        return key
    layer, _, leaf = rest.rpartition(".")
    for theirs, ours in SPADE_LAYERS.items():
        if layer.endswith("." + theirs):
            layer = layer[: -len(theirs)] + ours
    if leaf in SPECTRAL:
        return f"blocks.{block}.{layer}.{SPECTRAL[leaf]}"
    return f"blocks.{block}.{layer}.{leaf}"


def official_key(key: str) -> str:
    """The official name of a bench generator tensor (for the messages)."""
    if not key.startswith("blocks."):
        return key
    theirs = key[len("blocks."):]
    for official, ours in SPADE_LAYERS.items():
        theirs = theirs.replace("." + ours + ".", "." + official + ".")
    for official, ours in SPECTRAL.items():
        theirs = theirs.replace(ours, official)
    return theirs


def convert(state: dict, own: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The official tensors under the names of ``own`` (bench's generator state dict), every shape checked;
    the first tensor that does not fit is one line naming it in the file's terms."""
    return official_state.convert(state, own, bench_key, official_key, "SPADE",
                                  "num_upsampling_layers, spectral norm or the norm")
