"""Seconds per SPADE training step at the quick and paper sizes (CPU, and CUDA with bf16 autocast).

    python benchmarks/spade_step.py [--steps 3] [--sizes quick,paper] [--vgg]

Each row builds the ``spade`` model with the profile's options on 12 classes (facades),
runs one warm-up step and times ``--steps`` more on random label maps. ``--vgg`` adds
the VGG loss with a random full-width VGG19 (the real file's cost, no download).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tabulate import tabulate

from benchmark.api import StepContext
from bench_plugins.models import vgg19
from bench_plugins.models.spade import Spade


def batch(n, size, classes, device):
    label = torch.randint(0, classes, (n, size // 16, size // 16), device=device)
    label = label.repeat_interleave(16, 1).repeat_interleave(16, 2)
    onehot = F.one_hot(label, classes).permute(0, 3, 1, 2).float()
    return {"label": label, "onehot": onehot, "image": torch.rand(n, 3, size, size, device=device) * 2 - 1,
            "index": torch.arange(n, device=device)}


def time_step(profile, device, dtype, steps, vgg_file, preset="official"):
    plugin = Spade()
    prof = plugin.profiles[profile]
    opts = {**plugin.presets[preset].options, **prof["options"]}
    if vgg_file is None:
        opts["lambda_vgg"] = 0.0
    else:
        opts["vgg_weights"] = str(vgg_file)
    options = plugin.Options(**opts)
    size = prof["run"]["image_size"]
    bs = plugin.train_length(options, profile).batch_size
    torch.manual_seed(0)
    model = plugin.build(options, 12, size).to(device)
    model.configure_optimizers()
    b = batch(bs, size, 12, device)
    ctx = StepContext(device=device, dtype=dtype, step=0, total_steps=10)
    model.train_step(b, ctx)  # warm-up (and VGG load)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        model.train_step(b, ctx)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps, bs, size


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--sizes", default="quick,paper")
    ap.add_argument("--vgg", action="store_true", help="include the VGG loss (random full-width VGG19)")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    vgg_file = None
    if args.vgg:
        vgg_file = vgg19.write_random_file(Path(tempfile.mkdtemp()) / "vgg19-random.pth", width=64)
    targets = [(torch.device("cpu"), None, "fp32")]
    if torch.cuda.is_available():
        targets.append((torch.device("cuda"), torch.bfloat16, "bf16 autocast"))
    rows = []
    for device, dtype, precision in targets:
        for profile in args.sizes.split(","):
            sec, bs, size = time_step(profile, device, dtype, args.steps, vgg_file)
            rows.append([device.type, precision, profile, size, bs, "yes" if args.vgg else "no",
                         f"{sec:.3f}", f"{bs / sec:.1f}"])
    print(tabulate(rows, headers=["device", "precision", "profile", "px", "batch", "VGG", "s/step", "img/s"]))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")


if __name__ == "__main__":
    main()
