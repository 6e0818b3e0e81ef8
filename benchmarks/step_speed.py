"""Seconds per training step of every installed model family at its quick and paper sizes.

    python benchmarks/step_speed.py [--models oasis,spade,...] [--sizes quick,paper] [--steps 2] [--batch N]

Each row builds the family with the profile's run size, batch and options (the default preset) on
12 classes (facades) at a square size, with losses that need a weights file turned off
(``lambda_vgg=0`` where the family has that option), runs one warm-up step and times ``--steps``
more on random block label maps. On the CPU in fp32, and on CUDA with bf16 autocast when present.
A family whose profile or build fails is listed with the error instead of a time.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from tabulate import tabulate

from benchmark.api import StepContext
from benchmark.registry.plugins import default

CLASSES = 12


def batch(n: int, size: int, device: torch.device) -> dict[str, torch.Tensor]:
    label = torch.randint(0, CLASSES, (n, max(1, size // 16), max(1, size // 16)), device=device)
    label = label.repeat_interleave(size // label.shape[1], 1).repeat_interleave(size // label.shape[2], 2)
    return {"label": label, "onehot": F.one_hot(label, CLASSES).permute(0, 3, 1, 2).float(),
            "image": torch.rand(n, 3, size, size, device=device) * 2 - 1, "index": torch.arange(n, device=device),
            "classes": torch.ones(n, CLASSES, device=device)}


def time_step(plugin, profile: str, device: torch.device, dtype, steps: int,
              batch_size: int | None = None) -> tuple[float, int, int]:
    prof = plugin.profiles[profile]
    opts = {**plugin.presets[plugin.default_preset].options, **prof["options"]}
    if "lambda_vgg" in plugin.Options.model_fields:
        opts["lambda_vgg"] = 0.0
    options = plugin.Options(**opts)
    size = prof["run"]["image_size"]
    bs = batch_size or plugin.train_length(options, profile).batch_size
    torch.manual_seed(0)
    model = plugin.build(options, CLASSES, size).to(device)
    model.configure_optimizers()
    b = batch(bs, size, device)
    ctx = StepContext(device=device, dtype=dtype, step=0, total_steps=10)
    model.train_step(b, ctx)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        model.train_step(b, ctx)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps, bs, size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="", help="comma-separated families (default: every installed one with "
                                                 "profiles and a label-map input)")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--sizes", default="quick,paper")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--batch", type=int, default=None, help="batch size instead of the profile's (e.g. 1 for the "
                                                            "paper size on a CPU: OASIS's 32 needs tens of GiB)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    models = default().registry("models")
    names = args.models.split(",") if args.models else [
        n for n in models.names() if models.get(n).profiles and models.get(n).input_kind == "label-map"]
    targets = [(torch.device("cpu"), None, "fp32")]
    if torch.cuda.is_available():
        targets.append((torch.device("cuda"), torch.bfloat16, "bf16 autocast"))
    rows = []
    for device, dtype, precision in targets:
        for name in names:
            for profile in args.sizes.split(","):
                try:
                    sec, bs, size = time_step(models.get(name), profile, device, dtype, args.steps, args.batch)
                    rows.append([name, device.type, precision, profile, size, bs, f"{sec:.3f}", f"{bs / sec:.2f}"])
                except Exception as e:  # noqa: BLE001  (a benchmark lists what failed and goes on)
                    rows.append([name, device.type, precision, profile, "", "", f"error: {str(e)[:60]}", ""])
                print(tabulate(rows[-1:], tablefmt="plain"), flush=True)
    print(tabulate(rows, headers=["model", "device", "precision", "profile", "px", "batch", "s/step", "img/s"]))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")


if __name__ == "__main__":
    main()
