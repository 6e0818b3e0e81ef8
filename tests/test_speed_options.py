"""The run's speed settings: ``fused_optimizer`` (PyTorch's fused Adam kernel) and ``channels_last``.

Both change only the order of float operations, so a short pix2pix run must end with the losses of
the plain run to float tolerance (relative 1e-4 after 3 Adam steps: each step's update is
lr * m / sqrt(v), and rounding differences of ~1e-7 in the gradients move it by far less), and
neither may change the run's config hash (resuming a run with them switched on finds it).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from benchmark.pipeline.train import fused
from benchmark.testing import TINY_DATA, call_cli

RUN = ["run", "--models", "pix2pix", "--profile", "smoke", *TINY_DATA, "--steps", "3", "--batch-size", "2",
       "--metrics", "psnr", "--set", "pix2pix.use_dropout=false", "--set", "samples=0", "--device", "cpu", "-q"]


def final_losses(out: Path) -> tuple[dict[str, float], dict]:
    (run,) = list((out / "runs").iterdir())
    with open(run / "losses.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: float(v) for k, v in rows[-1].items()}, json.loads((run / "plan.json").read_text())


def test_fused_adam_is_built_with_the_same_hyper_parameters():
    a, b = torch.nn.Linear(3, 2), torch.nn.Linear(2, 1)
    opts = {"G": torch.optim.Adam(a.parameters(), lr=2e-4, betas=(0.5, 0.999)),
            "D": torch.optim.SGD(b.parameters(), lr=0.1)}
    assert fused(opts, "auto", torch.device("cpu")) == opts  # auto: CUDA only
    out = fused(opts, "on", torch.device("cpu"))
    assert out["D"] is opts["D"]  # only Adam/AdamW have a fused kernel
    group = out["G"].param_groups[0]
    assert group["fused"] is True and group["betas"] == (0.5, 0.999) and group["lr"] == 2e-4
    assert [p for p in group["params"]] == list(a.parameters())


def test_fused_and_channels_last_train_like_the_plain_run(tmp_path):
    data = ["--data-root", str(tmp_path / "data")]
    plain = call_cli(*RUN, *data, "--output-root", tmp_path / "plain")
    assert plain.returncode == 0, plain.stderr
    fast = call_cli(*RUN, *data, "--output-root", tmp_path / "fast", "--set", "fused_optimizer=on",
                   "--set", "channels_last=true")
    assert fast.returncode == 0, fast.stderr
    (la, pa), (lb, pb) = final_losses(tmp_path / "plain"), final_losses(tmp_path / "fast")
    assert la["step"] == lb["step"] == 3
    for key in la:
        assert lb[key] == pytest.approx(la[key], rel=1e-4), key
    assert pa["config_hash"] == pb["config_hash"]
    assert pb["run"]["fused_optimizer"] == "on" and pb["run"]["channels_last"] is True


def test_bad_setting_is_one_line(tmp_path):
    result = call_cli(*RUN, "--data-root", tmp_path / "d", "--output-root", tmp_path / "o",
                     "--set", "fused_optimizer=yes")
    assert result.returncode != 0
    assert "fused_optimizer" in result.stderr and "Traceback" not in result.stderr


def test_threads_default_to_every_physical_core_less_the_data_workers(monkeypatch):
    from benchmark.planning import device

    monkeypatch.setattr(device, "TORCH_DEFAULT_THREADS", 8)  # torch's own default: one per physical core
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert device.default_threads() == 8
    assert device.default_threads(num_workers=3) == 5  # each loader worker is a process on a core
    assert device.default_threads(num_workers=20) == 1
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")  # two data-parallel workers on this node share the cores
    assert device.default_threads(num_workers=1) == 3
    saved = torch.get_num_threads()
    try:
        device.configure_backends(torch.device("cpu"), None, 1)
        assert torch.get_num_threads() == 3
        device.configure_backends(torch.device("cpu"), 2, 1)  # --set threads=N wins
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(saved)


def test_compile_is_outside_the_config_hash_and_compiles_each_network_in_place(monkeypatch):
    from types import SimpleNamespace

    from benchmark.pipeline.execute import Execution
    from benchmark.planning.config import NOT_HASHED, validate_run

    assert "compile" in NOT_HASHED and validate_run({"models": ["x"], "dataset": "y"}).compile is False
    compiled = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, *a, **k: compiled.append(type(self).__name__))

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.G, self.D = torch.nn.Linear(2, 2), torch.nn.Conv2d(1, 1, 1)

        def configure_optimizers(self):
            return {"G": torch.optim.Adam(self.G.parameters())}

    config = validate_run({"models": ["x"], "dataset": "y", "compile": True})
    fake = SimpleNamespace(plan=SimpleNamespace(device=torch.device("cpu"), config=config))
    model = Execution.place(fake, Model())
    assert compiled == ["Linear", "Conv2d"]
    assert set(model.state_dict()) == {"G.weight", "G.bias", "D.weight", "D.bias"}  # checkpoints unchanged
