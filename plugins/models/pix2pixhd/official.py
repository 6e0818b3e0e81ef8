"""Generators saved by the official pix2pixHD code (NVIDIA/pix2pixHD ``latest_net_G.pth``): recognised from
their tensors and converted into bench's :class:`~.generator.Pix2PixHDGenerator`.

The official generator is one ``nn.Sequential`` per part, its keys numbered by layer position
(padding, norm and activation layers hold no tensors but take an index):

- ``netG global``: ``model.1`` the 7x7 front conv, ``model.{4+3i}`` the ``d`` downsamplings,
  ``model.{4+3d+j}.conv_block.{1,5}`` the ``b`` residual blocks' two convs, ``model.{4+3d+b+3i}``
  the transposed convs, ``model.{4+6d+b+1}`` the RGB conv;
- ``netG local``: ``model`` is the global generator without its last three layers (pad, RGB
  conv, tanh); enhancer ``n`` is ``model{n}_1`` (``.1`` 7x7 conv, ``.4`` stride-2 conv) and
  ``model{n}_2`` (``.{j}.conv_block.{1,5}`` its blocks, ``.{k}`` its transposed conv with ``k``
  blocks before it, ``.{k+4}`` the RGB conv of the last enhancer).

Instance norm without affine parameters (the official default ``norm instance``) keeps no
tensors, so a file with norm tensors (``norm batch``) is refused in one line. What the tensors tell:
``ngf``, the numbers of downsamplings, blocks and enhancers, and the input channels (the
dataset's classes + the instance-edge channel, decided with the dataset; + the encoder's
``feat_num`` when the generator was trained with ``instance_feat``, which the file alone cannot
tell: such files are read as label channels and refused by the dataset's class count).
"""

from __future__ import annotations

import re

import torch

from benchmark import BenchError, ForeignCheckpoint
from benchmark import weights

FORMAT = "official weights (NVIDIA/pix2pixHD)"
CONVS = ("weight", "bias")


def block_keys(ours: str, theirs: str) -> dict[str, str]:
    """A residual block's two convs: bench ``body.1`` / ``body.5``, official ``conv_block.1`` / ``.5``."""
    return {f"{ours}.body.{i}.{p}": f"{theirs}.conv_block.{i}.{p}" for i in (1, 5) for p in CONVS}


def conv_keys(ours: str, theirs: str) -> dict[str, str]:
    return {f"{ours}.{p}": f"{theirs}.{p}" for p in CONVS}


def key_map(*, n_downsample_global: int, n_blocks_global: int, n_local_enhancers: int,
            n_blocks_local: int) -> dict[str, str]:
    """bench's generator key -> the official key, for a generator of these options."""
    d, b, L = n_downsample_global, n_blocks_global, n_local_enhancers
    out = conv_keys("global_net.front.1", "model.1")
    for i in range(d):
        out |= conv_keys(f"global_net.down.{i}.0", f"model.{4 + 3 * i}")
        out |= conv_keys(f"global_net.up.{i}.0", f"model.{4 + 3 * d + b + 3 * i}")
    for j in range(b):
        out |= block_keys(f"global_net.blocks.{j}", f"model.{4 + 3 * d + j}")
    if L == 0:
        out |= conv_keys("global_net.rgb.1", f"model.{4 + 6 * d + b + 1}")
    k = n_blocks_local
    for n in range(1, L + 1):
        ours = f"enhancers.{n - 1}"
        out |= conv_keys(f"{ours}.front.1", f"model{n}_1.1") | conv_keys(f"{ours}.front.4", f"model{n}_1.4")
        for j in range(k):
            out |= block_keys(f"{ours}.blocks.{j}", f"model{n}_2.{j}")
        out |= conv_keys(f"{ours}.up.0", f"model{n}_2.{k}")
        if n == L:
            out |= conv_keys(f"{ours}.rgb.1", f"model{n}_2.{k + 4}")
    return out


def count(state: dict, pattern: str) -> int:
    return len({m.group(1) for key in state if (m := re.fullmatch(pattern, key))})


