"""fd-dinov2: bench's DINOv2 ViT reads a random-weight file of the published layout strictly and equals an
independent re-creation of dgm-eval's forward pass (preprocessing included); the metric is the Frechet
distance of those features, cached per folder, recorded with the file's sha256; a missing or wrong file
is one line."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from bench_plugins.metrics import dinov2, fd_dinov2
from bench_plugins.metrics.feature_cache import imagenet_input
from bench_plugins.metrics.frechet import fid_from_features

from benchmark.api import EvalContext
from benchmark.registry import weights
from benchmark.util.errors import WeightsError
from benchmark.util.imageio import write_png
from tests.official_reference import dinov2_vit as reference

TINY = {"dim": 128, "depth": 2, "grid": 37}  # the published grid; 2 heads of 64 channels


def random_state(seed: int = 0, **shape) -> dict:
    torch.manual_seed(seed)
    net = dinov2.DINOv2ViT(**{**TINY, **shape})
    for name, p in net.named_parameters():
        p.data.normal_(0, 0.02 if "weight" in name or "pos" in name or "token" in name else 0.01)
        if name.endswith("gamma"):
            p.data.uniform_(0.5, 1.5)
        if "norm" in name and name.endswith("weight"):
            p.data.uniform_(0.8, 1.2)
    return net.state_dict()


def images(folder, count, seed, side=(40, 56)):
    rng = np.random.default_rng(seed)
    for i in range(count):
        write_png(folder / f"{i:03d}.png", rng.integers(0, 256, (*side, 3), dtype=np.uint8))
    return sorted(folder.glob("*.png"))


def test_forward_equals_an_independent_recreation_preprocessing_included(tmp_path):
    state = random_state()
    net = dinov2.DINOv2ViT.from_state(state)
    files = images(tmp_path, 3, 0)
    ours = torch.stack([imagenet_input(224)(p) for p in files])
    theirs = torch.stack([reference.transform(p) for p in files])
    assert torch.equal(ours, theirs)
    got, expected = net(ours), reference.cls_features(state, theirs)
    assert got.shape == (3, 128) and expected.abs().mean() > 0.1
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-5), (got - expected).abs().max()
    assert (got[0] - got[1]).abs().max() > 1e-3  # different images, different features


def test_the_position_grid_follows_the_input_size():
    state = random_state()
    net = dinov2.DINOv2ViT.from_state(state)
    x = torch.randn(1, 3, 14 * 37, 14 * 37)
    assert torch.allclose(net(x), reference.cls_features(state, x), rtol=1e-5, atol=1e-5)  # no interpolation
    assert net.positions(16, 16).shape == (1, 257, 128)


def test_the_file_is_read_strictly():
    state = random_state()
    with pytest.raises(RuntimeError):
        dinov2.DINOv2ViT.from_state({**state, "head.weight": torch.zeros(1)})
    del state["mask_token"]
    with pytest.raises(RuntimeError):
        dinov2.DINOv2ViT.from_state(state)
    assert dinov2.DINOv2ViT.shape_of(random_state()) == TINY


def test_published_layout_check_refuses_other_files():
    assert "lacks" in dinov2.layout_problem({"cls_token": torch.zeros(1, 1, 1024)})
    with torch.device("meta"):
        full = dinov2.DINOv2ViT(**dinov2.VIT_L14).state_dict()
    assert dinov2.layout_problem(full) is None
    assert "shape" in dinov2.layout_problem({**full, "pos_embed": torch.zeros(1, 257, 1024)})


def test_the_metric_is_the_frechet_distance_of_the_features_cached_and_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(WeightsError) as err:
        fd_dinov2.FDDinov2().check(None)
    assert "dinov2_vitl14_pretrain.pth" in str(err.value) and "bench weights import dinov2-vitl14" in str(err.value)
    state = random_state(1)
    file = tmp_path / "dinov2_vitl14_pretrain.pth"
    torch.save(state, file)
    with pytest.raises(WeightsError, match="DINOv2 ViT-L/14"):  # a tiny file is not the published network
        weights.import_file(dinov2.SPEC, file)
    spec = dataclasses.replace(dinov2.SPEC, check=None)
    monkeypatch.setattr(dinov2, "SPEC", spec)
    weights.import_file(spec, file)
    fake, real = images(tmp_path / "fake", 4, 1), images(tmp_path / "real", 5, 2)
    ctx = EvalContext(fake_dir=tmp_path / "fake", real_dir=tmp_path / "real", label_dir=tmp_path / "l",
                      class_names=["a"], ignore_index=None, device=torch.device("cpu"), cache_dir=tmp_path / "c",
                      batch_size=3)
    result = fd_dinov2.FDDinov2().compute(ctx, None)
    f = reference.cls_features(state, torch.stack([reference.transform(p) for p in fake])).numpy()
    r = reference.cls_features(state, torch.stack([reference.transform(p) for p in real])).numpy()
    assert result.values["FD-DINOv2"] == pytest.approx(fid_from_features(f, r), rel=1e-4)
    p = result.protocol
    assert (p["images"], p["real_images"], p["real_split"]) == (4, 5, "test")
    assert p["weights_sha256"] == weights.recorded_sha256(spec) and "bicubic resize to 224x224" in p["preprocessing"]
    cached = list((tmp_path / "c" / "dinov2-vitl14").glob("*.npy"))
    assert len(cached) == 2  # one pass per folder, kept
    fd_dinov2._LOADED.clear()
    monkeypatch.setattr(fd_dinov2.dinov2, "read", lambda path: pytest.fail("features recomputed"))
    assert fd_dinov2.FDDinov2().compute(ctx, None).values == result.values
