"""Memory and start-up of training and evaluation as the splits grow: does bench stream its data?

    python benchmarks/data_scale.py [--pairs 1000,10000,118287] [--eval-images 500,5000]
                                    [--root /tmp/bench-data-scale] [--steps 2]

Generates, once, 256x256 pairs in the SPADE folder layout bench reads (``train_img/*.jpg``,
``train_label/*.png`` with 8 classes, ``val_img/``, ``val_label/``): a pool of ``--distinct``
different pairs, and each dataset folder made of N hard links into it (pair i is pool pair
i mod the pool's size: every item is opened, decoded and resized, but the pool's few MB stay in
the page cache, so disk reads are not what is measured). Then for each N:

- training: ``bench train --models pix2pix --dataset folder --profile paper --steps S`` on N
  training pairs, in a fresh process: its peak resident memory (the process's own high-water
  mark, which includes everything decoded and held) and the seconds from the process's start to
  its first training step (wall clock, and the CPU seconds the process spent until then: on a
  shared machine the wall clock mostly measures the other processes);
- evaluation: ``bench run --profile smoke --steps 1 --metrics psnr,ssim`` with M test pairs
  (the photos are 256 px on disk; generation runs at the smoke size), its peak memory and the
  seconds generation and measuring take;

and the loader's throughput at 256 px: training items (pix2pix's paper transform: bicubic to
286, random 256 crop and flip) per second read by one process, and by 2 worker processes.

``--baseline SRC`` runs the same commands against another checkout (its ``benchmark`` and
``plugins``) to compare. Timings on a shared machine are noisy; run before/after back to back.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
CLASSES = 8
SIDE = 256


# ---------------------------------------------------------------- the generated files

def render(i: int) -> tuple[np.ndarray, np.ndarray]:
    """Pair i: 32 px blocks of 8 classes, each class a colour, shaded by a per-pair gradient."""
    rng = np.random.default_rng(i)
    label = rng.integers(0, CLASSES, (SIDE // 32, SIDE // 32), dtype=np.uint8).repeat(32, 0).repeat(32, 1)
    colours = rng.integers(0, 200, (CLASSES, 3))
    ramp = np.linspace(0, 55, SIDE)[None, :, None]
    return (colours[label] + ramp).astype(np.uint8), label


def write_pool_part(args: tuple[Path, int, int]) -> None:
    pool, start, stop = args
    for i in range(start, stop):
        photo, label = render(i)
        Image.fromarray(photo).save(pool / "img" / f"{i:06d}.jpg", quality=85)
        Image.fromarray(label).save(pool / "label" / f"{i:06d}.png")


def pool_of(root: Path, count: int) -> Path:
    """At least ``count`` different pairs under ``root/pool`` (written once, reused)."""
    pool = root / "pool"
    (pool / "img").mkdir(parents=True, exist_ok=True)
    (pool / "label").mkdir(exist_ok=True)
    have = len(os.listdir(pool / "label"))
    if have < count:
        t = time.perf_counter()
        chunks = [(pool, s, min(count, s + 2000)) for s in range(have, count, 2000)]
        with ProcessPoolExecutor(2) as workers:
            list(workers.map(write_pool_part, chunks))
        print(f"generated pairs {have}..{count} in {time.perf_counter() - t:.0f} s", flush=True)
    return pool


def dataset(root: Path, train: int, test: int, distinct: int) -> Path:
    """``root/folder-TRAIN-TEST``: TRAIN training pairs and TEST test pairs, pair i a hard link to
    pool pair i mod ``distinct``."""
    folder = root / f"folder-{train}-{test}"
    if (folder / "dataset.toml").is_file():
        return folder
    pool = pool_of(root, distinct)
    for split, first, n in (("train", 0, train), ("val", train, test)):
        for sub, ext, src in (("img", "jpg", "img"), ("label", "png", "label")):
            target = folder / f"{split}_{sub}"
            target.mkdir(parents=True, exist_ok=True)
            for i in range(first, first + n):
                link = target / f"{i:06d}.{ext}"
                if not link.exists():
                    os.link(pool / src / f"{i % distinct:06d}.{ext}", link)
    (folder / "dataset.toml").write_text(f"classes = {CLASSES}\n")
    return folder


# ---------------------------------------------------------------- one bench command, measured

CHILD = """
import json, sys, time
stamps = {"start": time.time()}
out = sys.argv[1]
def stamp(name):
    if name not in stamps:
        stamps[name] = time.time()
        stamps[name + "_cpu"] = time.process_time()
        with open(out, "w") as fh:
            json.dump(stamps, fh)
import benchmark.pipeline.train as train
import benchmark.pipeline.execute as execute
to_device = train.Trainer.batch_to_device
def first_step(self, batch):
    stamp("first_step")
    return to_device(self, batch)
train.Trainer.batch_to_device = first_step
generate = execute.generate_images
def generating(*a, **k):
    stamp("generate")
    return generate(*a, **k)
execute.generate_images = generating
from benchmark.cli import main
try:
    code = main(sys.argv[2:])
finally:
    stamp("end")
