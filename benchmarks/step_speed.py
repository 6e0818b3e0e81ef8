"""Seconds per training step of every installed model family at its quick and paper sizes.

    python benchmarks/step_speed.py [--models oasis,spade+vae,...] [--sizes quick,paper] [--steps 2] [--batch N]
                                    [--vgg] [--threads N]

Rows: every installed family with profiles at its default preset, and the presets whose step does other
work (``spade+vae``: the image encoder and KL; ``pix2pix+kl``; ``pix2pixhd+local``: the local enhancer;
``pix2pixhd+feat``: the instance-wise feature encoder); ``--models`` names others (``MODEL`` or
``MODEL+PRESET``). Each is built with the profile's run size, batch and options on 12 classes, losses that
need a weights file off (``--vgg``: on, with a random full-width VGG19), and timed by step_timing.py: one
warm-up step, then the mean of ``--steps`` steps. On the CPU in fp32, and on CUDA with bf16 autocast when
present. A row whose profile, build or step fails is listed with the error instead of a time.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from step_timing import seconds_per_step, targets
from tabulate import tabulate

from benchmark.registry.plugins import default

#: presets timed by default besides each family's default one: their training step does other work
EXTRA_ROWS = ("spade+vae", "pix2pix+kl", "pix2pixhd+local", "pix2pixhd+feat")


def default_rows(models) -> list[str]:
    rows = []
    for name in models.names():
        if models.get(name).profiles:
            rows.append(name)
            rows += [row for row in EXTRA_ROWS if row.split("+")[0] == name]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="", help="comma-separated rows, MODEL or MODEL+PRESET (default: every "
                                                 "installed family with profiles, and " + ", ".join(EXTRA_ROWS) + ")")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--sizes", default="quick,paper")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--batch", type=int, default=None, help="batch size instead of the profile's (e.g. 1 for the "
                                                            "paper size on a CPU: OASIS's 32 needs tens of GiB)")
    ap.add_argument("--vgg", action="store_true", help="keep the VGG losses on, with a random full-width VGG19")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    vgg_file = None
    if args.vgg:
        from bench_plugins.models import vgg19

        vgg_file = vgg19.write_random_file(Path(tempfile.mkdtemp()) / "vgg19-random.pth", width=64)
    models = default().registry("models")
    names = args.models.split(",") if args.models else default_rows(models)
    rows = []
    for device, dtype, precision in targets():
        for row in names:
            name, _, preset = row.partition("+")
            for profile in args.sizes.split(","):
                try:
                    plugin = models.get(name)
                    t = seconds_per_step(plugin, preset or plugin.default_preset, profile, device, dtype, args.steps,
                                         args.batch, vgg_file)
                    rows.append([row, device.type, precision, profile, t.size, t.batch, f"{t.seconds:.3f}",
                                 f"{t.cpu_seconds:.3f}", f"{t.batch / t.seconds:.2f}"])
                except Exception as e:  # noqa: BLE001  (a benchmark lists what failed and goes on)
                    rows.append([row, device.type, precision, profile, "", "", f"error: {str(e)[:70]}", "", ""])
                print(tabulate(rows[-1:], tablefmt="plain"), flush=True)
    print(tabulate(rows, headers=["row", "device", "precision", "profile", "px", "batch", "s/step", "CPU s/step",
                                 "img/s"]))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, VGG losses {'on' if args.vgg else 'off'}")


if __name__ == "__main__":
    main()
