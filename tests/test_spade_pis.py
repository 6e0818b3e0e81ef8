"""spade-pis: the measures against references, the style choice, and `bench run` end to end with a
VGG19-shaped file written here (through benchmark.registry.weights) and SPADE trained in the run or loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from bench_plugins.models import vgg19
from bench_plugins.models.spade_pis.measures import colour_distance, diversity
from bench_plugins.models.spade_pis.options import SpadePisOptions
from bench_plugins.models.spade_pis.styles import StylePool
from PIL import Image

from benchmark.planning.config import Layers
from benchmark.util.errors import WeightsError
from benchmark.util.progress import Reporter
from benchmark.results.store import ResultsStore
from benchmark.pipeline.execute import Execution
from benchmark.planning.checkpoint import load_checkpoint
from benchmark.rundir.layout import RunDir
from benchmark.testing import TINY_DATA, call_cli

COLUMNS = ("STYLE", "STYLE_SPADE", "DIVERSITY", "T_SPADE_MS", "T_PWCT_MS", "T_SMOOTH_MS")


def test_colour_distance_is_the_wasserstein_distance_of_the_colour_gaussians():
    rng = np.random.default_rng(0)
    a = rng.random((3, 12, 10)) ** 2
    b = rng.random((3, 12, 10)) * 0.5 + 0.2
    ma, mb = a.reshape(3, -1).mean(1), b.reshape(3, -1).mean(1)
    sa, sb = np.cov(a.reshape(3, -1)), np.cov(b.reshape(3, -1))
    root = scipy.linalg.sqrtm(sa).real
    want = np.sqrt(np.sum((ma - mb) ** 2) + np.trace(sa + sb - 2 * scipy.linalg.sqrtm(root @ sb @ root).real))
    assert colour_distance(torch.from_numpy(a), torch.from_numpy(b)) == pytest.approx(want, rel=1e-6)
    assert colour_distance(torch.from_numpy(a), torch.from_numpy(a)) == pytest.approx(0, abs=1e-6)
    shifted = torch.from_numpy(a) + torch.tensor([0.3, 0.0, 0.4]).view(3, 1, 1).double()
    assert colour_distance(torch.from_numpy(a), shifted) == pytest.approx(0.5, rel=1e-6)


def test_diversity_is_the_mean_absolute_difference_over_pairs():
    images = [torch.full((3, 2, 2), v) for v in (0.0, 0.5, 1.0)]
    assert diversity(images) == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    assert diversity(images[:1]) is None


def test_styles_are_other_test_photos_chosen_per_image_by_seed():
    photos = torch.zeros(6, 3, 4, 4, dtype=torch.uint8)
    pool = StylePool(photos, None, exclude_self=True, seed=0)
    for index in range(6):
        chosen = pool.choose(index, 3)
        assert index not in chosen and len(set(chosen)) == 3
        assert chosen == StylePool(photos, None, exclude_self=True, seed=0).choose(index, 3)
    assert [pool.choose(i, 3) for i in range(6)] != [StylePool(photos, None, exclude_self=True, seed=1).choose(i, 3)
                                                     for i in range(6)]
    assert len(StylePool(photos[:2], None, exclude_self=False, seed=0).choose(0, 5)) == 5  # with replacement


def test_levels_must_run_coarse_to_fine():
    assert SpadePisOptions(levels=[3, 1]).levels == [3, 1]
    for bad in ([1, 2], [4, 4], [5], []):
        with pytest.raises(ValueError, match="levels"):
            SpadePisOptions(levels=bad)


# ---------------------------------------------------------------- bench run


@pytest.fixture
def vgg_env(tmp_path):
    """A weights cache holding a narrow random VGG19-shaped file under torchvision's name."""
    folder = tmp_path / "weights"
    vgg19.write_random_file(folder / vgg19.SPEC.filename, width=4)
    return {"BENCH_WEIGHTS_DIR": str(folder)}


def smoke(*args, roots, env):
    return call_cli("run", "--dataset", "synthetic-facades", "--profile", "smoke", "--set", "spade.lambda_vgg=0",
                 *TINY_DATA, "--metrics", "psnr", *args, *roots, env=env)


def read_fakes(run_dir) -> np.ndarray:
    files = sorted((run_dir / "images" / "fake").glob("*.png"))
    return np.stack([np.asarray(Image.open(f)) for f in files])


