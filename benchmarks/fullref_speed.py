"""Full-reference metrics, time and value: bench's batched torch against sewar and piq.

The pairs are synthetic 256x256 RGB photos-like images (smooth random shapes plus a
fine texture, 8-bit) and degraded copies of them (blur, noise, a colour shift, 8-bit
again), so every window sees edges, flat areas and texture. Each implementation is
called the way its users call it:

- bench: ``bench_plugins.metrics.image_quality`` on float32 batches of 16 in [0, 1] (what
  ``EvalContext.pairs`` yields), the work in float64;
- piq 0.8: the same float32 batches (``ssim(..., downsample=False)``, ``psnr``,
  ``vif_p``), its own float32 arithmetic;
- sewar: one pair at a time, H x W x 3 numpy arrays: floats in [0, 1] for ``psnr``,
  ``uqi`` and ``ssim`` (with its Gaussian 11 / 1.5 window and ``mode="valid"``, not its
  default 11x11 box), 8-bit arrays for ``vifp`` (its noise variance is in 0..255 units).

"ms / pair" is wall clock, "CPU ms / pair" the CPU time of this process (all its
threads), "bench faster by" the ratio of wall clocks. "max |diff|" compares each value
with bench's under the same convention: VIF on luma with piq's ``vif_p``, VIF per
channel with sewar's ``vifp``. piq's SSIM and VIF differ by up to ~1e-5 because piq
works in float32 (run in float64 it equals bench to ~1e-15, see tests/test_fullref.py);
sewar's PSNR by ~1e-5 dB because it has no 1e-8 in the logarithm. sewar's ``uqi``
computes a different (wrong) quantity, so its difference is large by design. Run::

    python benchmarks/fullref_speed.py             # 128 pairs, 2 torch threads
    python benchmarks/fullref_speed.py --pairs 16  # a quicker look
    python benchmarks/fullref_speed.py --threads 1
"""

from __future__ import annotations

import argparse
import os
import time

# Before torch loads OpenMP: threads that wait at the end of a parallel region sleep instead of
# spinning. On a machine shared with other jobs (more runnable threads than cores) a spinning
# thread burns the time slice its descheduled partner needs, and every small torch operation
# then costs a scheduler time slice (measured: SSIM 115 ms/pair instead of 12 on 2 busy cores).
# It changes nothing on an idle machine. Pass OMP_WAIT_POLICY=ACTIVE to see the difference.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import piq
import torch
import torch.nn.functional as F
from sewar import full_ref as sewar
from sewar.utils import Filter
from tabulate import tabulate

from bench_plugins.metrics import image_quality


def make_pairs(count: int, size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(fake, real) float32 (count, 3, size, size) in [0, 1], both exactly 8-bit values."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 3, 6, 6, generator=g)
    real = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)
    blocks = (torch.rand(count, 1, 12, 12, generator=g) > 0.7).float()
    real = real + 0.3 * F.interpolate(blocks, size=(size, size), mode="nearest")  # flat-edged shapes
    real = real + 0.05 * torch.randn(count, 3, size, size, generator=g)  # texture
    real = (real.clamp(0, 1) * 255).round() / 255
    blur = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16
    kernel = (blur[:, None] * blur[None]).expand(3, 1, 5, 5)
    fake = F.conv2d(F.pad(real, (2, 2, 2, 2), mode="replicate"), kernel, groups=3)
    shift = torch.tensor([0.03, 0, -0.02]).view(1, 3, 1, 1)
    fake = fake * 0.9 + 0.05 + 0.04 * torch.randn(real.shape, generator=g) + shift
    fake = (fake.clamp(0, 1) * 255).round() / 255
    return fake, real


