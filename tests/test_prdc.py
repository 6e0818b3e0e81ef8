"""prdc: precision, recall, density, coverage against a hand-computed case, the prdc package and through a run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bench_plugins.metrics.inception import TooFewImages
from bench_plugins.metrics.prdc import PRDC, prdc

from benchmark.util.errors import BenchError


def test_a_hand_computed_case_on_a_line():
    # real points 0, 1, 2, 10 on a line, k=1: radii 1, 1, 1, 8 (to the nearest other real point);
    # fake points 0.5, 2.5, 20 and their radii (nearest other fake) 2, 2, 17.5
    real = np.array([[0.0], [1.0], [2.0], [10.0]])
    fake = np.array([[0.5], [2.5], [20.0]])
    got = prdc(real, fake, k=1)
    # precision: 0.5 in the balls of 0 and 1; 2.5 in those of 2 and 10 (|2.5-10| = 7.5 < 8); 20 in none -> 2/3
    # density: (2 + 2 + 0) / 3 / 1 = 4/3
    # recall: 0 (|0-0.5| < 2), 1, 2 (|2-2.5| < 2) inside a fake ball; 10: |10-20| = 10 < 17.5 -> 4/4
    # coverage: real balls holding a fake: 0 (0.5), 1 (0.5), 2 (2.5), 10 (2.5) -> 1
    assert got == pytest.approx({"precision": 2 / 3, "recall": 1.0, "density": 4 / 3, "coverage": 1.0}, abs=1e-12)
    # a point exactly on a ball's surface is outside: fake 1.0 is at distance 1 from real 0 and 2 (radius 1)
    on_surface = prdc(real, np.array([[1.0], [30.0]]), k=1)
    assert on_surface["precision"] == 0.5  # inside real 1's ball (distance 0 < 1) only
    assert on_surface["density"] == 0.5 and on_surface["coverage"] == 0.25


@pytest.mark.parametrize("k", [1, 3, 5])
def test_equal_to_the_prdc_package(k):
    reference = pytest.importorskip("prdc")
    rng = np.random.default_rng(k)
    real = rng.normal(size=(120, 64)).astype(np.float32)
    fake = (rng.normal(size=(90, 64)) * 1.2 + 0.3).astype(np.float32)
    ours = prdc(real, fake, k)
    theirs = reference.compute_prdc(real_features=real, fake_features=fake, nearest_k=k)
    for name in ("precision", "recall", "density", "coverage"):
        assert ours[name] == pytest.approx(float(theirs[name]), abs=1e-12), (name, ours, theirs)
    assert 0 < ours["precision"] < 1 and 0 < ours["coverage"] < 1  # a case that tells the four apart


def test_identical_sets_score_one_and_disjoint_sets_zero():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(50, 8))
    same = prdc(real, real.copy(), 3)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    far = prdc(real, real + 1000.0, 3)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_too_few_images_for_k_is_one_clear_error():
    with pytest.raises(TooFewImages) as err:
        prdc(np.zeros((3, 4)), np.ones((10, 4)), k=3)
    assert isinstance(err.value, BenchError) and "prdc.k" in str(err.value) and "3 real" in str(err.value)


def test_the_metric_reads_fids_cached_features_and_records_k(tmp_path, monkeypatch):
    from bench_plugins.metrics import fid

    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(30, 16)), rng.normal(size=(25, 16)) + 0.5

    class Features:
        def __init__(self, rows):
            self.features = rows

    calls = []

    def fake_and_real(ctx):
        calls.append(ctx)
        return Features(fake), Features(real), {"network": "N", "weights_sha256": "abc", "images": 25}

    monkeypatch.setattr("bench_plugins.metrics.prdc.fake_and_real", fake_and_real)
    monkeypatch.setattr("bench_plugins.metrics.vgg16_features.available", lambda: False)  # auto: Inception
    ctx = type("Ctx", (), {"main": True, "device": torch.device("cpu")})()
    result = PRDC().compute(ctx, PRDC.Options(k=4))
    assert result.values == pytest.approx(prdc(real, fake, 4))
    assert result.protocol["prdc_k"] == 4 and result.protocol["weights_sha256"] == "abc"
    assert fid.fake_and_real is not None and len(calls) == 1


def test_vgg16_fc2_features_when_the_file_is_imported(tmp_path, monkeypatch):
    """A random-weight VGG16 of torchvision's layout: the features are its fc2 after ReLU on the 224x224
    bicubic, ImageNet-normalised images (torchvision's own transforms and module here), cached per
    folder; auto picks them once the file is imported, and the protocol says so."""
    import dataclasses

    import torchvision
    import torchvision.transforms as T
    from bench_plugins.metrics import vgg16_features
    from PIL import Image

    from benchmark.api import EvalContext
    from benchmark.registry import weights
    from benchmark.util.imageio import write_png

    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert not vgg16_features.available()
    with pytest.raises(BenchError, match="bench weights import vgg16-imagenet"):
        PRDC().check(PRDC.Options(features="vgg16"))
    torch.manual_seed(0)
    vgg = torchvision.models.vgg16(weights=None).eval()
    file = tmp_path / "vgg16-397923af.pth"
    torch.save(vgg.state_dict(), file)
    spec = dataclasses.replace(vgg16_features.SPEC, hash_prefix=None)  # a random file lacks the published prefix
    monkeypatch.setattr(vgg16_features, "SPEC", spec)
    weights.import_file(spec, file)
    assert vgg16_features.available()
    rng = np.random.default_rng(0)
    for folder, count in (("fake", 2), ("real", 3)):
        for i in range(count):
            write_png(tmp_path / folder / f"{i:03d}.png", rng.integers(0, 256, (32, 40, 3), dtype=np.uint8))
    ctx = EvalContext(fake_dir=tmp_path / "fake", real_dir=tmp_path / "real", label_dir=tmp_path / "l",
                      class_names=["a"], ignore_index=None, device=torch.device("cpu"), cache_dir=tmp_path / "c")
    result = PRDC().compute(ctx, PRDC.Options(k=1))
    prep = T.Compose([T.Resize((224, 224), T.InterpolationMode.BICUBIC), T.ToTensor(),
                      T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])

    def fc2(folder):
        batch = torch.stack([prep(Image.open(p).convert("RGB")) for p in sorted((tmp_path / folder).glob("*.png"))])
        with torch.no_grad():
            return vgg.classifier[:5](torch.flatten(vgg.avgpool(vgg.features(batch)), 1)).numpy()

    real, fake = fc2("real"), fc2("fake")
    assert real.shape == (3, 4096) and (real >= 0).all()  # after the ReLU
    expected = prdc(real, fake, 1)
    assert result.values == pytest.approx(expected, abs=1e-9)
    p = result.protocol
    assert "VGG16" in p["network"] and "fc2" in p["network"] and p["weights_sha256"] == weights.recorded_sha256(spec)
    assert "224x224" in p["preprocessing"] and p["prdc_k"] == 1 and (p["images"], p["real_images"]) == (2, 3)
    assert len(list((tmp_path / "c" / "vgg16-fc2").glob("*.npy"))) == 2
