"""Grayscale sketches for the label-conditioned cGAN: XDoG from a photo, or label-map boundaries.

Both take and return batched tensors on any device, are deterministic (no random
choices; the blur is a fixed sum of shifted copies, no library convolution
algorithm is picked at run time) and follow one convention: a sketch is
(N,1,H,W) float in [-1, 1], white paper is +1 and a full line is -1.

XDoG follows "XDoG: An eXtended difference-of-Gaussians compendium including
advanced image stylization" (Computers & Graphics, 2012), in its sharpening form:

    S = (1 + p) * G_sigma(L) - p * G_{k sigma}(L)
    T(S) = 1                             where S >= eps
           1 + tanh(phi * (S - eps))     where S <  eps

with ``L`` the luma of the photo in [0, 1] (ITU-R BT.601 weights 0.299, 0.587,
0.114), ``G_s`` a Gaussian blur of standard deviation ``s`` pixels (truncated at
``ceil(3 s)`` pixels, reflect padding), and ``T`` in [0, 1] mapped to the sketch
as ``2 T - 1``. Where the image is flat, ``S = L >= 0``, so with ``eps <= 0``
every flat region is white whatever its brightness; on the dark side of an
intensity step the sharpened difference undershoots below ``eps`` and draws a
dark line whose blackness grows with the step's contrast (``phi`` sets how fast).

The defaults (:data:`XDOG_DEFAULTS`) and where they come from:

- ``k = 1.6``: the ratio for which a difference of Gaussians approximates the
  Laplacian of Gaussian, the value the XDoG paper uses;
- ``sigma = 0.8`` px, ``p = 40``, ``eps = 0``, ``phi = 10``: this plugin's choice
  (the source gives none), picked by looking at sketches of synthetic-facades at
  64 and 128 px. ``eps = 0`` makes every flat region white whatever its
  luminance (a sketch is lines on white, not tone). Because a flat region gives
  ``S = L``, a step from luma ``L`` to ``L + c`` draws a line on its dark side
  when ``p * c * d > L``, where ``d`` (about 0.1 for these sigma and k) is the
  difference of the two blurs next to a unit step: with ``p = 40`` a step draws
  a line when its contrast is more than roughly a quarter of the darker side's
  luma (0.5 -> 0.7 draws a black line, 0.5 -> 0.6 none), so window frames,
  cornices and brick joints are drawn and gentle shading is not. ``sigma`` keeps
  lines about two pixels wide; ``phi`` sets how fast a line turns from grey to
  black as the undershoot grows.

The source report (002) does not say how its sketches were made; XDoG is a
standard way to draw sketch-like lines from photos for sketch-to-photo training.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

#: luma weights of ITU-R BT.601
LUMA = (0.299, 0.587, 0.114)

XDOG_DEFAULTS = {"sigma": 0.8, "k": 1.6, "p": 40.0, "eps": 0.0, "phi": 10.0}


def luma(image: torch.Tensor) -> torch.Tensor:
    """(N,3,H,W) photo in [-1, 1] -> (N,1,H,W) luma in [0, 1], in fp32."""
    rgb = (image.float() + 1) / 2
    weights = torch.tensor(LUMA, device=image.device, dtype=torch.float32).view(1, 3, 1, 1)
    return (rgb * weights).sum(dim=1, keepdim=True).clamp(0, 1)


def gaussian_weights(sigma: float) -> list[float]:
    """Normalised 1-D Gaussian taps at offsets -r..r, r = ceil(3 sigma)."""
    radius = max(1, math.ceil(3 * sigma))
    taps = [math.exp(-(i * i) / (2 * sigma * sigma)) for i in range(-radius, radius + 1)]
    total = sum(taps)
    return [t / total for t in taps]


def _blur_axis(x: torch.Tensor, taps: list[float], dim: int) -> torch.Tensor:
    radius = len(taps) // 2
    size = x.shape[dim]
    pad = (0, 0, radius, radius) if dim == 2 else (radius, radius, 0, 0)
    padded = F.pad(x, pad, mode="reflect") if radius < size else F.pad(x, pad, mode="replicate")
    out = torch.zeros_like(x)
    for i, w in enumerate(taps):
        out = out + w * padded.narrow(dim, i, size)
    return out


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N,C,H,W) with std ``sigma`` pixels.

    Reflect padding (the edge pixel is not repeated); a side shorter than the
    kernel radius (only in images of a few pixels) is padded by replication.
    """
    taps = gaussian_weights(sigma)
    return _blur_axis(_blur_axis(x, taps, 3), taps, 2)


def xdog(image: torch.Tensor, sigma: float = 0.8, k: float = 1.6, p: float = 40.0, eps: float = 0.0,
         phi: float = 10.0) -> torch.Tensor:
    """XDoG sketch of (N,3,H,W) photos in [-1, 1]: (N,1,H,W) fp32 in [-1, 1], +1 white, lines dark.

    See the module docstring for the formula and the defaults.
    """
    lum = luma(image)
    sharpened = (1 + p) * gaussian_blur(lum, sigma) - p * gaussian_blur(lum, k * sigma)
    tone = torch.where(sharpened >= eps, torch.ones_like(sharpened),
                       1 + torch.tanh(phi * (sharpened - eps)))
    return 2 * tone - 1


def label_edges(label: torch.Tensor) -> torch.Tensor:
    """Region boundaries of (N,H,W) class-id maps: (N,1,H,W), -1 on a boundary, +1 elsewhere.

    A pixel is a boundary pixel when its class id differs from the pixel above it
    or the pixel to its left, so every boundary is one pixel wide, drawn on its
    lower / right side (two-pixel lines swallow small regions at 64 px). The image
    border is not a boundary. Ignored pixels count as a class of their own.
    """
    edge = torch.zeros_like(label, dtype=torch.bool)
    edge[:, 1:, :] |= label[:, 1:, :] != label[:, :-1, :]
    edge[:, :, 1:] |= label[:, :, 1:] != label[:, :, :-1]
    return torch.where(edge[:, None], -1.0, 1.0)
