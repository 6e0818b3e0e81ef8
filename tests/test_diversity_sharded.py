"""diversity under data parallelism: two workers generate the K samples per label map and measure their
pairwise LPIPS and MS-SSIM together, and the numbers and sample files equal one process's on the same
checkpoint (each worker writes whole batches of the single-process order; per-map rows are gathered
back in that order before the mean)."""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision

from benchmark.results.store import ResultsStore
from benchmark.testing import TINY_DATA, call_cli, run_cli

RUN = ["run", "--models", "spade+vae", "--profile", "smoke", *TINY_DATA, "--steps", "1", "--batch-size", "2",
       "--metrics", "diversity", "--set", "spade.lambda_vgg=0", "--set", "samples=0", "--device", "cpu",
       "--set", "eval.reference_row=false", "-q"]


def test_two_workers_measure_diversity_like_one(tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    torch.manual_seed(0)
    alex = torchvision.models.alexnet(weights=None)
    for p in alex.features.parameters():
        p.data.normal_(0, 0.05)
    torch.save(alex.state_dict(), weights / "alexnet-owt-7be5be79.pth")  # random weights, the published name
    env = {"BENCH_WEIGHTS_DIR": str(weights), "TORCH_HOME": str(tmp_path / "torch")}
    data = ["--data-root", str(tmp_path / "data")]
    two = run_cli(*RUN, *data, "--output-root", tmp_path / "two", "--nproc-per-node", "2", env=env)
    assert two.returncode == 0, two.stderr
    (run_two,) = (tmp_path / "two" / "runs").iterdir()
    (checkpoint,) = (run_two / "checkpoints").glob("step_*.pt")
    one = call_cli(*RUN, *data, "--checkpoint", checkpoint, "--output-root", tmp_path / "one", env=env)
    assert one.returncode == 0, one.stderr
    (run_one,) = (tmp_path / "one" / "runs").iterdir()

    for k in ("fake", "samples/01", "samples/02"):
        files = sorted((run_two / "images" / k).glob("*.png"))
        assert len(files) == 8, k
        assert all(f.read_bytes() == (run_one / "images" / k / f.name).read_bytes() for f in files), k
    (a,), (b,) = (ResultsStore(tmp_path / out / "bench.sqlite").runs() for out in ("one", "two"))
    for column in ("LPIPS div", "MS-SSIM div"):
        assert a.metrics[column].value is not None and b.metrics[column].value == a.metrics[column].value, column
    assert a.metrics["LPIPS div"].protocol["diversity_samples"] == 3
    assert b.metrics["LPIPS div"].protocol["label_maps"] == 8
    assert not Path(run_two / "images" / "samples" / "03").exists()
