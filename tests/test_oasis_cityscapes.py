"""oasis trains on the datasets tests' Cityscapes archive at 64x32 (the smoke profile, Cityscapes' 2:1):
the row is stored with its size, its label input (the 35 label ids, no dontcare channel, no instance
edges: the official OASIS code reads no instance maps) and images of that size."""

from __future__ import annotations

import json
import math

from PIL import Image
from test_standard_datasets import make_cityscapes

from benchmark.cli import app as cli


def test_a_cityscapes_smoke_run_trains_oasis_at_64x32(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    gt, left, _ = make_cityscapes(tmp_path)
    data, out = tmp_path / "data", tmp_path / "out"
    assert cli.main(["datasets", "import", "cityscapes", str(gt), str(left), "--data-root", str(data)]) == 0
    code = cli.main(["run", "--models", "oasis", "--dataset", "cityscapes", "--set", "cityscapes.size=64",
                     "--profile", "smoke", "--steps", "4", "--metrics", "psnr", "--data-root", str(data),
                     "--output-root", str(out), "--quiet"])
    assert code == 0
    (run_dir,) = (out / "runs").iterdir()
    record = json.loads((run_dir / "record.json").read_text())["record"]
    assert record["label"] == "oasis" and record["status"] == "ok"
    assert record["protocol"]["resolution"] == "64x32"
    options = record["options"]
    assert options["dontcare_channel"] is False and options["label_channels"] is None
    assert options["num_res_blocks"] == 5  # the smoke profile: 64x32 is a multiple of 2**5 on both sides
    assert "instance" not in record["note"] and record["note"].startswith("z ~ N(0,I), 8-d 3D noise")
    assert record["metrics"]["PSNR"]["value"] > 0
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "ok" and all(math.isfinite(v) for v in status["final_losses"].values())
    assert set(status["final_losses"]) >= {"G_adv", "D_fake", "D_real", "D_labelmix"}
    fakes = sorted((run_dir / "images" / "fake").glob("*.png"))
    assert len(fakes) == 2 and {Image.open(p).size for p in fakes} == {(64, 32)}  # (width, height)
    board = json.loads((out / "cityscapes" / "leaderboard.json").read_text())
    assert [row["label"] for table in board["tables"] for row in table["rows"]] == ["oasis"]
