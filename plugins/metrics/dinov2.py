"""DINOv2's ViT-L/14 (Oquab et al., "DINOv2: Learning Robust Visual Features without Supervision",
2023) in bench's own code, reading the published ``dinov2_vitl14_pretrain.pth`` strictly.

The file's layout: ``patch_embed.proj`` (a 14x14 convolution, stride 14), ``cls_token``,
``pos_embed`` (1 + 37x37 positions: the 518-px training grid), ``mask_token`` (used only in
training), ``blocks.N.{norm1, attn.qkv, attn.proj, ls1.gamma, norm2, mlp.fc1, mlp.fc2, ls2.gamma}``
for N < 24, and ``norm``. Width 1024, heads of 64 channels (16), LayerNorm eps 1e-6, exact GELU.
The forward pass of the paper's code: patches, the class token in front, the position embedding
interpolated to the input's grid (bicubic, scale factor (grid + 0.1) / 37 without antialiasing, the
"interpolate_offset" the paper's code keeps for compatibility), pre-norm blocks with layer scale,
the final norm; the feature is the class token, 1024-d.

The network is read from the file's tensors (width from ``cls_token``, depth from the blocks, grid
from ``pos_embed``), so a tiny random file of the same layout tests the same code.
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from bench_plugins.segmenters.published import read_state_dict
from torch import nn

from benchmark import WeightSpec, weights

PATCH = 14
HEAD_CHANNELS = 64
LAYER_NORM_EPS = 1e-6
#: added to the patch grid before the position embedding's scale factor (the paper's code)
INTERPOLATE_OFFSET = 0.1
#: the published ViT-L/14: width, depth, position grid
VIT_L14 = {"dim": 1024, "depth": 24, "grid": 37}


class Attention(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.heads = dim // HEAD_CHANNELS
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        q, k, v = self.qkv(x).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        weights = ((q * (d // self.heads) ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(n, t, d))


class LayerScale(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Mlp(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.norm1, self.attn, self.ls1 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS), Attention(dim), LayerScale(dim)
        self.norm2, self.mlp, self.ls2 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS), Mlp(dim), LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, PATCH, stride=PATCH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class DINOv2ViT(nn.Module):
    """The ViT of a DINOv2 file; ``forward`` maps normalised (N,3,H,W) images to (N, dim) class tokens."""

    def __init__(self, dim: int = 1024, depth: int = 24, grid: int = 37):
        super().__init__()
        self.patch_embed = PatchEmbed(dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + grid * grid, dim))
        self.mask_token = nn.Parameter(torch.zeros(1, dim))  # in the file; only training masks patches
        self.blocks = nn.ModuleList(Block(dim) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.grid = grid

    @classmethod
    def shape_of(cls, state: dict) -> dict[str, int]:
        """Width, depth and position grid that the tensors of a DINOv2 file imply."""
        dim = int(state["cls_token"].shape[-1])
        depth = 1 + max(int(m.group(1)) for k in state if (m := re.match(r"blocks\.(\d+)\.", k)))
        grid = math.isqrt(int(state["pos_embed"].shape[1]) - 1)
        return {"dim": dim, "depth": depth, "grid": grid}

    @classmethod
    def from_state(cls, state: dict) -> "DINOv2ViT":
        net = cls(**cls.shape_of(state))
        net.load_state_dict(state, strict=True)
        return net.eval().requires_grad_(False)

    def positions(self, rows: int, cols: int) -> torch.Tensor:
        """The position embedding for a grid of ``rows`` x ``cols`` patches (as the paper's code interpolates it)."""
        if rows == cols == self.grid:
            return self.pos_embed
        table = self.pos_embed.float()
        dim = table.shape[-1]
        patches = table[:, 1:].reshape(1, self.grid, self.grid, dim).permute(0, 3, 1, 2)
        scale = (float(rows + INTERPOLATE_OFFSET) / self.grid, float(cols + INTERPOLATE_OFFSET) / self.grid)
        patches = F.interpolate(patches, scale_factor=scale, mode="bicubic", antialias=False)
        if tuple(patches.shape[-2:]) != (rows, cols):
            raise ValueError(f"position grid {tuple(patches.shape[-2:])} for {rows}x{cols} patches")
        patches = patches.permute(0, 2, 3, 1).reshape(1, rows * cols, dim)
        return torch.cat([table[:, :1], patches], dim=1).to(self.pos_embed.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows, cols = x.shape[-2] // PATCH, x.shape[-1] // PATCH
        tokens = self.patch_embed(x)
        tokens = torch.cat([self.cls_token.expand(len(x), -1, -1), tokens], dim=1) + self.positions(rows, cols)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)[:, 0]


def layout_problem(state: dict) -> str | None:
    """A ``WeightSpec.check``: None when ``state`` has exactly the published ViT-L/14's tensors and shapes."""
    with torch.device("meta"):
        expected = DINOv2ViT(**VIT_L14).state_dict()
    missing = [k for k in expected if k not in state]
    if missing:
        return f"lacks {len(missing)} of DINOv2 ViT-L/14's {len(expected)} tensors (first: {missing[0]})"
    extra = [k for k in state if k not in expected]
    if extra:
        return f"has tensor {extra[0]!r} that DINOv2 ViT-L/14 lacks"
    for key, tensor in expected.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            return f"has {key} of shape {tuple(state[key].shape)}, expected {tuple(tensor.shape)} for DINOv2 ViT-L/14"
    return None


SPEC = WeightSpec(
    name="dinov2-vitl14",
    filename="dinov2_vitl14_pretrain.pth",
    sha256=None,
    url="https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth",
    summary="DINOv2 ViT-L/14 (pretrained backbone): the features of fd-dinov2",
    source="facebookresearch/dinov2 release (Apache-2.0), the file torch.hub.load('facebookresearch/dinov2', "
           "'dinov2_vitl14') reads; checked by its tensors when imported",
    check=layout_problem,
)


def read(path) -> DINOv2ViT:
    return DINOv2ViT.from_state(read_state_dict(path))


def read_shape(path) -> dict[str, int]:
    """Width, depth and grid of a DINOv2 file, from its tensors' shapes only (memory-mapped, not read)."""
    state = weights.unwrap_state_dict(torch.load(path, map_location="meta", weights_only=True, mmap=True))
    return DINOv2ViT.shape_of(weights.strip_module_prefix(state))
