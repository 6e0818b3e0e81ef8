"""Photorealistic smoothing: make the stylized image follow the content image's edges.

``exact`` is the closed-form step of "A Closed-form Solution to Photorealistic Image
Stylization": with ``W`` the pixel affinity of the matting Laplacian of the content image
("A Closed-Form Solution to Natural Image Matting": 3x3 windows, regulariser ``eps``),
``D`` its row sums and ``S = D^-1/2 W D^-1/2``, the smoothed image is

    R* = (1 - alpha) (I - alpha S)^-1 Y,     alpha = 1 / (1 + lambda)

for the stylized image ``Y``, one colour channel at a time. The sparse system is
factorised once per image with SciPy's sparse LU and solved per channel. ``lambda = 1e-4``
and ``eps = 1e-7`` are the values of the paper and its official code.

``fast`` replaces it by a guided filter ("Guided Image Filtering", colour guide = the
content image), as the official code's fast mode does; it runs in torch on the model's
device. ``none`` leaves the stylized image as it is.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch
import torch.nn.functional as F


def matting_affinity(image: np.ndarray, eps: float = 1e-7) -> scipy.sparse.csr_matrix:
    """The affinity ``W`` (HW x HW, CSR) of the matting Laplacian ``L = D - W`` of an (H,W,3) image.

    Every 3x3 window ``k`` with mean ``mu_k`` and covariance ``Sigma_k`` adds
    ``(1 + (I_i - mu_k)^T (Sigma_k + eps/9 Id)^-1 (I_j - mu_k)) / 9`` to ``W_ij`` for the
    pixels ``i, j`` it holds.
    """
    h, w, _ = image.shape
    if h < 3 or w < 3:
        raise ValueError(f"matting affinity needs an image of at least 3x3 pixels, got {h}x{w}")
    index = np.arange(h * w).reshape(h, w)
    windows = np.stack([index[dy:h - 2 + dy, dx:w - 2 + dx].reshape(-1) for dy in range(3) for dx in range(3)],
                       axis=1)  # (windows, 9)
    colours = image.reshape(-1, 3).astype(np.float64)[windows]  # (windows, 9, 3)
    centred = colours - colours.mean(axis=1, keepdims=True)
    cov = np.einsum("wpc,wpd->wcd", centred, centred) / 9
    inv = np.linalg.inv(cov + (eps / 9) * np.eye(3))
    values = (1 + np.einsum("wpc,wcd,wqd->wpq", centred, inv, centred)) / 9
    rows = np.repeat(windows[:, :, None], 9, axis=2)
    cols = np.repeat(windows[:, None, :], 9, axis=1)
    return scipy.sparse.coo_matrix((values.ravel(), (rows.ravel(), cols.ravel())), shape=(h * w, h * w)).tocsr()


def exact_smooth_array(stylized: np.ndarray, content: np.ndarray, lam: float = 1e-4,
                       eps: float = 1e-7) -> np.ndarray:
    """Closed-form smoothing of an (H,W,3) stylized image given the (H,W,3) content image, in [0, 1]."""
    h, w, c = stylized.shape
    affinity = matting_affinity(content, eps)
    d = np.asarray(affinity.sum(axis=1)).ravel()
    scale = scipy.sparse.diags(1.0 / np.sqrt(d))
    alpha = 1.0 / (1.0 + lam)
    system = (scipy.sparse.identity(h * w) - alpha * (scale @ affinity @ scale)).tocsc()
    solve = scipy.sparse.linalg.factorized(system)
    y = stylized.reshape(-1, c).astype(np.float64)
    out = np.stack([solve(y[:, ch]) for ch in range(c)], axis=1) * (1 - alpha)
    return out.reshape(h, w, c)


def exact_smooth(stylized: torch.Tensor, content: torch.Tensor, lam: float = 1e-4, eps: float = 1e-7) -> torch.Tensor:
    """Closed-form smoothing of (N,3,H,W) images in [0, 1], one image at a time on the CPU."""
    out = []
    for y, c in zip(stylized, content):
        y_np = y.detach().float().permute(1, 2, 0).cpu().numpy()
        c_np = c.detach().float().permute(1, 2, 0).cpu().numpy()
        out.append(torch.from_numpy(exact_smooth_array(y_np, c_np, lam, eps)).permute(2, 0, 1))
    return torch.stack(out).to(device=stylized.device, dtype=stylized.dtype)


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over the (2r+1)^2 window around each pixel of (N,C,H,W), counting only pixels inside
    the image; summed-area tables make it cost the same for any radius."""
    h, w = x.shape[-2:]
    table = F.pad(x.cumsum(-2).cumsum(-1), (1, 0, 1, 0))  # table[..., i, j] = sum of x[..., :i, :j]
    ys, xs = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
    y0, y1 = (ys - radius).clamp(min=0), (ys + radius + 1).clamp(max=h)
    x0, x1 = (xs - radius).clamp(min=0), (xs + radius + 1).clamp(max=w)
    rows_hi, rows_lo = table[..., y1, :], table[..., y0, :]
    total = rows_hi[..., x1] - rows_hi[..., x0] - rows_lo[..., x1] + rows_lo[..., x0]
    count = (y1 - y0)[:, None] * (x1 - x0)[None, :]
    return total / count.to(x.dtype)


