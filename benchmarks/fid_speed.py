"""FID time and value: bench's ``fid`` plugin against clean-fid's own ``compute_fid``.

First, the statistics-to-distance step alone at the field's test-set sizes (106, 500, 2000 and
5000 images; random non-negative 2048-d features, two sets of the same size): bench's
``fid_from_features`` (:mod:`bench_plugins.metrics.frechet`: singular values of an n-sized
matrix, or Cholesky factors) against clean-fid's ``fid_from_feats`` (``scipy.linalg.sqrtm``
of a 2048x2048 matrix), and KID's kernel sums (:mod:`bench_plugins.metrics.kernel_distance`)
against clean-fid's ``kernel_distance`` with the same seed. FIDs must agree to 1e-6 relative;
KIDs to 1e-6 absolute (clean-fid rounds each kernel value to float32). bench's times are the
median of three calls; clean-fid's, which take seconds to minutes, of one.

Then, with ``--data-root``, the whole metric on folders. Both run on the same two folders with the same network file (clean-fid through its
own ``InceptionV3W`` wrapper): the 106 real test photos of CMP Facades at 256 px, and
a degraded copy of them (down to 64 px and back up, bilinear). The values must agree
to 1e-6 relative. bench is timed three ways: with an empty feature cache, with only
the real photos' features cached (a new model's images against the same real split,
the common case of a benchmark run), and with everything cached; ``kid`` is timed on
the cached features. Times include reading, resizing, the network and the Frechet
distance.

Set-up, then run::

    python benchmarks/fid_speed.py [--sizes 106,500,2000,5000] [--threads N]
    bench datasets import facades ../shared/datasets/facades.tar.gz --data-root D
    python benchmarks/fid_speed.py --sizes "" --data-root D
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import warnings

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
from bench_plugins.metrics.frechet import fid_from_features, route
from bench_plugins.metrics.kernel_distance import kernel_distance

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


def median_time(fn, repeats: int = 3):
    """The value of ``fn`` and the median of ``repeats`` timed calls (the machine may be shared)."""
    times = []
    for _ in range(repeats):
        value, seconds = timed(fn)
        times.append(seconds)
    return value, float(np.median(times))


def random_features(n: int, seed: int, scale: float) -> np.ndarray:
    """Non-negative 2048-d float32 features, as Inception's pool features are."""
    rng = np.random.default_rng(seed)
    return (np.abs(rng.normal(0.3, 0.4, (n, 2048))) * scale * (1 + 0.3 * rng.random(2048))).astype(np.float32)


def statistics_table(sizes: list[int]) -> bool:
    """FID's and KID's math alone at each size: time and value of bench's and clean-fid's. True: all agree."""
    print(f"| {'n':>5} | route | bench FID (s) | clean-fid FID (s) | speed-up | bench FID          | "
          f"clean-fid FID      | rel. diff | bench KID (s) | clean-fid KID (s) | KID abs. diff |")
    print("|------:|-------|--------------:|------------------:|---------:|--------------------|"
          "--------------------|----------:|--------------:|------------------:|--------------:|")
    ok = True
    for n in sizes:
        a, b = random_features(n, 2 * n, 1.0), random_features(n, 2 * n + 1, 1.1)
        ours, t_ours = median_time(lambda: fid_from_features(a, b))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sqrtm of a singular product below 2048 images; disp deprecation
            reference, t_ref = timed(lambda: float(cleanfid.fid.fid_from_feats(a, b)))
        kid, t_kid = median_time(lambda: (np.random.seed(0), kernel_distance(a, b))[1])
        np.random.seed(0)
        kid_ref, t_kid_ref = timed(lambda: cleanfid.fid.kernel_distance(a, b))
        rel = abs(ours - reference) / abs(reference)
        ok = ok and rel <= 1e-6 and abs(kid - kid_ref) <= 1e-6
        print(f"| {n:5} | {route(n, n, 2048):5} | {t_ours:13.3f} | {t_ref:17.2f} | {t_ref / t_ours:7.0f}x | "
              f"{ours:<18.12g} | {reference:<18.12g} | {rel:9.1e} | {t_kid:13.3f} | {t_kid_ref:17.2f} | "
              f"{abs(kid - kid_ref):13.1e} |", flush=True)
    print(f"\nFID values {'agree' if ok else 'DO NOT AGREE'} (limits: FID 1e-6 relative, KID 1e-6 absolute); "
          f"{torch.get_num_threads()} torch thread(s), numpy/scipy with their own BLAS threads\n")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="106,500,2000,5000", help="image counts of the statistics table "
                                                                     "(comma-separated; empty: skip it)")
    parser.add_argument("--data-root", type=Path, help="where `bench datasets import facades` put it (the folder "
                                                       "comparison runs only with it)")
    parser.add_argument("--images", type=int, default=106, help="test photos to use (all 106 by default)")
    parser.add_argument("--batch-size", type=int, default=32, help="network batch size, for both")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.sizes:
        statistics_table([int(n) for n in args.sizes.split(",")])
    if args.data_root is None:
        return

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