def test_smoke_run_end_to_end_exact_and_fast_then_spade_from_that_run(tmp_path, roots, vgg_env):
    proc = smoke("--models", "spade,spade-pis,spade-pis+fast", roots=roots, env=vgg_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = proc.stdout + proc.stderr
    store = ResultsStore(tmp_path / "out" / "bench.sqlite")
    rows = {r.label: r for r in store.runs()}
    for label, smoothing in (("spade-pis", "exact"), ("spade-pis+fast", "fast")):
        row = rows[label]
        assert row.status == "ok", row.reason
        assert row.options["smoothing"] == smoothing
        assert row.options["spade"]["lambda_vgg"] == 0  # the user's spade table reached the embedded SPADE
        assert row.config["run"]["steps"] == 20  # SPADE's smoke budget
        for column in COLUMNS:
            assert row.metrics[column].value is not None, (label, column, row.metrics[column])
            assert row.metrics[column].value >= 0
        assert row.metrics["PSNR"].value is not None
        # the stylization moves the colours towards the style photo. Measured here: STYLE 0.26 (exact) and
        # 0.25 (fast) against 0.41 for SPADE's own photo; with decoders trained 20 steps instead of 150 (on the
        # full smoke dataset) STYLE was 0.82 against 0.34, worse than doing nothing
        assert row.metrics["STYLE"].value < 0.8 * row.metrics["STYLE_SPADE"].value, row.metrics
        assert read_fakes(Path(row.run_dir)).shape == (8, 32, 32, 3)
        assert f"{label} measured T_SMOOTH_MS=" in log
    # the embedded SPADE is the `spade` row's SPADE: same options, seed and random numbers
    spade_state = load_checkpoint(RunDir(Path(rows["spade"].run_dir)).checkpoints()[-1])["model"]
    pis_state = load_checkpoint(RunDir(Path(rows["spade-pis"].run_dir)).checkpoints()[-1])["model"]
    assert spade_state.keys() == {k[len("spade."):] for k in pis_state if k.startswith("spade.")}
    assert all(torch.equal(v, pis_state[f"spade.{k}"]) for k, v in spade_state.items())
    # the decoders were trained once, for the first row, and reused by the second
    assert log.count("training PhotoWCT decoders") == 1 and log.count("decoders reused") == 1
    assert len(list((tmp_path / "out" / "cache" / "spade-pis").glob("decoders-*.pt"))) == 1
    # the two smoothings differ on the same PhotoWCT output
    exact_dir, fast_dir = (Path(rows[k].run_dir) for k in ("spade-pis", "spade-pis+fast"))
    assert np.abs(read_fakes(exact_dir).astype(int) - read_fakes(fast_dir).astype(int)).mean() > 1

    # SPADE taken from that run: nothing trained, the same images come out
    saved = tmp_path / "all-styles"
    again = smoke("--models", "spade-pis", "--set", f"spade-pis.spade_run={exact_dir}",
                  "--set", f"spade-pis.save_dir={saved}", roots=roots, env=vgg_env)
    assert again.returncode == 0, again.stdout + again.stderr
    latest = max(ResultsStore(tmp_path / "out" / "bench.sqlite").runs(), key=lambda r: r.id)
    assert latest.status == "ok" and latest.config["run"]["steps"] == 1
    assert "decoders reused" in again.stdout + again.stderr
    np.testing.assert_array_equal(read_fakes(Path(latest.run_dir)), read_fakes(exact_dir))
    # every stylization of every label map, its style photo and SPADE's photo were written too
    fakes = sorted((exact_dir / "images" / "fake").glob("*.png"))
    assert len(list((saved / "stylized").glob("*.png"))) == len(list((saved / "style").glob("*.png"))) == 16
    assert len(list((saved / "content").glob("*.png"))) == 8
    first = np.asarray(Image.open(saved / "stylized" / f"{fakes[0].stem}_0.png"))
    np.testing.assert_array_equal(first, np.asarray(Image.open(fakes[0])))


def test_missing_vgg19_offline_stops_the_run_before_training_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "empty"))
    flags = {"models": ["spade-pis"], "profile": "smoke", "data_root": tmp_path / "data",
             "output_root": tmp_path / "out"}
    with pytest.raises(WeightsError) as err:
        Execution.from_layers(Layers.from_sources({}, {"spade": {"lambda_vgg": 0}}, flags), Reporter(quiet=True))
    message = str(err.value)
    assert "vgg19-dcbb9e9d.pth" in message and "offline" in message and "\n" not in message
    assert "bench weights import vgg19-imagenet" in message


def test_styles_from_a_folder_are_transferred_whole_and_measured(tmp_path):
    """Generation in-process with an untrained SPADE: photos of style_dir, no label maps."""
    from types import SimpleNamespace

    from bench_plugins.models.spade import Spade
    from bench_plugins.models.spade_pis import SpadePis

    from benchmark.data.transforms import model_batch

    styles = tmp_path / "styles"
    styles.mkdir()
    for i, colour in enumerate([(200, 30, 30), (20, 40, 220)]):
        Image.fromarray(np.full((20, 24, 3), colour, np.uint8)).save(styles / f"s{i}.png")
    (styles / "notes.txt").write_text("not an image")
    plugin = SpadePis()
    options = SpadePisOptions(spade={**Spade.profiles["smoke"]["options"], "lambda_vgg": 0}, style_dir=str(styles), num_styles=2,
                              smoothing="fast", guided_radius=2,
                              vgg_weights=str(vgg19.write_random_file(tmp_path / "vgg.pth", width=4)))
    model = plugin.build(options, num_classes=3, image_size=32).eval()
    label = torch.zeros(2, 32, 32, dtype=torch.long)
    label[:, 16:] = 1
    split = SimpleNamespace(photos=torch.zeros(2, 3, 32, 32, dtype=torch.uint8), labels=label, stems=["a", "b"],
                            image_size=32)
    model.before_generation(split)
    assert model.styles.labels is None and tuple(model.styles.photos.shape) == (2, 3, 32, 32)
    items = [{"image": torch.zeros(3, 32, 32), "label": label[i], "index": torch.tensor(i),
              "classes": torch.zeros(256, dtype=torch.uint8)} for i in range(2)]
    out = model.generate(model_batch(items, torch.device("cpu"), 3, None))
    assert out.shape == (2, 3, 32, 32) and out.min() >= -1 and out.max() <= 1
    measured = model.generation_metrics()
    assert measured["DIVERSITY"].value > 0  # a red and a blue style give different images
    assert measured["STYLE"].direction == "down" and measured["T_SPADE_MS"].direction == "none"
    assert measured["STYLE"].protocol["styles"] == str(styles)
