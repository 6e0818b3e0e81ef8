"""diversity: MS-SSIM equals piq's; the metric's pairwise LPIPS is what the lpips network gives each pair
(identical samples give 0 and MS-SSIM 1); a model that does not sample gets empty cells with the reason;
the evaluation writes K samples per label map and removes an earlier evaluation's extra ones."""

from __future__ import annotations

import dataclasses
import itertools
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from bench_plugins.metrics import image_quality, lpips_network
from bench_plugins.metrics.diversity import LPIPS_COLUMN, MS_SSIM_COLUMN, Diversity

from benchmark.api import EvalContext, Trainable
from benchmark.data.transforms import PairDataset
from benchmark.pipeline import samples as sample_plan
from benchmark.pipeline.evaluate import generate_images
from benchmark.registry import weights
from benchmark.rundir.layout import ImageSet
from benchmark.util.imageio import read_rgb, write_png
from benchmark.util.progress import Reporter

piq = pytest.importorskip("piq")


@pytest.mark.parametrize("shape", [(2, 3, 176, 170), (1, 3, 181, 190)])
def test_ms_ssim_equals_piqs_multi_scale_ssim(shape):
    g = torch.Generator().manual_seed(0)
    a = torch.rand(*shape, generator=g, dtype=torch.float64)
    b = (a + 0.3 * torch.rand(*shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    expected = piq.multi_scale_ssim(a, b, data_range=1.0, reduction="none")
    got = image_quality.ms_ssim(a, b)
    assert expected.min() < 0.999  # different images
    assert torch.allclose(got, expected, rtol=0, atol=1e-10), (got, expected)
    assert torch.equal(image_quality.ms_ssim(a, a), torch.ones(len(a), dtype=torch.float64))


def test_fewer_scales_renormalise_the_papers_exponents():
    assert image_quality.ms_ssim_min_side(5) == 161 and image_quality.ms_ssim_min_side(2) == 21
    w = image_quality.ms_ssim_weights(2)
    assert w == pytest.approx((0.0448 / 0.3304, 0.2856 / 0.3304))
    assert image_quality.ms_ssim_weights(5) == image_quality.MS_SSIM_WEIGHTS


def imported_alexnet(tmp_path, monkeypatch) -> dict:
    """A random-weight AlexNet file of the published layout, imported as the lpips backbone."""
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    torch.manual_seed(2)
    trunk = lpips_network.BUILD["alex"]()
    for p in trunk.features.parameters():
        p.data.normal_(0, 0.05)
    file = tmp_path / "alexnet-owt-7be5be79.pth"
    torch.save(trunk.state_dict(), file)
    spec = dataclasses.replace(lpips_network.BACKBONES["alex"], hash_prefix=None)
    monkeypatch.setitem(lpips_network.BACKBONES, "alex", spec)
    weights.import_file(spec, file)
    lpips_network._LOADED.clear()
    return trunk.state_dict()


def sample_context(tmp_path, k: int, maps: int, same: bool = False, profile: str | None = None) -> EvalContext:
    images = ImageSet(tmp_path / "images")
    rng = np.random.default_rng(0)
    for m in range(maps):
        first = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
        for s in range(k):
            picture = first if same else rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
            write_png(images.sample(s) / f"{m:03d}.png", picture)
    return EvalContext(fake_dir=images.fake, real_dir=images.real, label_dir=images.label_ids, class_names=["a"],
                       ignore_index=None, device=torch.device("cpu"), cache_dir=tmp_path / "cache", profile=profile,
                       sample_dirs=tuple(images.sample(s) for s in range(k)))


def test_mean_pairwise_lpips_and_ms_ssim_by_hand(tmp_path, monkeypatch):
    state = imported_alexnet(tmp_path, monkeypatch)
    ctx = sample_context(tmp_path, k=3, maps=2)
    options = Diversity.Options(samples=3, ms_ssim_scales=2)
    result = Diversity().compute(ctx, options)
    linear = torch.load(lpips_network.linear_file("alex"), map_location="cpu", weights_only=True)
    net = lpips_network.LPIPSNetwork("alex", state, linear)  # the lpips metric's network, pair by pair
    lp, ms = [], []
    for stem in ctx.stems():
        images = [read_rgb(d / f"{stem}.png")[None] for d in ctx.sample_dirs]
        pairs = list(itertools.combinations(images, 2))
        assert len(pairs) == 3
        lp.append(np.mean([float(net(2 * a - 1, 2 * b - 1)) for a, b in pairs]))
        ms.append(np.mean([float(piq.multi_scale_ssim(a.double(), b.double(), data_range=1.0,
                                                      scale_weights=torch.tensor(image_quality.ms_ssim_weights(2),
                                                                                   dtype=torch.float64)))
                           for a, b in pairs]))
    assert result.values[LPIPS_COLUMN] == pytest.approx(float(np.mean(lp)), rel=1e-5)
    assert result.values[MS_SSIM_COLUMN] == pytest.approx(float(np.mean(ms)), rel=1e-9)
    assert result.values[LPIPS_COLUMN] > 0.001
    p = result.protocol
    assert (p["diversity_samples"], p["label_maps"], p["pairs_per_map"]) == (3, 2, 3)
    assert p["weights"] == "alexnet-owt-7be5be79.pth" and len(p["weights_sha256"]) == 64
    assert "2 scales" in p["ms_ssim"]
    assert len(result.per_image[LPIPS_COLUMN]) == 2


def test_identical_samples_give_zero_lpips_and_ms_ssim_one(tmp_path, monkeypatch):
    imported_alexnet(tmp_path, monkeypatch)
    ctx = sample_context(tmp_path, k=4, maps=2, same=True, profile="smoke")
    result = Diversity().compute(ctx, Diversity.Options())
    assert result.values[LPIPS_COLUMN] == 0.0
    assert result.values[MS_SSIM_COLUMN] == pytest.approx(1.0, abs=1e-12)
    # the smoke profile: K = 3 of the 4 folders, as many MS-SSIM scales as 40 px allow (2), recorded
    assert result.protocol["diversity_samples"] == 3 and "2 scales" in result.protocol["ms_ssim"]


def test_too_small_for_the_scales_is_a_note_not_an_error(tmp_path, monkeypatch):
    imported_alexnet(tmp_path, monkeypatch)
    ctx = sample_context(tmp_path, k=2, maps=1)
    result = Diversity().compute(ctx, Diversity.Options(samples=2))
    assert result.values[MS_SSIM_COLUMN] is None and result.values[LPIPS_COLUMN] is not None
    assert "161 px" in result.notes[MS_SSIM_COLUMN] and "diversity.ms_ssim_scales" in result.notes[MS_SSIM_COLUMN]


def test_a_model_that_does_not_sample_leaves_the_cells_empty_with_the_reason(tmp_path):
    row = SimpleNamespace(label="pix2pix", options=None, plugin=SimpleNamespace(multi_modal=lambda options: False))
    metrics = [(Diversity(), Diversity.Options())]
    planned = sample_plan.for_row(row, metrics, "smoke")
    assert planned.count == 1 and "pix2pix does not sample" in planned.reason
    images = ImageSet(tmp_path / "images")
    ctx = EvalContext(fake_dir=images.fake, real_dir=images.real, label_dir=images.label_ids, class_names=["a"],
                      ignore_index=None, device=torch.device("cpu"), cache_dir=tmp_path, **planned.context(images))
    result = Diversity().compute(ctx, Diversity.Options())
    assert result.values == {LPIPS_COLUMN: None, MS_SSIM_COLUMN: None}
    assert result.notes[LPIPS_COLUMN] == planned.reason == result.notes[MS_SSIM_COLUMN]
    sampling = SimpleNamespace(label="spade+vae", options=None, plugin=SimpleNamespace(multi_modal=lambda o: True))
    assert sample_plan.for_row(sampling, metrics, "smoke").count == 3
    assert sample_plan.for_row(sampling, metrics, "paper").count == 10
    assert sample_plan.for_row(sampling, [], "paper").count == 1  # no metric asks: one image per map


class Sampler(Trainable):
    """Each image a flat grey set by its index and the sample number."""

    def generate(self, batch):
        return self.generate_sample(batch, 0)

    def generate_sample(self, batch, sample):
        value = (batch["index"].float() * 0.1 + sample * 0.25 - 0.5).view(-1, 1, 1, 1)
        return value.expand(-1, 3, *batch["label"].shape[-2:]).clamp(-1, 1)


def test_the_evaluation_writes_k_samples_per_map_in_one_pass(tmp_path):
    from benchmark.data.dataset import Sample

    rng = np.random.default_rng(0)
    samples = [Sample(f"{i:03d}", rng.integers(0, 256, (16, 16, 3), dtype=np.uint8),
                      rng.integers(0, 3, (16, 16), dtype=np.uint8)) for i in range(3)]
    out = ImageSet(tmp_path / "images")
    (out.samples_root / "07").mkdir(parents=True)  # an earlier evaluation's extra sample folder
    kwargs = dict(device=torch.device("cpu"), dtype=None, num_classes=3, ignore_index=None, palette=[(0, 0, 0), (9, 9, 9), (99, 9, 9)],
                  batch_size=2, reporter=Reporter(quiet=True))
    generate_images(Sampler(), PairDataset(samples, 16), out, samples=3, **kwargs)
    assert sorted(p.name for p in out.samples_root.iterdir()) == ["01", "02"]
    for k in range(3):
        for i in range(3):
            pixel = read_rgb(out.sample(k) / f"{i:03d}.png")[0, 0, 0].item()
            assert pixel == pytest.approx((i * 0.1 + k * 0.25 - 0.5 + 1) / 2, abs=1 / 255)
    generate_images(Sampler(), PairDataset(samples, 16), out, samples=1, **kwargs)
    assert not any(out.samples_root.iterdir())


@pytest.mark.parametrize("setting, words", [
    ("diversity.samples=1", "'diversity.samples': 1"),
    ("diversity.ms_ssim_scales=6", "'diversity.ms_ssim_scales': 6"),
    ("prdc.features=resnet", "'prdc.features': 'resnet'"),
])
def test_bad_options_of_the_new_metrics_are_one_line_before_training(tmp_path, setting, words):
    from benchmark.testing import call_cli, one_error_line

    result = call_cli("run", "--models", "pix2pix", "--profile", "smoke", "--metrics", "diversity,prdc,fd-dinov2",
                      "--set", setting, "--dry-run", "--output", tmp_path / "out")
    line = one_error_line(result, exit_code=2)
    assert words in line and not (tmp_path / "out" / "runs").exists()
