"""Evaluation time with 1 and N data-parallel workers (`bench run --checkpoint ... --nproc-per-node N`).

    python benchmarks/ddp_eval_throughput.py [--model pix2pix] [--profile smoke] [--workers 2]
        [--metrics fid,miou] [--dataset synthetic-facades] [--data-root DIR] [--device auto]

One checkpoint is trained first (`bench train`, one step); then the same checkpoint is evaluated
once per worker count, each in a fresh output folder that starts with the training run's cached
real splits and evaluation networks copied in (so both counts do the same work: generating the
test split, the Inception features of the generated and the real test photos, the segmenter's
passes, the statistics). Printed: the evaluation's wall time as the record states it
(``wall_time_s``: generation + metrics), test images per second, the speed-up over one worker,
and whether the metric values are identical. On a CPU the workers share its cores (set
OMP_NUM_THREADS); on CUDA give one GPU per worker. FID's matrix square root runs on rank 0 alone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def bench(*args: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    subprocess.run([sys.executable, "-m", "benchmark.cli", *args], check=True, stdout=subprocess.DEVNULL, env=env)


def main() -> None:
    from benchmark.results.store import ResultsStore

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="pix2pix")
    p.add_argument("--profile", default="smoke")
    p.add_argument("--dataset", default="synthetic-facades")
    p.add_argument("--data-root", help="where the dataset is (default: a temporary folder)")
    p.add_argument("--metrics", default="fid,miou")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--device", default="auto")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        common = ["--models", args.model, "--profile", args.profile, "--dataset", args.dataset, "--device",
                  args.device, "--data-root", args.data_root or str(root / "data"), "-q", "--set", "samples=0"]
        bench("train", *common, "--steps", "1", "--output-root", str(root / "train"))
        (checkpoint,) = (next((root / "train" / "runs").iterdir()) / "checkpoints").glob("step_*.pt")
        # warm the shared caches (real splits, a trained segmenter) once, outside the timing
        bench("run", *common, "--checkpoint", str(checkpoint), "--metrics", "miou", "--set", "eval.reference_row=false",
              "--output-root", str(root / "warm"))
        print(f"{'model':<10} {'workers':>7} {'eval s':>8} {'img/s':>8} {'speed-up':>9}  metrics")
        first = None
        for workers in (1, args.workers):
            out = root / f"eval-{workers}"
            (out / "cache").mkdir(parents=True)
            shutil.copytree(root / "warm" / "cache" / "real", out / "cache" / "real")
            shutil.copytree(root / "warm" / "cache" / "evalnets", out / "cache" / "evalnets",
                            ignore=shutil.ignore_patterns("ceiling-*"))
            extra = ["--nproc-per-node", str(workers)] if workers > 1 else []
            bench("run", *common, "--checkpoint", str(checkpoint), "--metrics", args.metrics,
                  "--set", "eval.reference_row=false", "--output-root", str(out), *extra)
            (record,) = ResultsStore(out / "bench.sqlite").runs()
            values = {k: v.value for k, v in record.metrics.items()}
            first = first or (record.wall_time_s, values)
            speed = first[0] / record.wall_time_s
            same = "identical" if values == first[1] else f"DIFFERENT {values}"
            print(f"{args.model:<10} {workers:>7} {record.wall_time_s:>8.1f} "
                  f"{record.protocol['images'] / record.wall_time_s:>8.2f} {speed:>9.2f}  {same}")


if __name__ == "__main__":
    main()
