"""The ImageNet VGG19 feature network, shared by perceptual losses and style-transfer encoders.

VGG19 (from "Very Deep Convolutional Networks for Large-Scale Image Recognition")
trained on ImageNet is the usual feature extractor of perceptual losses (SPADE's VGG
loss, pix2pixHD) and of photorealistic style transfer (PhotoWCT's encoders). bench uses
torchvision's file ``vgg19-dcbb9e9d.pth`` and only its ``features`` part: 16 3x3
convolutions in five stages separated by 2x2 max pooling, with the layer indices of
``torchvision.models.vgg19().features`` so that ``features.<i>.weight`` keys load as they
are.

Where the file comes from, in this order (:func:`resolve_file`):

1. an explicit file given by the plugin's option (e.g. ``spade.vgg_weights=FILE``);
2. ``benchmark.registry.weights.resolve(SPEC)``: the weights cache, downloaded from torchvision's
   URL when online. Offline and missing, the error names the file, its sha256 and the
   ``bench weights import`` command.

The plugins that use VGG19 register :data:`SPEC` in their ``register_weights`` hook.
``bench weights import vgg19-imagenet FILE`` accepts a file only when it loads as a
VGG19-shaped state dict (:func:`check_state_dict`) and its sha256 starts with the
``dcbb9e9d`` of its published name.

:func:`load_features` builds the layers from a state dict and reads every channel width
from the tensors' shapes, so a *narrower* VGG-shaped file (same layer layout, fewer
channels) loads too: tests write one with :func:`write_random_file` and exercise the
real loading path without the 548 MB download.

:func:`slice_features` returns the activations at named layers (``relu1_1`` ...
``relu5_1``, or any ``reluS_K`` / ``convS_K`` / ``poolS``), running the network only as
deep as the deepest layer asked for. Inputs are images in [-1, 1] (bench's convention)
or [0, 1]; :func:`imagenet_normalize` maps them to the statistics the network was
trained with.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from benchmark import WeightsError, WeightSpec
from benchmark import weights

# torchvision's VGG19 configuration "E": channel counts, "M" for 2x2 max pooling.
CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M")



def check_state_dict(state: dict) -> str | None:
    """None when ``state`` has VGG19's 16 3x3 convolutions (``features.<i>``) in the widths of
    torchvision's, or all of them narrowed by one factor (the small files tests write); else why not."""
    state = {k[len("features."):]: v for k, v in state.items() if isinstance(k, str) and k.startswith("features.")}
    widths = [c for c in CONFIG if c != "M"]
    in_ch, factor = 3, None
    for i, full in zip(conv_indices(), widths):
        w, b = state.get(f"{i}.weight"), state.get(f"{i}.bias")
        if not (hasattr(w, "shape") and hasattr(b, "shape")):
            return f"has no tensors features.{i}.weight/features.{i}.bias (VGG19 has 16 convolutions)"
        if len(w.shape) != 4 or tuple(w.shape[1:]) != (in_ch, 3, 3) or tuple(b.shape) != (w.shape[0],):
            return (f"has features.{i}.weight of shape {tuple(w.shape)}, not a 3x3 convolution of {in_ch} "
                    f"input channels")
        out_ch = int(w.shape[0])
        factor = factor or (full // out_ch if out_ch and full % out_ch == 0 else -1)
        if out_ch * factor != full:
            return f"has features.{i}.weight with {out_ch} output channels where VGG19 has {full} (times one factor)"
        in_ch = out_ch
    return None


SPEC = WeightSpec(
    name="vgg19-imagenet",
    filename="vgg19-dcbb9e9d.pth",
    sha256=None,  # the full checksum is not published with the file; recorded on import
    url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    summary="VGG19 trained on ImageNet (torchvision): perceptual losses and style-transfer encoders",
    source="torchvision's ImageNet VGG19 state dict (about 548 MB), the file torchvision.models.vgg19 "
           "downloads; its name carries the first 8 hex digits of its sha256 (dcbb9e9d)",
    hash_prefix="dcbb9e9d",
    check=check_state_dict,
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

PERCEPTUAL_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def layer_names(config=CONFIG) -> list[str]:
    """Names of the ``features`` modules in order: conv1_1, relu1_1, ..., pool5."""
    names, stage, k = [], 1, 1
    for item in config:
        if item == "M":
            names.append(f"pool{stage}")
            stage, k = stage + 1, 1
        else:
            names += [f"conv{stage}_{k}", f"relu{stage}_{k}"]
            k += 1
    return names


LAYER_INDEX = {name: i for i, name in enumerate(layer_names())}


def conv_indices(config=CONFIG) -> list[int]:
    """Indices of the convolutions inside ``features`` (0, 2, 5, 7, 10, ...)."""
    return [i for i, name in enumerate(layer_names(config)) if name.startswith("conv")]


# --------------------------------------------------------------------------- files


def resolve_file(explicit: str | Path | None = None, *, download: bool | None = None) -> Path:
    """The VGG19 file to load: ``explicit`` when given (must exist), else the weights cache.

    Raises :class:`WeightsError` naming the file, its sha256 and the import command when
    the cached file is missing and cannot be downloaded (offline or ``download=False``).
    """
    if explicit is not None and str(explicit) != "":
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise WeightsError(
                f"VGG19 weights file {path} does not exist or is not a file; fix the path, or leave the option "
                f"empty to use the cached {SPEC.filename} (`{weights.import_command(SPEC)}`)"
            )
        return path
    return weights.resolve(SPEC, download=download)


def check_for_loss(model: str, lambda_vgg: float, explicit: str | Path | None = None) -> None:
    """Stop a training row before anything trains when its VGG loss (``lambda_vgg`` > 0) has no
    usable VGG19 file (offline and not imported, or broken): one error naming the file, the import
    command and the option that trains without the loss."""
    if lambda_vgg <= 0:
        return
    try:
        resolve_file(explicit or None)
    except WeightsError as e:
        raise WeightsError(f"{model}'s VGG loss (lambda_vgg={lambda_vgg:g}): {e}; or train "
                           f"without it: --set {model}.lambda_vgg=0") from e


def missing_message() -> str:
    """What to do when the file is missing (used in plugin notes and checks)."""
    return (f"VGG19 weights {SPEC.filename} (sha256 {SPEC.sha256 or 'not pinned'}) are needed: download "
            f"{SPEC.url} and run `{weights.import_command(SPEC)}`")


def _state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same advice
        raise WeightsError(f"VGG19 weights {path} could not be read ({type(e).__name__}: {e}); "
                           f"it must be a torch state dict like {SPEC.filename}") from e
    state = weights.unwrap_state_dict(state)
    if not isinstance(state, dict):
        raise WeightsError(f"VGG19 weights {path} hold a {type(state).__name__}, not a state dict")
    return state


def load_features(path: str | Path, *, depth: str = "relu5_1") -> nn.Sequential:
    """``torchvision.models.vgg19().features``-shaped layers from ``path``, up to ``depth``.

    Accepts keys ``features.<i>.weight`` (a whole VGG19 state dict) or ``<i>.weight`` (a
    saved ``features``). Channel widths come from the tensors, so narrower files load.
    The network is returned in eval mode with gradients off (a fixed feature extractor).
    """
    path = Path(path)
    state = _state_dict(path)
    if any(k.startswith("features.") for k in state):
        state = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    last = LAYER_INDEX[depth]
    layers: list[nn.Module] = []
    in_ch = None
    for i, name in enumerate(layer_names()):
        if i > last:
            break
        if name.startswith("conv"):
            w, b = state.get(f"{i}.weight"), state.get(f"{i}.bias")
            if w is None or b is None or w.dim() != 4 or tuple(w.shape[2:]) != (3, 3):
                raise WeightsError(
                    f"VGG19 weights {path}: no 3x3 convolution '{i}.weight'/'{i}.bias' for {name}; "
                    f"the file is not VGG19-shaped (expected torchvision's {SPEC.filename} layout)")
            out_ch, got_in = int(w.shape[0]), int(w.shape[1])
            if in_ch is not None and got_in != in_ch:
                raise WeightsError(f"VGG19 weights {path}: {name} takes {got_in} channels, "
                                   f"the layer before gives {in_ch}; the file is damaged")
            conv = nn.Conv2d(got_in, out_ch, 3, padding=1)
            with torch.no_grad():
                conv.weight.copy_(w.float())
                conv.bias.copy_(b.float())
            layers.append(conv)
            in_ch = out_ch
        elif name.startswith("relu"):
            layers.append(nn.ReLU(inplace=False))
        else:
            layers.append(nn.MaxPool2d(2, 2))
    net = nn.Sequential(*layers).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def load(explicit: str | Path | None = None, *, depth: str = "relu5_1",
         download: bool | None = None) -> nn.Sequential:
    """:func:`resolve_file` then :func:`load_features`."""
    return load_features(resolve_file(explicit, download=download), depth=depth)


def write_random_file(path: str | Path, *, width: int = 4, seed: int = 0) -> Path:
    """Write a small random VGG19-shaped state dict (for tests): widths ``width * (1,2,4,8,8)``.

    Keys are torchvision's (``features.<i>.weight``), He-initialised so that activations
    stay in a sensible range through all 16 layers.
    """
    g = torch.Generator().manual_seed(seed)
    scale = {64: 1, 128: 2, 256: 4, 512: 8}
    state, in_ch = {}, 3
    for i, item in zip(conv_indices(), [c for c in CONFIG if c != "M"]):
        out_ch = width * scale[item]
        std = (2.0 / (in_ch * 9)) ** 0.5
        state[f"features.{i}.weight"] = torch.randn(out_ch, in_ch, 3, 3, generator=g) * std
        state[f"features.{i}.bias"] = torch.zeros(out_ch)
        in_ch = out_ch
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


# --------------------------------------------------------------------------- features


def imagenet_normalize(x: torch.Tensor, *, from_range: str = "-1,1") -> torch.Tensor:
    """Map images in [-1, 1] (``from_range="-1,1"``) or [0, 1] (``"0,1"``) to ImageNet statistics."""
    if from_range == "-1,1":
        x = (x + 1) / 2
    elif from_range != "0,1":
        raise ValueError(f"from_range must be '-1,1' or '0,1', not {from_range!r}")
    mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def slice_features(net: nn.Sequential, x: torch.Tensor,
                   layers=PERCEPTUAL_LAYERS) -> list[torch.Tensor]:
    """Activations of ``net`` (already normalised input ``x``) at the named ``layers``, in that order."""
    try:
        wanted = {LAYER_INDEX[name]: name for name in layers}
    except KeyError as e:
        raise ValueError(f"unknown VGG19 layer {e.args[0]!r}; known: {', '.join(LAYER_INDEX)}") from None
    deepest = max(wanted)
    if deepest >= len(net):
        raise ValueError(f"layer {wanted[deepest]} is deeper than the loaded network "
                         f"({len(net)} modules); load it with a deeper depth=")
    found: dict[str, torch.Tensor] = {}
    for i, module in enumerate(net):
        x = module(x)
        if i in wanted:
            found[wanted[i]] = x
        if i == deepest:
            break
    return [found[name] for name in layers]

