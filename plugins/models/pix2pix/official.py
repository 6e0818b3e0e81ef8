"""Generators saved by the official pix2pix code (pytorch-CycleGAN-and-pix2pix): recognise them, load them.

The official ``UnetGenerator`` (``unet_256``: 8 halvings, ``unet_128``: 7) nests one
skip-connection block per level; each block holds a ``model`` Sequential, so the
state dict spells the nesting out:

- level 1 (outermost), ``model.model.``: ``0`` the first conv (input_nc -> ngf), ``1``
  the next block, ``3`` the last transposed conv (2 ngf -> output_nc, with a bias);
- a middle level, ``...1.model.`` then ``...3.model.`` per level deeper: ``1`` the
  down conv, ``2`` its norm, ``3`` the next block, ``5`` the transposed conv, ``6`` its
  norm (dropout, where present, has no tensors);
- the innermost level: ``1`` the down conv to the 1x1 code, ``3`` its transposed conv,
  ``4`` that one's norm.

Widths are ngf, 2 ngf, 4 ngf, 8 ngf, 8 ngf, ... as in bench's U-Net, and the layer
order inside a level is the same. One difference: an official block returns
``cat([its input, its decoder output])`` where bench's decoder concatenates
``[decoder output, encoder skip]``, so the input channels of every transposed conv
that reads a concatenation (all but the innermost) are swapped by halves. (The
official down-path LeakyReLU works in place, so its skip carries LeakyReLU(x); the
decoder applies ReLU to it first, and ReLU(LeakyReLU(x)) = ReLU(x): the outputs agree.)

BatchNorm files have affine norms with running statistics and convs without biases;
InstanceNorm files have convs with biases and no affine norm (older releases also
stored instance-norm running statistics, which the official code does not use in
training mode and bench never uses: they are skipped).
"""

from __future__ import annotations

import torch

from benchmark import BenchError, ForeignCheckpoint
from benchmark import weights

OUTERMOST = "model.model."
FORMAT = "official pix2pix U-Net generator (pytorch-CycleGAN-and-pix2pix)"
NAMED_DEPTHS = {8: "unet_256", 7: "unet_128"}


def level_prefixes(state: dict[str, torch.Tensor]) -> list[str]:
    """The key prefix of each level's Sequential, outermost first, innermost last; one line when
    the nesting breaks off."""
    prefixes = [OUTERMOST]
    level = OUTERMOST + "1.model."
    while True:
        if level + "1.weight" not in state:
            raise BenchError(f"the checkpoint starts like the {FORMAT} ({OUTERMOST}0.weight) but has no tensor "
                             f"'{level}1.weight' (level {len(prefixes) + 1}'s down conv); it is not an official "
                             f"unet_128 / unet_256 generator")
        prefixes.append(level)
        if level + "3.model.1.weight" not in state:
            break
        level += "3.model."
    if level + "3.weight" not in state:
        raise BenchError(f"the checkpoint's innermost U-Net level has no tensor '{level}3.weight' (its transposed "
                         f"conv); it is not an official pix2pix unet_128 / unet_256 generator")
    return prefixes


def recognise(state: dict[str, torch.Tensor]) -> ForeignCheckpoint | None:
    """The bench options an official U-Net generator's tensors imply; None for any other file."""
    state = weights.strip_module_prefix(state)
    first = state.get(OUTERMOST + "0.weight")
    if not isinstance(first, torch.Tensor) or first.ndim != 4 or tuple(first.shape[2:]) != (4, 4):
        return None
    prefixes = level_prefixes(state)
    depth = len(prefixes)
    ngf, input_nc = int(first.shape[0]), int(first.shape[1])
    norm = "batch" if prefixes[1] + "2.weight" in state else "instance"
    last = state.get(OUTERMOST + "3.weight")
    net = NAMED_DEPTHS.get(depth, f"U-Net with {depth} halvings")
    return ForeignCheckpoint(
        format=f"{FORMAT}, {net}",
        options={"ngf": ngf, "norm": norm, "num_downs": depth,
                 "label_input": "colour" if input_nc == 3 else "onehot"},
        facts={"netG": net, "input_nc": input_nc,
               "output_nc": int(last.shape[1]) if isinstance(last, torch.Tensor) and last.ndim == 4 else None,
               "dropout": "not stored in the file; pix2pix.use_dropout decides (on, as the official code trains)"})


def module_pairs(depth: int) -> list[tuple[str, str, bool]]:
    """(official key prefix, bench generator module, swap the input-channel halves) for every layer with
    tensors."""
    pairs = [(OUTERMOST + "0.", "downs.0.block.0", False), (OUTERMOST + "3.", "out.1", True)]
    level = OUTERMOST + "1.model."
    for k in range(2, depth):  # middle levels
        up = f"ups.{depth - k}.block"
        pairs += [(level + "1.", f"downs.{k - 1}.block.1", False), (level + "2.", f"downs.{k - 1}.block.2", False),
                  (level + "5.", f"{up}.1", True), (level + "6.", f"{up}.2", False)]
        level += "3.model."
    pairs += [(level + "1.", f"downs.{depth - 1}.block.1", False), (level + "3.", "ups.0.block.1", False),
              (level + "4.", "ups.0.block.2", False)]
    return pairs


def convert(state: dict[str, torch.Tensor], generator: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The official tensors as ``generator``'s state dict; one line naming the key for a tensor that
    is missing, has another shape or has no place."""
    state = weights.strip_module_prefix(state)
    target = generator.state_dict()
    out: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    for official, ours, swap in module_pairs(generator.num_downs):
        names = [n for n in target if n.startswith(ours + ".")]
        for name in names:
            leaf = name[len(ours) + 1:]
            key = official + leaf
            expected = target[name]
            if key not in state:
                if leaf == "num_batches_tracked":  # files saved before torch 0.4.1 lack it
                    out[name] = expected.clone()
                    continue
                raise BenchError(f"the {FORMAT} checkpoint has no tensor '{key}', which bench's U-Net needs for "
                                 f"{name} {list(expected.shape)}; check pix2pix.norm / ngf against the file")
            tensor = state[key]
            used.add(key)
            if tuple(tensor.shape) != tuple(expected.shape):
                raise BenchError(f"tensor '{key}' of the {FORMAT} checkpoint has shape {list(tensor.shape)}, "
                                 f"but bench's U-Net needs {list(expected.shape)} there ({name}); the file does "
                                 f"not fit this row's options (ngf, norm, num_downs, label_input, classes)")
            if swap and leaf == "weight":
                half = tensor.shape[0] // 2  # official [skip, decoder] -> bench [decoder, skip]
                tensor = torch.cat([tensor[half:], tensor[:half]])
            out[name] = tensor.detach().to(expected.dtype).clone()
    skipped = ("running_mean", "running_var", "num_batches_tracked")
    extra = sorted(k for k in state if k not in used and not k.endswith(skipped))
    if extra:
        raise BenchError(f"tensor '{extra[0]}' of the {FORMAT} checkpoint has no place in bench's U-Net "
                         f"({len(extra)} such); the file's layout does not match its options")
    unused_stats = [k for k in state if k not in used and k.endswith(skipped[:2])]
    if unused_stats and any(n.endswith("running_mean") for n in target):
        raise BenchError(f"tensor '{unused_stats[0]}' of the {FORMAT} checkpoint has no place in bench's U-Net")
    return out