def recognise(state: dict) -> ForeignCheckpoint | None:
    """A :class:`ForeignCheckpoint` when ``state`` is an official pix2pixHD generator, else None."""
    state = weights.strip_module_prefix(state)
    front = state.get("model.1.weight")
    if front is None or front.dim() != 4 or tuple(front.shape[2:]) != (7, 7) or "fc.weight" in state:
        return None
    if not any(k.startswith("model.") and ".conv_block." in k for k in state):
        return None
    if any(k.endswith(("running_mean", "running_var")) for k in state) or "model.2.weight" in state:
        raise BenchError("the official pix2pixHD generator in this file has normalisation tensors (trained with "
                         "--norm batch); bench reads the official default --norm instance only")
    L = count(state, r"model(\d+)_1\.1\.weight")
    n_blocks = count(state, r"model\.(\d+)\.conv_block\.1\.weight")
    direct = count(state, r"model\.(\d+)\.weight")  # front, downsamplings, transposed convs (and RGB: global)
    d, odd = divmod(direct - 1 - (L == 0), 2)
    if odd or d < 1:
        raise BenchError(f"an official pix2pixHD generator has a front conv, d downsamplings and d transposed convs "
                         f"in 'model' (and its RGB conv in netG global); this file's 'model' has {direct} convs; "
                         f"the file is damaged or of another network")
    ngf_global = int(front.shape[0])
    ngf = int(state[f"model{L}_1.1.weight"].shape[0]) if L else ngf_global
    if ngf * 2 ** L != ngf_global:
        raise BenchError(f"an official pix2pixHD local enhancer's global generator has ngf * 2**{L} = {ngf * 2 ** L} "
                         f"channels, this file's has {ngf_global} (model.1.weight); the file is damaged")
    blocks_local = count(state, r"model1_2\.(\d+)\.conv_block\.1\.weight") if L else 3
    options = {"ngf": ngf, "n_downsample_global": d, "n_blocks_global": n_blocks, "n_local_enhancers": L,
               "n_blocks_local": blocks_local, "label_channels": int(front.shape[1]), "instance_feat": False}
    facts = {"netG": "local" if L else "global", "input_nc": int(front.shape[1]), "ngf": ngf,
             "n_downsample_global": d, "n_blocks_global": n_blocks, "n_local_enhancers": L}
    return ForeignCheckpoint(FORMAT, options, facts)


def convert(state: dict, own: dict[str, torch.Tensor], options) -> dict[str, torch.Tensor]:
    """The official tensors under the names of ``own`` (bench's generator state dict), every shape checked;
    the first tensor that does not fit is one line naming it in the file's terms."""
    state = weights.strip_module_prefix(state)
    names = key_map(n_downsample_global=options.n_downsample_global, n_blocks_global=options.n_blocks_global,
                    n_local_enhancers=options.n_local_enhancers, n_blocks_local=options.n_blocks_local)
    out = {}
    for key, tensor in own.items():
        theirs = names.get(key)
        if theirs is None or theirs not in state:
            raise BenchError(f"the file has no tensor '{theirs or key}' that the official pix2pixHD generator of "
                             f"these options has; it was trained with other options (netG, n_downsample_global, "
                             f"n_blocks_global, n_local_enhancers) or is damaged")
        if tuple(state[theirs].shape) != tuple(tensor.shape):
            raise BenchError(f"tensor '{theirs}' has shape {list(state[theirs].shape)} in the file but "
                             f"{list(tensor.shape)} in the generator built from these options (bench's '{key}'); "
                             f"the file is not a generator for this dataset, or an option differs from its "
                             f"training options")
        out[key] = state[theirs].to(tensor.dtype)
    used = set(names.values())
    extra = [k for k in state if k not in used]
    if extra:
        raise BenchError(f"the file has a tensor '{extra[0]}' that bench's pix2pixHD generator lacks; it is not a "
                         f"generator of the official pix2pixHD code or was trained with other options")
    return out
