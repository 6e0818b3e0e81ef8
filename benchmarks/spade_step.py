"""Seconds per SPADE training step at the quick and paper sizes (CPU, and CUDA with bf16 autocast).

    python benchmarks/spade_step.py [--steps 3] [--sizes quick,paper] [--vgg] [--preset official]

Each row builds the ``spade`` model with the profile's options on 12 classes (facades) and times it
with step_timing.py (one warm-up step, then ``--steps`` more on random label maps). ``--vgg`` adds the
VGG loss with a random full-width VGG19 (the real file's cost, no download). Every family at once:
benchmarks/step_speed.py.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from step_timing import seconds_per_step, targets
from tabulate import tabulate

from bench_plugins.models import vgg19
from bench_plugins.models.spade import Spade


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--sizes", default="quick,paper")
    ap.add_argument("--vgg", action="store_true", help="include the VGG loss (random full-width VGG19)")
    ap.add_argument("--preset", default="official")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    vgg_file = None
    if args.vgg:
        vgg_file = vgg19.write_random_file(Path(tempfile.mkdtemp()) / "vgg19-random.pth", width=64)
    rows = []
    for device, dtype, precision in targets():
        for profile in args.sizes.split(","):
            t = seconds_per_step(Spade(), args.preset, profile, device, dtype, args.steps, vgg_file=vgg_file)
            rows.append([device.type, precision, profile, t.size, t.batch, "yes" if args.vgg else "no",
                         f"{t.seconds:.3f}", f"{t.batch / t.seconds:.1f}"])
    print(tabulate(rows, headers=["device", "precision", "profile", "px", "batch", "VGG", "s/step", "img/s"]))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")


if __name__ == "__main__":
    main()
