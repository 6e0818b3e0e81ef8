"""Training images per second with 1 and N data-parallel workers (`bench train --nproc-per-node`).

    python benchmarks/ddp_throughput.py [--models spade,pix2pix] [--profile paper] [--workers 2]
        [--steps 20] [--device auto] [--batch-size B] [--dataset synthetic-facades]

Each model trains ``--steps`` steps once per worker count, in a temporary output folder, and the
rate that `bench` records (``images_per_second`` in the run's ``status.json``: global batch x
steps / training seconds, warm-up included) is printed with the speed-up over one worker. The
global batch is the same for every worker count, so the workers split the same work. On CUDA,
give one GPU per worker; on a CPU the workers share its cores (set OMP_NUM_THREADS).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def rate(model: str, workers: int, args, root: Path) -> float:
    out = root / f"{model}-{workers}"
    cmd = [sys.executable, "-m", "benchmark.cli", "train", "--models", model, "--profile", args.profile,
           "--dataset", args.dataset, "--steps", str(args.steps), "--device", args.device, "-q",
           "--set", "samples=0", "--data-root", str(root / "data"), "--output-root", str(out)]
    if args.batch_size:
        cmd += ["--batch-size", str(args.batch_size)]
    if workers > 1:
        cmd += ["--nproc-per-node", str(workers)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    (run,) = (out / "runs").iterdir()
    return float(json.loads((run / "status.json").read_text())["images_per_second"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="spade,pix2pix")
    p.add_argument("--profile", default="paper")
    p.add_argument("--dataset", default="synthetic-facades")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--device", default="auto")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'model':<12} {'workers':>7} {'img/s':>9} {'speed-up':>9}")
        for model in [m.strip() for m in args.models.split(",") if m.strip()]:
            one = rate(model, 1, args, Path(tmp))
            print(f"{model:<12} {1:>7} {one:>9.2f} {1.0:>9.2f}")
            many = rate(model, args.workers, args, Path(tmp))
            print(f"{model:<12} {args.workers:>7} {many:>9.2f} {many / one:>9.2f}")


if __name__ == "__main__":
    main()
