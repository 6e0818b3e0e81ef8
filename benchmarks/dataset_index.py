"""How long indexing a stored split takes (bench_plugins.datasets.split_index), on generated files.

    python benchmarks/dataset_index.py [--pairs 118287]

creates ``--pairs`` empty-ish photo and label files (a few bytes each: the index reads only the
directory listing, never the files) in a temporary split folder in bench's layout, then times the
first index (listing + building + writing the cache), a second one (listing + cache hit) and one
after a file changed (a new key: rebuilt). Prints seconds and the peak memory of this process.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=118287, help="file pairs (default: COCO-Stuff train)")
    args = parser.parse_args()
    from bench_plugins.datasets.split_index import split_index

    with tempfile.TemporaryDirectory() as tmp:
        split = Path(tmp) / "train"
        (split / "images").mkdir(parents=True)
        (split / "labels").mkdir()
        t = time.perf_counter()
        for i in range(args.pairs):
            (split / "images" / f"{i:012d}.jpg").write_bytes(b"j")
            (split / "labels" / f"{i:012d}.png").write_bytes(b"p")
        print(f"generated {args.pairs} pairs in {time.perf_counter() - t:.1f} s")
        for what in ("first index (build + write cache)", "second index (cache hit)"):
            t = time.perf_counter()
            index = split_index(split)
            print(f"{what}: {time.perf_counter() - t:.2f} s, {len(index['stems'])} stems")
        (split / "labels" / f"{0:012d}.png").write_bytes(b"changed")
        t = time.perf_counter()
        split_index(split)
        print(f"after one file changed (rebuilt): {time.perf_counter() - t:.2f} s")
    print(f"peak memory (max RSS) {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
