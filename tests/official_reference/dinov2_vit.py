"""The feature of a DINOv2 ViT file as dgm-eval computes it (torch.hub's ``dinov2_vitl14``), written for
the tests from the paper's code structure as plain functions over the state dict.

Preprocessing by torchvision's own transforms on a PIL image (``Resize((224, 224), BICUBIC)``,
``ToTensor``, ``Normalize`` with ImageNet's statistics given as numpy arrays, as dgm-eval does);
the network as functional calls: the patch convolution, the class token, the position embedding
interpolated with the paper's offset (scale factor (w0 + 0.1) / sqrt(N)), blocks of
``x + ls1 * attn(norm1(x))`` and ``x + ls2 * mlp(norm2(x))`` with torch's
``scaled_dot_product_attention``, the final norm, the class token. It imports nothing from
``bench_plugins``, so a mistake in the plugin cannot hide behind shared code.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms as T
from PIL import Image


def transform(path) -> torch.Tensor:
    with Image.open(path) as im:
        image = im.convert("RGB")
        x = T.Compose([T.Resize((224, 224), T.InterpolationMode.BICUBIC), T.ToTensor()])(image)
    return T.Normalize(np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225]))(x)


def _layer_norm(x, state, name):
    return F.layer_norm(x, x.shape[-1:], state[f"{name}.weight"], state[f"{name}.bias"], eps=1e-6)


def _linear(x, state, name):
    return F.linear(x, state[f"{name}.weight"], state[f"{name}.bias"])


def _pos_embed(state, x, w, h, patch=14):
    pos = state["pos_embed"].float()
    n = pos.shape[1] - 1
    if x.shape[1] - 1 == n and w == h:
        return pos
    dim = x.shape[-1]
    w0, h0 = w // patch, h // patch
    m = int(math.sqrt(n))
    grid = pos[:, 1:].reshape(1, m, m, dim).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, scale_factor=(float(w0 + 0.1) / m, float(h0 + 0.1) / m), mode="bicubic",
                         antialias=False)
    assert grid.shape[-2:] == (w0, h0)
    return torch.cat([pos[:, 0][None], grid.permute(0, 2, 3, 1).view(1, -1, dim)], dim=1)


@torch.no_grad()
def cls_features(state: dict, images: torch.Tensor) -> torch.Tensor:
    """(N,3,H,W) normalised images -> (N, dim) class tokens after the final norm."""
    b, _, w, h = images.shape
    x = F.conv2d(images, state["patch_embed.proj.weight"], state["patch_embed.proj.bias"], stride=14)
    x = x.flatten(2).transpose(1, 2)
    x = torch.cat([state["cls_token"].expand(b, -1, -1), x], dim=1)
    x = x + _pos_embed(state, x, w, h)
    dim = x.shape[-1]
    heads = dim // 64
    depth = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
    for i in range(depth):
        p = f"blocks.{i}"
        y = _layer_norm(x, state, f"{p}.norm1")
        q, k, v = _linear(y, state, f"{p}.attn.qkv").view(b, -1, 3, heads, dim // heads).unbind(2)
        a = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        x = x + state[f"{p}.ls1.gamma"] * _linear(a.transpose(1, 2).reshape(b, -1, dim), state, f"{p}.attn.proj")
        y = _layer_norm(x, state, f"{p}.norm2")
        y = _linear(F.gelu(_linear(y, state, f"{p}.mlp.fc1")), state, f"{p}.mlp.fc2")
        x = x + state[f"{p}.ls2.gamma"] * y
    return _layer_norm(x, state, "norm")[:, 0]
