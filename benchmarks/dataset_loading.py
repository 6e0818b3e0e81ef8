"""How fast `voc2012` and `celebamask-hq` load a split, on fake data of the real sizes.

    python benchmarks/dataset_loading.py [--voc 500] [--faces 200] [--threads 1,0]

builds, in a temporary folder, a VOC-layout data root with ``--voc`` photos of
500x375 (JPEG quality 90, as the release) and palette masks, and a CelebAMask-HQ
data root with ``--faces`` 1024 px photos and merged 512 px maps (the import is
timed too, per photo), then times ``load`` of the train split with each thread
count (0: the default, one per core up to 8). Prints photos per second.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
from PIL import Image

from benchmark.data.dataset import BadFiles
from bench_plugins.datasets import parallel
from bench_plugins.datasets.celebamask import CelebAMaskHQ
from bench_plugins.datasets.voc import Voc2012


def smooth_photo(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A photo-like image (smooth colour fields plus a little noise), so JPEG sizes are realistic."""
    small = rng.integers(0, 256, (height // 32 + 2, width // 32 + 2, 3), dtype=np.uint8)
    big = np.asarray(Image.fromarray(small).resize((width, height), Image.BICUBIC), dtype=np.int16)
    return np.clip(big + rng.integers(-8, 9, big.shape), 0, 255).astype(np.uint8)


def fake_voc(root: Path, n: int) -> None:
    voc = root / "voc2012" / "VOCdevkit" / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / sub).mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"2007_{i:06d}" for i in range(n)]
    for name in names:
        Image.fromarray(smooth_photo(rng, 375, 500)).save(voc / "JPEGImages" / f"{name}.jpg", quality=90)
        ids = np.zeros((375, 500), np.uint8)
        ids[100:300, 150:400] = rng.integers(1, 21)
        ids[99, 150:400] = 255
        Image.fromarray(ids).save(voc / "SegmentationClass" / f"{name}.png")
    for file in ("train.txt", "val.txt"):
        (voc / "ImageSets" / "Segmentation" / file).write_text("\n".join(names) + "\n")


def fake_faces(base: Path, n: int) -> Path:
    release = base / "CelebAMask-HQ"
    (release / "CelebA-HQ-img").mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(n):
        Image.fromarray(smooth_photo(rng, 1024, 1024)).save(release / "CelebA-HQ-img" / f"{i}.jpg", quality=95)
        folder = release / "CelebAMask-HQ-mask-anno" / str(i // 2000)
        folder.mkdir(parents=True, exist_ok=True)
        for k, part in enumerate(["skin", "nose", "l_eye", "r_eye", "hair", "neck", "cloth", "mouth"]):
            mask = np.zeros((512, 512), np.uint8)
            mask[40 * k:40 * k + 200, 50:450] = 255
            Image.fromarray(mask).save(folder / f"{i:05d}_{part}.png")
    return base


def timed(label: str, count: int, func) -> None:
    t0 = time.perf_counter()
    func()
    seconds = time.perf_counter() - t0
    print(f"{label}: {count} photos in {seconds:.2f} s ({count / seconds:.0f} photos/s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voc", type=int, default=500)
    ap.add_argument("--faces", type=int, default=200)
    ap.add_argument("--threads", default="1,0", help="thread counts to time, 0 = the default")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        fake_voc(root, args.voc)
        fake_faces(Path(tmp) / "src", args.faces)
        faces = CelebAMaskHQ()
        timed("celebamask-hq import (merge 8 masks, copy photo)", args.faces,
              lambda: faces.import_from(Path(tmp) / "src", root))
        voc = Voc2012()
        for threads in [int(t) for t in args.threads.split(",")]:
            count = threads or parallel.workers()
            with mock.patch.object(parallel, "workers", lambda: count):
                timed(f"voc2012 load, 500x375, {count} thread(s)", args.voc,
                      lambda: voc.load(root, "train", voc.Options(), BadFiles(False)))
                timed(f"celebamask-hq load, 1024 px -> 256, {count} thread(s)", args.faces,
                      lambda: faces.load(root, "train", faces.Options(split="every-tenth"), BadFiles(False)))


if __name__ == "__main__":
    main()
