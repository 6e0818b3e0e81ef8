"""lpips: bench's network equals the lpips package's forward pass on the same files (random backbone
weights, the package's calibrated linear layers); a missing file is one line with the fix."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from bench_plugins.metrics import lpips_network
from bench_plugins.metrics.lpips import LPIPS
from bench_plugins.metrics.lpips_network import LPIPSNetwork

from benchmark.api import EvalContext
from benchmark.registry import weights
from benchmark.util.errors import WeightsError
from benchmark.util.imageio import write_png

lpips = pytest.importorskip("lpips")


def random_backbone(net: str, seed: int) -> dict:
    torch.manual_seed(seed)
    trunk = lpips_network.BUILD[net]()
    for p in trunk.features.parameters():  # random but not degenerate: every layer passes signal
        p.data.normal_(0, 0.05)
    return trunk.state_dict()


def reference(net: str, state: dict) -> torch.nn.Module:
    """The lpips package's own LPIPS with the same backbone tensors copied into its slices."""
    ref = lpips.LPIPS(net=net, pnet_rand=True, verbose=False)
    by_index = {}
    for piece in (ref.net.slice1, ref.net.slice2, ref.net.slice3, ref.net.slice4, ref.net.slice5):
        by_index.update(piece._modules)
    for key, value in state.items():
        _, index, kind = key.split(".")
        if key.startswith("features."):
            getattr(by_index[index], kind).data.copy_(value)
    return ref.eval()


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_equal_to_the_lpips_packages_forward_to_1e_6(net):
    state = random_backbone(net, 1)
    linear = torch.load(lpips_network.linear_file(net), map_location="cpu", weights_only=True)
    ours = LPIPSNetwork(net, state, linear)
    theirs = reference(net, state)
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(3, 3, 64, 96, generator=g) * 2 - 1, torch.rand(3, 3, 64, 96, generator=g) * 2 - 1
    with torch.no_grad():
        expected = theirs(a, b).flatten()
    got = ours(a, b)
    assert expected.abs().min() > 1e-4  # a real distance, not zeros
    assert torch.allclose(got, expected, rtol=1e-6, atol=1e-7), (got, expected)
    assert float(ours(a, a).abs().max()) == 0.0


def test_the_metric_reads_the_imported_backbone_and_records_both_files(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(WeightsError) as err:
        LPIPS().check(LPIPS.Options())
    assert "alexnet-owt-7be5be79.pth" in str(err.value) and "bench weights import" in str(err.value)
    state = random_backbone("alex", 2)
    file = tmp_path / "alexnet-owt-7be5be79.pth"
    torch.save(state, file)
    # a random-weight file of the published layout: everything but the published checksum prefix is checked
    spec = dataclasses.replace(lpips_network.BACKBONES["alex"], hash_prefix=None)
    monkeypatch.setitem(lpips_network.BACKBONES, "alex", spec)
    weights.import_file(spec, file)
    rng = np.random.default_rng(0)
    for folder in ("fake", "real"):
        for i in range(3):
            write_png(tmp_path / folder / f"{i:03d}.png", rng.integers(0, 256, (32, 48, 3), dtype=np.uint8))
    ctx = EvalContext(fake_dir=tmp_path / "fake", real_dir=tmp_path / "real", label_dir=tmp_path / "l",
                      class_names=["a"], ignore_index=None, device=torch.device("cpu"), cache_dir=tmp_path / "c")
    result = LPIPS().compute(ctx, LPIPS.Options())
    theirs = reference("alex", state)
    expected = []
    for fake, real in ctx.pairs():
        with torch.no_grad():
            expected += theirs(2 * fake.float() - 1, 2 * real.float() - 1).flatten().tolist()
    assert result.values["LPIPS"] == pytest.approx(float(np.mean(expected)), rel=1e-6)
    p = result.protocol
    assert p["images"] == 3 and p["weights"] == "alexnet-owt-7be5be79.pth"
    assert p["weights_sha256"] == lpips_network.sha256(file) and len(p["linear_weights_sha256"]) == 64
