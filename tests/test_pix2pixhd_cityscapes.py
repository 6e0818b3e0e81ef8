"""pix2pixhd trains on the datasets tests' Cityscapes archive at 64x32 (the smoke profile, Cityscapes' 2:1) with
the instance-edge channel: the row is stored with its size and its label input (the 35 label ids + the edge
map, 36 channels in the trained generator's first conv) and images of that size."""

from __future__ import annotations

import json
import math

import torch
from PIL import Image
from test_standard_datasets import make_cityscapes

from benchmark.cli import app as cli


def test_a_cityscapes_smoke_run_trains_pix2pixhd_at_64x32_with_instance_edges(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    gt, left, _ = make_cityscapes(tmp_path)
    data, out = tmp_path / "data", tmp_path / "out"
    assert cli.main(["datasets", "import", "cityscapes", str(gt), str(left), "--data-root", str(data)]) == 0
    code = cli.main(["run", "--models", "pix2pixhd", "--dataset", "cityscapes", "--set", "cityscapes.size=64",
                     "--profile", "smoke", "--steps", "4", "--metrics", "psnr", "--set", "pix2pixhd.lambda_vgg=0",
                     "--data-root", str(data), "--output-root", str(out), "--quiet"])
    assert code == 0
    (run_dir,) = (out / "runs").iterdir()
    record = json.loads((run_dir / "record.json").read_text())["record"]
    assert record["label"] == "pix2pixhd" and record["status"] == "ok"
    assert record["protocol"]["resolution"] == "64x32"
    assert record["options"]["use_instance_edges"] is True and record["note"].startswith("instance edges")
    assert record["metrics"]["PSNR"]["value"] > 0
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "ok" and all(math.isfinite(v) for v in status["final_losses"].values())
    # the trained generator and discriminator read 35 label ids + the instance-edge map
    (checkpoint,) = sorted((run_dir / "checkpoints").glob("*.pt"))[-1:]
    state = torch.load(checkpoint, weights_only=False, map_location="cpu")
    tensors = {k: v for k, v in flatten(state) if hasattr(v, "shape")}
    (front,) = [v for k, v in tensors.items() if k.endswith("G.global_net.front.1.weight")]
    assert front.shape[1] == 36
    fakes = sorted((run_dir / "images" / "fake").glob("*.png"))
    assert len(fakes) == 2 and {Image.open(p).size for p in fakes} == {(64, 32)}  # (width, height)
    board = json.loads((out / "cityscapes" / "leaderboard.json").read_text())
    assert [row["label"] for table in board["tables"] for row in table["rows"]] == ["pix2pixhd"]


def flatten(tree, prefix=""):
    """(dotted key, leaf) pairs of a nested checkpoint dict."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from flatten(value, f"{prefix}{key}.")
    else:
        yield prefix[:-1], tree