def batched(fn, fake, real, batch=16) -> tuple[np.ndarray, float, float]:
    """Values of ``fn`` over batches, and the seconds it took (wall clock, CPU of this process)."""
    fn(fake[:2], real[:2])  # warm-up
    start, cpu = time.perf_counter(), time.process_time()
    values = torch.cat([fn(fake[i:i + batch], real[i:i + batch]).double() for i in range(0, len(fake), batch)])
    return values.numpy(), time.perf_counter() - start, time.process_time() - cpu


def per_pair(fn, fake, real, dtype="float") -> tuple[np.ndarray, float, float]:
    """Values of ``fn(reference, distorted)`` called pair by pair on H x W x 3 arrays, and the seconds."""
    if dtype == "uint8":
        fake_np = (fake * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        real_np = (real * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    else:
        fake_np = fake.double().permute(0, 2, 3, 1).numpy()
        real_np = real.double().permute(0, 2, 3, 1).numpy()
    start, cpu = time.perf_counter(), time.process_time()
    values = [fn(r, f) for f, r in zip(fake_np, real_np)]
    return np.asarray(values, dtype=np.float64), time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=128, help="image pairs (128 by default)")
    parser.add_argument("--size", type=int, default=256, help="image side in pixels")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    fake, real = make_pairs(args.pairs, args.size)

    gaussian = dict(fltr=Filter.GAUSSIAN, ws=11, sigma=1.5)
    runs = {  # metric: [(implementation, convention, (values, seconds))]
        "PSNR": [
            ("bench", "", batched(image_quality.psnr, fake, real)),
            ("piq", "", batched(lambda f, r: piq.psnr(f, r, data_range=1.0, reduction="none"), fake, real)),
            ("sewar", "", per_pair(lambda r, f: sewar.psnr(r, f, MAX=1.0), fake, real)),
        ],
        "SSIM": [
            ("bench", "", batched(image_quality.ssim, fake, real)),
            ("piq", "", batched(lambda f, r: piq.ssim(f, r, data_range=1.0, reduction="none", downsample=False),
                                fake, real)),
            ("sewar", "", per_pair(lambda r, f: sewar.ssim(r, f, MAX=1.0, fltr_specs=gaussian, mode="valid")[0],
                                   fake, real)),
        ],
        "UQI": [
            ("bench", "", batched(image_quality.uqi, fake, real)),
            ("sewar", "(its own formula)", per_pair(sewar.uqi, fake, real)),
        ],
        "VIF": [
            ("bench", "luma", batched(image_quality.vif, fake, real)),
            ("piq", "luma", batched(lambda f, r: piq.vif_p(f, r, data_range=1.0, reduction="none"), fake, real)),
            ("bench", "rgb", batched(lambda f, r: image_quality.vif(f, r, "rgb"), fake, real)),
            ("sewar", "rgb", per_pair(sewar.vifp, fake, real, dtype="uint8")),
        ],
    }

    rows, n = [], args.pairs
    for metric, entries in runs.items():
        ours = {conv: result for name, conv, result in entries if name == "bench"}
        for name, conv, (values, seconds, cpu) in entries:
            mine_values, mine_seconds, _ = ours.get(conv, next(iter(ours.values())))
            row = [metric, f"{name} {conv}".strip(), f"{1000 * seconds / n:.2f}", f"{1000 * cpu / n:.2f}"]
            if name == "bench":
                rows.append(row + ["1", "-", f"{values.mean():.6f}"])
                continue
            diff = np.abs(values - mine_values).max()
            rows.append(row + [f"{seconds / mine_seconds:.1f}x", f"{diff:.2e}", f"{values.mean():.6f}"])
    print(f"{n} pairs of {args.size}x{args.size} RGB images, {torch.get_num_threads()} torch threads "
          f"(OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}), bench and piq in batches of 16; "
          f"sewar one pair at a time (scipy, one thread); load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores\n")
    print(tabulate(rows, headers=["metric", "implementation", "ms / pair", "CPU ms / pair", "bench faster by",
                                  "max |diff| vs bench", "mean value"], tablefmt="github"))


if __name__ == "__main__":
    main()
