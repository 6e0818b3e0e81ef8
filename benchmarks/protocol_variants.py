"""How far mIoU, pixel accuracy and FID move between the scoring protocol variants, on real data.

The "real images" row of CMP Facades (the 106 real test photos scored as if generated) at
several evaluation resolutions, through bench's own plan, dataset import and evaluation
context: the segmenter is the dataset's default (``trained``: a U-Net bench trains on the real
training photos, the ``quick`` profile's 400 steps), FID compares the real test photos with
the real training photos (as the reference row does). For each resolution it prints one line
per variant of the ``miou`` options (``label_resize``, ``count_dontcare``, ``score_at``) and of
the ``fid`` options (``implementation``, ``resolution``), and the difference to the default.

Set-up, then run::

    bench datasets import facades ../shared/datasets/facades.tar.gz --data-root D
    OMP_NUM_THREADS=2 python benchmarks/protocol_variants.py --data-root D --sizes 64,128,256
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from bench_plugins.metrics.fid import FID
from bench_plugins.metrics.miou import MIoU

from benchmark.planning.config import Layers
from benchmark.pipeline.execute import Execution
from benchmark.util.progress import Reporter
from benchmark.scoring.images import score_plan
from benchmark.util.settings_text import parse_set

MIOU_VARIANTS = [
    ("default (nearest, dontcare not counted, at eval res)", {}),
    ("label_resize=bilinear", {"label_resize": "bilinear"}),
    ("count_dontcare=true", {"count_dontcare": True}),
    ("label_resize=bilinear, count_dontcare=true", {"label_resize": "bilinear", "count_dontcare": True}),
    ("score_at=dataset (images upsampled to 256)", {"score_at": "dataset"}),
]
FID_VARIANTS = [
    ("default (clean, images as stored)", {}),
    ("implementation=legacy-tensorflow", {"implementation": "legacy-tensorflow"}),
    ("resolution=256 (both sets to 256 px first)", {"resolution": 256}),
    ("legacy-tensorflow + resolution=256", {"implementation": "legacy-tensorflow", "resolution": 256}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, required=True, help="where `bench datasets import facades` put it")
    parser.add_argument("--sizes", default="64,128,256", help="evaluation resolutions, comma-separated")
    parser.add_argument("--output-root", type=Path, default=None, help="bench's output root (default: a temp dir)")
    parser.add_argument("--no-fid", action="store_true", help="mIoU only")
    args = parser.parse_args()
    out = args.output_root or Path(tempfile.mkdtemp(prefix="protocol-variants-"))
    flags = {"dataset": "facades", "profile": "quick", "data_root": args.data_root, "output_root": out,
             "eval": {"metrics": ["miou"] if args.no_fid else ["miou", "fid"]}}
    plan = score_plan(Layers.from_sources({}, parse_set([]), flags))
    bench = Execution(plan, Reporter(quiet=True))
    data = bench.load_dataset()
    test = bench.test_samples(data)
    native = bench.measure.native_labels(test)
    print(f"CMP Facades, real test photos ({len(test)}) as the generated set, real training photos "
          f"({len(data.train)}) for the segmenter and FID; torch threads {torch.get_num_threads()}")
    for size in [int(s) for s in args.sizes.split(",")]:
        t0 = time.perf_counter()
        images = bench.measure.real_split(test, "test", size)
        train = bench.measure.real_split(data.train, "train", size)
        ctx = bench.measure.context(images, None, train, size, 0, reference=True, native_labels=native)
        print(f"\n## {size} px (native 256 px)")
        print(f"{'miou options':<55} {'mIoU':>8} {'d mIoU':>8} {'pix acc':>8} {'d acc':>8}")
        base = None
        for label, options in MIOU_VARIANTS:
            values = MIoU().compute(ctx, MIoU.Options(**options)).values
            base = base or values
            print(f"{label:<55} {values['mIoU']:8.4f} {values['mIoU'] - base['mIoU']:+8.4f} "
                  f"{values['pixel acc']:8.4f} {values['pixel acc'] - base['pixel acc']:+8.4f}")
        if not args.no_fid:
            print(f"{'fid options (real test vs real train)':<55} {'FID':>8} {'d FID':>8}")
            first = None
            for label, options in FID_VARIANTS:
                value = FID().compute(ctx, FID.Options(**options)).values["FID"]
                first = value if first is None else first
                print(f"{label:<55} {value:8.3f} {value - first:+8.3f}")
        print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