sys.exit(code)
"""


def measured(args: list[str], env_path: str | None) -> dict:
    """Run ``bench ARGS`` in a fresh process: its peak RSS (MB) and the stamps of its stages (s)."""
    with tempfile.TemporaryDirectory() as tmp:
        stamps = Path(tmp) / "stamps.json"
        env = {**os.environ, "OMP_NUM_THREADS": "1", "BENCH_OFFLINE": "1"}
        if env_path:
            env["PYTHONPATH"] = env_path
        t0 = time.time()
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(stamps), *args], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        err = proc.stderr.read()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"bench {' '.join(args)} failed:\n{err[-3000:]}")
        s = json.loads(stamps.read_text())
        return {"peak_rss_mb": usage.ru_maxrss / 1024, "first_step_s": s.get("first_step", s["end"]) - t0,
                "first_step_cpu_s": s.get("first_step_cpu", s["end_cpu"]),
                "eval_s": s["end"] - s["generate"] if "generate" in s else None, "wall_s": s["end"] - t0}


def baseline_path(src: str | None, tmp: Path) -> str | None:
    """PYTHONPATH that makes ``benchmark`` and ``bench_plugins`` come from checkout ``src``."""
    if not src:
        return None
    (tmp / "pp").mkdir(exist_ok=True)
    link = tmp / "pp" / "bench_plugins"
    if not link.exists():
        link.symlink_to(Path(src).resolve() / "plugins")
    return f"{Path(src).resolve()}:{tmp / 'pp'}"


# ---------------------------------------------------------------- the loader alone

def throughput(folder: Path, items: int) -> dict:
    """Training items per second at 256 px (pix2pix's paper transform), one process and 2 workers."""
    sys.path.insert(0, str(REPO))
    from benchmark import BadFiles, TrainTransform, installed_plugins
    from benchmark.data.loading import loader
    from benchmark.data.transforms import PairDataset

    import torch

    torch.set_num_threads(1)  # as in a loader's worker process (DataLoader sets one thread there)
    spec = installed_plugins().datasets.get("folder")
    split = spec.index(folder, "train", spec.Options(path=folder), BadFiles(skip=False))
    data = PairDataset(split, SIDE, TrainTransform(load_size=286, hflip=True), seed=0)
    out = {}
    for workers in (0, 2):
        keys = [[(0, i % len(data))] for i in range(items)]
        t = time.perf_counter()
        for _ in loader(data, keys, num_workers=workers, pin=False, skip_bad=False, substitute=True):
            pass
        rate = items / (time.perf_counter() - t)
        out[workers] = rate
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", default="1000,10000,118287", help="training pairs, comma-separated")
    parser.add_argument("--eval-images", default="500,5000", help="test pairs, comma-separated")
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "bench-data-scale")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--distinct", type=int, default=2000, help="different pairs in the generated pool")
    parser.add_argument("--items", type=int, default=300, help="items per loader throughput measurement")
    parser.add_argument("--baseline", help="another checkout to run the same bench commands against")
    parser.add_argument("--skip", default="", help="parts to leave out: train, eval, loader")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    args.root.mkdir(parents=True, exist_ok=True)
    path = baseline_path(args.baseline, args.root)
    out = args.root / "runs"
    print(f"code: {args.baseline or REPO}", flush=True)
    if "train" not in skip:
        print("training: bench train --models pix2pix --profile paper (256 px, batch 1), one process", flush=True)
        print(f"{'train pairs':>12} {'peak RSS MB':>12} {'first step s':>13} {'(CPU s)':>8} {'wall s':>8}",
              flush=True)
        for n in (int(x) for x in args.pairs.split(",")):
            folder = dataset(args.root, n, 16, args.distinct)
            r = measured(["train", "--models", "pix2pix", "--dataset", "folder", "--set", f"folder.path={folder}",
                          "--profile", "paper", "--steps", str(args.steps), "--set", "samples=0",
                          "--set", "checkpoint_every=100000", "--output-root", str(out), "-q"], path)
            print(f"{n:>12} {r['peak_rss_mb']:>12.0f} {r['first_step_s']:>13.1f} {r['first_step_cpu_s']:>8.1f} "
                  f"{r['wall_s']:>8.1f}", flush=True)
    if "eval" not in skip:
        print("evaluation: bench run --profile smoke --steps 1 --metrics psnr,ssim (test photos 256 px on disk)",
              flush=True)
        print(f"{'test pairs':>12} {'peak RSS MB':>12} {'eval s':>8} {'wall s':>8}", flush=True)
        for m in (int(x) for x in args.eval_images.split(",")):
            folder = dataset(args.root, 64, m, args.distinct)
            r = measured(["run", "--models", "pix2pix", "--dataset", "folder", "--set", f"folder.path={folder}",
                          "--profile", "smoke", "--steps", "1", "--metrics", "psnr,ssim", "--set", "samples=0",
                          "--set", "eval.reference_row=false", "--output-root", str(out), "-q"], path)
            print(f"{m:>12} {r['peak_rss_mb']:>12.0f} {r['eval_s']:>8.1f} {r['wall_s']:>8.1f}", flush=True)
    if "loader" not in skip and not args.baseline:
        rates = throughput(dataset(args.root, 1000, 16, args.distinct), args.items)
        print(f"loader at 256 px (read JPEG+PNG, bicubic to 286, crop 256, flip): {rates[0]:.0f} img/s in one "
              f"process; {rates[2]:.0f} img/s with 2 worker processes ({os.cpu_count()} cores here)", flush=True)
        for gpu in (25, 50, 100, 200):
            print(f"  a GPU training at {gpu} img/s needs {int(np.ceil(gpu / rates[0]))} loader worker(s)", flush=True)


if __name__ == "__main__":
    main()
