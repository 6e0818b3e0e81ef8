"""FID time and value: bench's ``fid`` plugin against clean-fid's own ``compute_fid``.

Both run on the same two folders with the same network file (clean-fid through its
own ``InceptionV3W`` wrapper): the 106 real test photos of CMP Facades at 256 px, and
a degraded copy of them (down to 64 px and back up, bilinear). The values must agree
to 1e-6 relative. bench is timed three ways: with an empty feature cache, with only
the real photos' features cached (a new model's images against the same real split,
the common case of a benchmark run), and with everything cached; ``kid`` is timed on
the cached features. Times include reading, resizing, the network and the Frechet
distance (clean-fid's ``scipy.linalg.sqrtm`` of a 2048x2048 matrix in both).

Set-up, then run (one CPU thread, as in CI)::

    bench datasets import facades ../shared/datasets/facades.tar.gz --data-root D
    OMP_NUM_THREADS=1 python benchmarks/fid_speed.py --data-root D
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import cleanfid.fid
from benchmark.api import EvalContext
from benchmark.data.dataset import BadFiles
from benchmark.util.imageio import write_png
from bench_plugins.datasets.facades import Facades
from bench_plugins.metrics import inception, inception_weights
from bench_plugins.metrics.fid import FID, KID

CPU = torch.device("cpu")


def write_folders(data_root: Path, out: Path, count: int) -> tuple[Path, Path, Path]:
    """real/ (the test photos), degraded/ (64 px and back) and noisy/ (the photos plus Gaussian noise)."""
    samples = Facades().load(data_root, "test", Facades.Options(), BadFiles(skip=False))[:count]
    rng = np.random.default_rng(0)
    for s in samples:
        write_png(out / "real" / f"{s.stem}.png", s.image)
        small = Image.fromarray(s.image).resize((64, 64), Image.BILINEAR)
        write_png(out / "degraded" / f"{s.stem}.png", np.asarray(small.resize(s.image.shape[1::-1], Image.BILINEAR)))
        noisy = np.clip(s.image + rng.normal(0, 20, s.image.shape), 0, 255).astype(np.uint8)
        write_png(out / "noisy" / f"{s.stem}.png", noisy)
    return out / "real", out / "degraded", out / "noisy"


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, required=True, help="where `bench datasets import facades` put it")
    parser.add_argument("--images", type=int, default=106, help="test photos to use (all 106 by default)")
    parser.add_argument("--batch-size", type=int, default=32, help="network batch size, for both")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    w = inception_weights.find()
    work = Path(tempfile.mkdtemp(prefix="fid-speed-"))
    try:
        real, degraded, noisy = write_folders(args.data_root, work, args.images)
        extractor = inception.cleanfid_feature_function(w)
        cleanfid.fid.build_feature_extractor = lambda *a, **k: extractor  # the same file, clean-fid's wrapper
        reference, t_ref = timed(lambda: cleanfid.fid.compute_fid(
            str(degraded), str(real), mode="clean", num_workers=0, batch_size=args.batch_size, device=CPU,
            verbose=False))

        def ctx(fake: Path) -> EvalContext:
            return EvalContext(fake_dir=fake, real_dir=real, label_dir=fake, class_names=["x"], ignore_index=None,
                               device=CPU, cache_dir=work / "cache", batch_size=args.batch_size)

        fid = FID()
        cold, t_cold = timed(lambda: fid.compute(ctx(degraded), FID.Options()).values["FID"])
        warm, t_warm = timed(lambda: fid.compute(ctx(degraded), FID.Options()).values["FID"])
        kid, t_kid = timed(lambda: KID().compute(ctx(degraded), KID.Options()).values["KID"])
        new_model, t_new = timed(lambda: fid.compute(ctx(noisy), FID.Options()).values["FID"])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rel = abs(cold - reference) / abs(reference)
    print(f"{args.images} real test photos vs {args.images} degraded copies, 256 px; network {w.spec.filename} "
          f"(sha256 {w.spec.sha256[:12]}...); batch {args.batch_size}; {args.threads} torch thread(s)\n")
    rows = [("clean-fid compute_fid", "FID", reference, t_ref),
            ("bench fid, empty cache", "FID", cold, t_cold),
            ("bench fid, all features cached", "FID", warm, t_warm),
            ("bench kid, features cached", "KID", kid, t_kid),
            ("bench fid, noisy copies, real features cached", "FID", new_model, t_new)]
    print(f"| {'run':46} | value              | time (s) |")
    print(f"|{'-' * 48}|--------------------|----------|")
    for name, column, value, seconds in rows:
        print(f"| {name:46} | {column} {value:<15.10g} | {seconds:8.1f} |")
    print(f"\nrelative difference, bench vs clean-fid: {rel:.2e} ({'ok' if rel <= 1e-6 else 'TOO LARGE'}, limit 1e-6)")


if __name__ == "__main__":
    main()
