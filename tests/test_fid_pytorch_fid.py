"""`fid.implementation=pytorch-fid` and `pytorch-fid-2019` against their references, with random weights.

- ``pytorch-fid``: the `pytorch-fid` package from PyPI (0.3.0) computes FID on two folders of six
  64 px images with a network file of random weights loaded into both it and bench (the package's
  download is replaced by reading that file); the two FIDs agree to 1e-6 relative, and so do the
  mean and covariance of each folder's features. The generated folder is one facade six times with
  a little noise, the real one six facades: with six images the covariances have rank 5 of 2048,
  and the package's ``scipy.linalg.sqrtm`` of their (singular) product is accurate only to about
  1e-5 of its own scale, while bench's distance is exact (:mod:`bench_plugins.metrics.frechet`); a
  set of small spread keeps that term far below 1e-6 of the FID, so the comparison is of the
  features and their statistics, which is what this implementation is about.
- ``pytorch-fid-2019``: the preprocessing of pytorch-fid at commit 4e366b2 (spring 2019) written out
  here by hand (the image / 255 in numpy, ``F.interpolate`` bilinear without align_corners to
  299x299, 2x - 1) into torchvision's own ``Inception3.forward`` (the 2048-d input of its ``fc``
  taken by a hook), with a random torchvision-layout file; bench's features agree to 1e-6.
- The four implementations' protocols differ, so a leaderboard never ranks their rows together.
- The weight files: registered with their published names, refused at import when their tensors
  are not the network's, never downloaded (the missing file is one line naming URL and command).

Random weights: torchvision's default initialisation, then one training-mode pass over four other
facades so that BatchNorm's running statistics keep the activations in range (as a trained file's do).
"""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from bench_plugins.datasets.synthetic_render import render_facade
from bench_plugins.metrics import inception, inception_torchvision as itv
from bench_plugins.metrics.fid import FID
from bench_plugins.metrics.fid_variants import Variant
from bench_plugins.metrics.inception_weights import OFFICIAL, Weights
from PIL import Image

from benchmark.api import EvalContext
from benchmark.data import archive
from benchmark.registry import weights
from benchmark.report.leaderboard import build_leaderboard
from benchmark.results.records import MetricValue, RunRecord
from benchmark.util.errors import WeightsError
from benchmark.util.imageio import write_png
from benchmark.testing import call_cli, one_error_line

pytorch_fid = pytest.importorskip("pytorch_fid", reason="pip install pytorch-fid (the `test` extra)")
from pytorch_fid import fid_score as pf_score  # noqa: E402
from pytorch_fid import inception as pf_inception  # noqa: E402

CPU = torch.device("cpu")


