"""Training owned by the harness: kill and resume, divergence, checkpoints, evaluation alone."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import torch

from benchmark import hookimpl
from benchmark.registry import plugins as registry
from benchmark.api import Model, Trainable, TrainLength
from benchmark.planning.config import Layers
from benchmark.util.settings_text import parse_set
from benchmark.util.progress import Reporter
from benchmark.pipeline.execute import Execution
from benchmark.testing import TINY_DATA, call_cli

RUN = ["run", "--models", "pix2pix", "--profile", "smoke", "--steps", "300", "--set", "checkpoint_every=20",
       "--set", "samples=0", "--metrics", "psnr", *TINY_DATA]


def last_losses(out: Path) -> dict:
    (csv_path,) = list(out.glob("runs/*/losses.csv"))
    with open(csv_path) as fh:
        rows = list(csv.DictReader(fh))
    assert rows[-1]["step"] == "300"
    return rows[-1]


def test_sigkill_then_resume_ends_with_the_same_losses(tmp_path):
    data = ["--data-root", str(tmp_path / "data")]
    straight = call_cli(*RUN, *data, "--output-root", str(tmp_path / "a"), "-q")
    assert straight.returncode == 0, straight.stderr

    out = tmp_path / "b"
    cmd = [sys.executable, "-m", "benchmark.cli", *RUN, *data, "--output-root", str(out), "-q"]
    proc = subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not list(out.glob("runs/*/checkpoints/step_00000[1-9]*.pt")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ckpts = sorted(out.glob("runs/*/checkpoints/step_*.pt"))
    assert ckpts, "the run was killed before its first checkpoint"
    killed_at = int(ckpts[-1].stem.split("_")[1])
    assert 0 < killed_at < 300

    resumed = call_cli(*RUN, *data, "--output-root", str(out), "--resume", "-q")
    assert resumed.returncode == 0, resumed.stderr
    assert len(list(out.glob("runs/*"))) == 1  # continued the same run folder
    status = json.loads(next(out.glob("runs/*/status.json")).read_text())
    assert status["status"] == "ok" and status["resumed_from_step"] >= killed_at
    assert last_losses(out) == last_losses(tmp_path / "a")


class NanModel(Model):
    """A model whose loss becomes NaN at step 3."""

    name = "nan-model"
    summary = "diverges on purpose"

    def train_length(self, options, profile):
        return TrainLength(steps=10, batch_size=2)

    def build(self, options, num_classes, image_size):
        class Net(Trainable):
            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(torch.zeros(1))
                self.calls = 0

            def configure_optimizers(self):
                return {"opt": torch.optim.SGD(self.parameters(), lr=0.1)}

            def train_step(self, batch, ctx):
                self.calls += 1
                loss = (self.w - 1).pow(2).sum() * (float("nan") if self.calls == 3 else 1.0)
                ctx.optimize(loss, self.optimizers["opt"])
                return {"loss": loss.detach()}

            def generate(self, batch):
                return torch.zeros_like(batch["onehot"][:, :3])

        return Net()


def test_nan_loss_fails_that_model_and_the_run_goes_on(tmp_path):
    module = types.SimpleNamespace(register_models=hookimpl(lambda register: register(NanModel())))
    plugin_set = registry.build(extra_plugins=[module])
    sets = parse_set([a for a in TINY_DATA if a != "--set"] + ["samples=0"])
    flags = {"models": ["nan-model", "pix2pix"], "profile": "smoke", "steps": 3, "data_root": tmp_path / "d",
             "output_root": tmp_path / "o", "eval": {"metrics": ["psnr"]}}
    records = Execution.from_layers(Layers.from_sources({}, sets, flags), Reporter(quiet=True), plugin_set).run()
    failed, ok = records
    assert failed.status == "failed" and "nan" in failed.reason and "step 3" in failed.reason
    assert ok.status == "ok" and ok.metrics["PSNR"].value is not None
    saved = json.loads((Path(ok.run_dir) / "plan.json").read_text())
    assert saved["run"]["steps"] == 3 and saved["options"]["lambda_l1"] == 100.0


def test_checkpoint_and_evaluate_reproduce_the_numbers(tmp_path, roots):
    first = call_cli(*RUN[:5], "--steps", "20", "--metrics", "psnr,ssim", *TINY_DATA, *roots, "-q")
    assert first.returncode == 0, first.stderr
    out = tmp_path / "out"
    (run_dir,) = list(out.glob("runs/*"))
    table = json.loads((out / "synthetic-facades" / "leaderboard.json").read_text())
    assert "PSNR" in json.dumps(table)

    again = call_cli("evaluate", str(run_dir), "-q")
    assert again.returncode == 0, again.stderr
    from benchmark.results.store import ResultsStore
    (before,) = ResultsStore(out / "bench.sqlite").runs("synthetic-facades")
    only_psnr = call_cli("evaluate", str(run_dir), "--set", 'eval.metrics=["psnr"]', "-q")
    assert only_psnr.returncode == 0, only_psnr.stderr
    (merged,) = ResultsStore(out / "bench.sqlite").runs("synthetic-facades")
    assert list(merged.metrics) == list(before.metrics) and "SSIM" in merged.metrics  # re-measuring merges
    assert merged.metrics["SSIM"] == before.metrics["SSIM"]
    ckpt = sorted(run_dir.glob("checkpoints/*.pt"))[-1]
    loaded = call_cli(*RUN[:5], "--checkpoint", str(ckpt), "--metrics", "psnr,ssim", *TINY_DATA, *roots, "-q")
    assert loaded.returncode == 0, loaded.stderr

    from benchmark.results.store import ResultsStore
    runs = ResultsStore(out / "bench.sqlite").runs("synthetic-facades")
    assert len(runs) == 2
    psnr = [r.metrics["PSNR"].value for r in runs]
    assert abs(psnr[0] - psnr[1]) < 1e-9


def test_a_cpu_row_records_the_torch_threads_it_ran_with(tmp_path):
    """Float sums follow the thread count, so a CPU row records it (plan.json and the row's config)."""
    flags = {"models": ["pix2pix"], "profile": "smoke", "steps": 2, "eval": {"metrics": ["psnr"]}, "threads": 1,
             "data_root": tmp_path / "data", "output_root": tmp_path / "out"}
    layers = Layers.from_sources({}, {"synthetic-facades": {"train_size": 8, "test_size": 4}}, flags)
    (record,) = Execution.from_layers(layers, Reporter(quiet=True)).run()
    assert record.status == "ok" and record.config["torch_threads"] == 1
    assert json.loads((Path(record.run_dir) / "plan.json").read_text())["torch_threads"] == 1


def test_evaluating_a_moved_run_folder_writes_to_the_results_folder_it_is_in(tmp_path, roots):
    """`bench evaluate` of a run folder copied into another results folder records and publishes there,
    and leaves the results folder it was trained in as it was."""
    import shutil

    from benchmark.results.store import ResultsStore

    first = call_cli(*RUN[:5], "--steps", "4", "--metrics", "psnr", *TINY_DATA, *roots, "-q")
    assert first.returncode == 0, first.stderr
    out, moved = tmp_path / "out", tmp_path / "moved"
    (run_dir,) = list(out.glob("runs/*"))
    shutil.copytree(run_dir, moved / "runs" / run_dir.name)
    (before,) = ResultsStore(out / "bench.sqlite").runs("synthetic-facades")

    again = call_cli("evaluate", str(moved / "runs" / run_dir.name), "--set", 'eval.metrics=["psnr","ssim"]', "-q")
    assert again.returncode == 0, again.stderr
    (copy,) = ResultsStore(moved / "bench.sqlite").runs("synthetic-facades")
    assert copy.run_dir == str(moved / "runs" / run_dir.name) and "SSIM" in copy.metrics
    assert copy.metrics["PSNR"].value == before.metrics["PSNR"].value  # the same checkpoint, the same images
    assert (moved / "synthetic-facades" / "leaderboard.json").is_file()
    (untouched,) = ResultsStore(out / "bench.sqlite").runs("synthetic-facades")
    assert list(untouched.metrics) == list(before.metrics) and "SSIM" not in untouched.metrics