def guided_filter(source: torch.Tensor, guide: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """Guided filter of (N,C,H,W) ``source`` with an (N,3,H,W) colour ``guide``.

    Per window: ``q = a^T I + b`` with ``a = (Sigma_I + eps Id)^-1 cov(I, p)`` and
    ``b = mean(p) - a^T mean(I)``; the output averages ``a`` and ``b`` over the windows
    holding each pixel.
    """
    radius = max(1, min(radius, (min(source.shape[-2:]) - 1) // 2))
    n, c, h, w = source.shape
    g = guide.double()
    p = source.double()
    mean_g = box_mean(g, radius)  # N,3,H,W
    mean_p = box_mean(p, radius)  # N,C,H,W
    gg = box_mean(torch.einsum("nihw,njhw->nijhw", g, g).reshape(n, 9, h, w), radius).reshape(n, 3, 3, h, w)
    cov_g = gg - mean_g[:, :, None] * mean_g[:, None]
    gp = box_mean(torch.einsum("nihw,nchw->ncihw", g, p).reshape(n, c * 3, h, w), radius).reshape(n, c, 3, h, w)
    cov_gp = gp - mean_g[:, None] * mean_p[:, :, None]
    system = (cov_g + eps * torch.eye(3, dtype=g.dtype, device=g.device)[None, :, :, None, None])
    inverse = torch.linalg.inv(system.permute(0, 3, 4, 1, 2))  # N,H,W,3,3, once for every channel
    a = torch.einsum("nhwij,ncjhw->nchwi", inverse, cov_gp)  # N,C,H,W,3
    b = mean_p - (a * mean_g.permute(0, 2, 3, 1)[:, None]).sum(-1)
    mean_a = box_mean(a.permute(0, 1, 4, 2, 3).reshape(n, c * 3, h, w), radius).reshape(n, c, 3, h, w)
    out = (mean_a * g[:, None]).sum(2) + box_mean(b, radius)
    return out.to(source.dtype)


def smooth(stylized: torch.Tensor, content: torch.Tensor, method: str, *, lam: float = 1e-4, eps: float = 1e-7,
           radius: int = 35, guided_eps: float = 1e-3) -> torch.Tensor:
    """Smooth (N,3,H,W) stylized images in [0, 1] along the edges of the content images in [0, 1]."""
    if method == "exact":
        out = exact_smooth(stylized, content, lam, eps)
    elif method == "fast":
        out = guided_filter(stylized, content, radius, guided_eps)
    elif method == "none":
        out = stylized
    else:
        raise ValueError(f"unknown smoothing {method!r}; use exact, fast or none")
    return out.clamp(0, 1)