def random_file(build, path: Path, seed: int, old: bool = False) -> Path:
    """Random weights; BatchNorm's running statistics those of four other facades as the network reads them."""
    torch.manual_seed(seed)
    net = build()
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # running statistics = those of the pass below
    net.train()
    aux, net.AuxLogits = net.AuxLogits, None  # (the features do not read the auxiliary head)
    photos = torch.stack([torch.from_numpy(render_facade(s, 64)[0]).permute(2, 0, 1) for s in range(200, 204)])
    with torch.no_grad():
        net(F.interpolate(photos.float() / 255, size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1)
    net.AuxLogits = aux
    path.parent.mkdir(parents=True, exist_ok=True)
    state = net.state_dict()
    if old:  # as torchvision's 2017 file: saved before BatchNorm counted its batches
        state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A private weights cache holding a random file of each layout, an empty torch hub, two folders."""
    root = tmp_path_factory.mktemp("pytorchfid")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_WEIGHTS_DIR", str(root / "weights"))
        mp.setenv("TORCH_HOME", str(root / "torch"))
        fid_file = random_file(itv.fid_inception, weights.cached_path(itv.PYTORCH_FID_WEIGHTS), 0)
        tv_file = random_file(itv.torchvision_inception, weights.cached_path(itv.TORCHVISION_2019_WEIGHTS), 1, old=True)
        for seed in range(100, 106):
            write_png(root / "real" / f"{seed:04d}.png", render_facade(seed, 64)[0])
        one, rng = render_facade(7, 64)[0].astype(np.int16), np.random.default_rng(0)
        for i in range(6):  # one facade, six times with a little noise: a set of small spread (see below)
            noisy = np.clip(one + rng.integers(-3, 4, one.shape), 0, 255).astype(np.uint8)
            write_png(root / "fake" / f"{i:04d}.png", noisy)
        yield {"root": root, "fid_file": fid_file, "tv_file": tv_file, "fake": root / "fake", "real": root / "real"}


def context(env, **kw) -> EvalContext:
    return EvalContext(fake_dir=env["fake"], real_dir=env["real"], label_dir=env["root"] / "labels",
                       class_names=["a"], ignore_index=None, device=CPU, cache_dir=env["root"] / "cache",
                       batch_size=4, **kw)


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


def test_pytorch_fid_equals_the_pytorch_fid_package_on_two_folders(env, monkeypatch):
    monkeypatch.setattr(pf_inception, "load_state_dict_from_url",
                        lambda url, **kw: torch.load(env["fid_file"], map_location="cpu", weights_only=True))
    model = pf_inception.InceptionV3([pf_inception.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    # calculate_fid_given_paths in its two steps (statistics of each folder, then the distance), so that
    # the statistics can be compared too
    stats = [pf_score.compute_statistics_of_path(str(env[name]), model, 4, 2048, "cpu", 0) for name in ("fake", "real")]
    reference = pf_score.calculate_frechet_distance(*stats[0], *stats[1])
    result = FID().compute(context(env), FID.Options(implementation="pytorch-fid"))
    print(f"pytorch-fid package FID {reference!r}, bench fid.implementation=pytorch-fid {result.values['FID']!r}")
    assert reference > 1e-3  # two different sets of facades
    assert rel(result.values["FID"], reference) < 1e-6, (result.values, reference)
    p = result.protocol
    assert p["implementation"] == "pytorch-fid" and p["weights"] == "pt_inception-2015-12-05-6726825d.pth"
    assert p["weights_sha256"] == archive.sha256_file(env["fid_file"])
    assert "align_corners=False" in p["resize"] and "0.3.0" in p["library"]

    # each folder's mean and covariance too (from the features bench cached while computing FID)
    for name, (mu, sigma) in zip(("fake", "real"), stats):
        ours = inception.folder_features(env[name], cache_dir=env["root"] / "cache", device=CPU, batch_size=4,
                                         w=Weights(itv.PYTORCH_FID_WEIGHTS, env["fid_file"]),
                                         variant=Variant("pytorch-fid"))
        assert ours.cached
        features = ours.features.astype(np.float64)
        assert np.abs(features.mean(0) - mu).max() <= 1e-6 * np.abs(mu).max(), name
        assert np.abs(np.cov(features, rowvar=False) - sigma).max() <= 1e-6 * np.abs(sigma).max(), name


def spring_2019_features(files: list[Path], file: Path, batch_size: int = 4) -> np.ndarray:
    """pytorch-fid 4e366b2 by hand: batch by batch, imread as float32 / 255, NCHW, bilinear 299
    (align_corners=False), 2x - 1, then torchvision's Inception3 as a whole (its own forward); the
    2048-d pool is what its fc reads."""
    net = itv.torchvision_inception()
    missing, unexpected = net.load_state_dict(torch.load(file, map_location="cpu", weights_only=True), strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing)  # the 2017 file's layout
    net.eval()
    seen = []
    net.fc.register_forward_hook(lambda module, args, out: seen.append(args[0].detach().clone()))
    for start in range(0, len(files), batch_size):
        images = np.array([np.asarray(Image.open(f).convert("RGB")).astype(np.float32)
                           for f in files[start:start + batch_size]])
        # (contiguous: today's PyTorch would otherwise run the convolutions channels-last, another summation
        # order than the 2019 PyTorch that had no such layout; the values are the release's either way)
        images = np.ascontiguousarray(images.transpose((0, 3, 1, 2)))
        images /= 255
        with torch.no_grad():
            x = F.interpolate(torch.from_numpy(images), size=(299, 299), mode="bilinear", align_corners=False)
            net(2 * x - 1)
    return torch.cat(seen).numpy()


def test_pytorch_fid_2019_equals_that_releases_preprocessing_written_out(env):
    files = sorted(env["real"].glob("*.png"))
    reference = spring_2019_features(files, env["tv_file"])
    w = itv.find("pytorch-fid-2019", download=False)
    assert w.spec == itv.TORCHVISION_2019_WEIGHTS and w.path == env["tv_file"]
    ours = inception.folder_features(env["real"], cache_dir=env["root"] / "cache", device=CPU, batch_size=4, w=w,
                                     variant=Variant("pytorch-fid-2019")).features
    assert ours.shape == (6, 2048)
    print(f"pytorch-fid-2019: max |bench - by hand| {np.abs(ours - reference).max()!r} of max {np.abs(reference).max()!r}")
    assert np.abs(ours - reference).max() <= 1e-6 * np.abs(reference).max()
    # the same images through the pytorch-fid network differ: another network, another protocol
    other = inception.folder_features(env["real"], cache_dir=env["root"] / "cache", device=CPU, batch_size=4,
                                      w=Weights(itv.PYTORCH_FID_WEIGHTS, env["fid_file"]),
                                      variant=Variant("pytorch-fid")).features
    assert np.abs(other - ours).max() > 1e-2 * np.abs(ours).max()


def record(label: str, protocol: dict) -> RunRecord:
    return RunRecord(label=label, model=label, preset="default", dataset="facades", profile="smoke", seed=0,
                     options={}, config={}, protocol={"dataset": "facades", "resolution": 64}, versions={},
                     device="cpu", wall_time_s=1.0, status="ok", reason=None, run_dir="",
                     metrics={"FID": MetricValue(10.0, "down", protocol)})


def test_each_implementation_has_its_own_protocol_and_table():
    official = Weights(OFFICIAL, Path("inception-2015-12-05.pt"))
    torchvision = Weights(itv.TORCHVISION_2019_WEIGHTS, Path("x"))
    protocols = {}
    for name, w in (("clean", official), ("legacy-tensorflow", official), ("pytorch-fid", None),
                    ("pytorch-fid-2019", torchvision)):
        w = w or Weights(itv.PYTORCH_FID_WEIGHTS, Path("y"))
        protocols[name] = {"images": 6, **inception.protocol(w), **Variant(name).protocol()}
    texts = {repr(sorted(p.items())) for p in protocols.values()}
    assert len(texts) == 4
    assert protocols["pytorch-fid"]["network"] != protocols["pytorch-fid-2019"]["network"]
    assert protocols["pytorch-fid"]["resize"] != protocols["clean"]["resize"]
    board = build_leaderboard([record(name, p) for name, p in protocols.items()])
    assert len(board.tables) == 4  # never ranked together


def test_missing_files_are_one_line_and_never_downloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(socket.socket, "connect", lambda *a: pytest.fail("tried to open a connection"))
    with pytest.raises(WeightsError) as err:
        itv.find("pytorch-fid-2019")
    line = str(err.value)
    assert "\n" not in line
    for needed in ("inception_v3_google-1a9a5a14.pth", itv.TORCHVISION_2019_WEIGHTS.url,
                   "bench weights import inception-v3-google-1a9a5a14", "bench weights import inception-v3-google-0cc3c7bd"):
        assert needed in line, line
    with pytest.raises(WeightsError) as err:
        itv.find("pytorch-fid")
    assert itv.FID_WEIGHTS_URL in str(err.value) and "bench weights import pt-inception-2015-12-05" in str(err.value)


def test_torch_hubs_copy_is_imported_after_its_check(tmp_path, monkeypatch):
    """pytorch-fid and torchvision keep their downloads in torch hub's folder; bench imports from there
    (checked like `bench weights import`), so a file of another layout there is refused, not used."""
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    hub = itv.torch_hub_file(itv.TORCHVISION_WEIGHTS)
    hub.parent.mkdir(parents=True)
    torch.save({"conv.weight": torch.zeros(1)}, hub)
    with pytest.raises(WeightsError) as err:
        itv.find("pytorch-fid-2019", download=False)
    assert "lacks" in str(err.value) and "torchvision's Inception v3" in str(err.value)
    assert weights.status(itv.TORCHVISION_WEIGHTS) == weights.MISSING


def test_import_checks_structure(tmp_path, monkeypatch):
    """`bench weights import` refuses a file whose tensors are not the network's, naming the first
    difference; one with the right tensors passes the structure check (its sha256 prefix is then
    compared with the published name's, which a random file cannot match)."""
    wrong = tmp_path / "pt_inception.pth"
    layout = itv.fid_inception().state_dict()
    layout.pop("Mixed_7c.branch_pool.conv.weight")
    torch.save(layout, wrong)
    proc = call_cli("weights", "import", "pt-inception-2015-12-05", str(wrong),
                    env={"BENCH_WEIGHTS_DIR": str(tmp_path / "w")})
    line = one_error_line(proc)
    assert str(wrong) in line and "Mixed_7c.branch_pool.conv.weight" in line

    right = tmp_path / "right.pth"
    torch.save(itv.torchvision_inception().state_dict(), right)
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "w2"))
    with pytest.raises(WeightsError) as err:
        weights.import_file(itv.TORCHVISION_2019_WEIGHTS, right)
    assert "starts with 1a9a5a14" in str(err.value)  # the structure passed; the prefix did not
