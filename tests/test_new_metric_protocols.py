"""The leaderboard's protocol records, for each metric of issue 25 (diversity, fd-dinov2, prdc on VGG16
features), its network, its file's sha256, k and the sample count: measured by the pipeline's
compute_metrics, stored, and read back from `bench report --format json`."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import torch
from bench_plugins.metrics import fd_dinov2, vgg16_features
from bench_plugins.metrics.diversity import Diversity
from bench_plugins.metrics.feature_cache import FeatureNetwork
from bench_plugins.metrics.prdc import PRDC

from benchmark.api import EvalContext
from benchmark.cli import app as cli
from benchmark.pipeline.evaluate import compute_metrics
from benchmark.registry import weights
from benchmark.results.records import RunRecord
from benchmark.results.store import ResultsStore
from benchmark.rundir.layout import ImageSet
from benchmark.util.imageio import read_rgb, write_png
from benchmark.util.progress import Reporter
from tests import test_diversity, test_fd_dinov2


def test_bench_report_json_records_network_sha256_k_and_samples(tmp_path, monkeypatch, capsys):
    test_diversity.imported_alexnet(tmp_path, monkeypatch)  # sets the weights folder too
    dino = tmp_path / "dinov2_vitl14_pretrain.pth"
    torch.save(test_fd_dinov2.random_state(3), dino)
    spec = dataclasses.replace(fd_dinov2.dinov2.SPEC, check=None)  # a tiny file of the published layout
    monkeypatch.setattr(fd_dinov2.dinov2, "SPEC", spec)
    weights.import_file(spec, dino)
    # prdc's VGG16 path with a small stand-in network (the VGG16 features themselves: tests/test_prdc.py)
    projection = torch.randn(3 * 8 * 8, 16, generator=torch.Generator().manual_seed(0))

    def small(path):
        return torch.nn.functional.interpolate(read_rgb(path)[None], size=(8, 8))[0].flatten()

    stand_in = FeatureNetwork("vgg16-fc2", 16, small, lambda b: (b @ projection).numpy(),
                              {"network": vgg16_features.NETWORK, "weights": "vgg16-397923af.pth",
                               "weights_sha256": "ab" * 32, "preprocessing": "stand-in"})
    monkeypatch.setattr(vgg16_features, "available", lambda: True)
    monkeypatch.setattr(vgg16_features, "feature_network", lambda ctx, needed_by="": stand_in)

    images = ImageSet(tmp_path / "images")
    rng = np.random.default_rng(0)
    for i in range(6):
        write_png(images.real / f"{i:03d}.png", rng.integers(0, 256, (48, 40, 3), dtype=np.uint8))
        for k in range(3):
            write_png(images.sample(k) / f"{i:03d}.png", rng.integers(0, 256, (48, 40, 3), dtype=np.uint8))
    ctx = EvalContext(fake_dir=images.fake, real_dir=images.real, label_dir=images.label_ids, class_names=["a"],
                      ignore_index=None, device=torch.device("cpu"), cache_dir=tmp_path / "cache", profile="smoke",
                      sample_dirs=tuple(images.sample(k) for k in range(3)))
    metrics = [(Diversity(), Diversity.Options()), (fd_dinov2.FDDinov2(), None), (PRDC(), PRDC.Options(k=2))]
    values = compute_metrics(metrics, ctx, Reporter(quiet=True))
    assert all(v.value is not None for c, v in values.items() if c != "MS-SSIM div"), values

    store = ResultsStore(tmp_path / "bench.sqlite")
    store.add_run(RunRecord(label="spade+vae", model="spade", preset="vae", dataset="facades", profile="smoke", seed=0,
                            options={}, config={}, protocol={"images": 6, "resolution": 48}, versions={},
                            device="cpu", wall_time_s=1.0, status="ok", reason=None, run_dir=str(tmp_path),
                            metrics=values))
    assert cli.main(["report", "--format", "json", "--columns", "all", "--output-root", str(tmp_path)]) == 0
    table = json.loads(capsys.readouterr().out)["tables"][0]
    recorded = table["protocol"]["metrics"]
    div = recorded["LPIPS div"]
    assert div["diversity_samples"] == 3 and div["label_maps"] == 6 and div["network"].startswith("LPIPS v0.1")
    assert div["weights_sha256"] == weights.recorded_sha256("alexnet-imagenet") and "2 scales" in div["ms_ssim"]
    fd = recorded["FD-DINOv2"]
    assert fd["network"].startswith("DINOv2 ViT-L/14") and fd["weights_sha256"] == weights.recorded_sha256(spec)
    assert "224x224" in fd["preprocessing"] and (fd["images"], fd["real_images"]) == (6, 6)
    pr = recorded["precision"]
    assert pr["prdc_k"] == 2 and "VGG16" in pr["network"] and pr["weights_sha256"] == "ab" * 32 and pr["images"] == 6
    assert table["rows"][0]["values"]["FD-DINOv2"] == values["FD-DINOv2"].value
