"""Generators of the official SPADE code (NVlabs/SPADE ``latest_net_G.pth``) evaluated by bench.

The files are written by an independent implementation of the official forward pass
(``tests/official_reference/spade.py``: the official module tree and key layout, torch's first
spectral-norm API, batch norm with running statistics) after a few train-mode forwards, so that the
running statistics and spectral norm's ``u`` and ``v`` are those of a used network, not of a fresh
one. bench's generator with the file loaded must give the same images within 1/255 in eval mode,
and must not when spectral norm or batch norm are handled otherwise (the tests can fail).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from official_reference.spade import OfficialGenerator, preprocess_input, tensor2im, warm_up, write_checkpoint

from benchmark import BenchError, ConfigError, DataFacts, Size
from benchmark.cli import app as cli
from benchmark.util.imageio import to_uint8
from benchmark.data.transforms import model_batch
from bench_plugins.models.spade import Spade
from bench_plugins.models.spade import official
from benchmark.testing import TINY_DATA, one_error_line

PLUGIN = Spade()
STEP = 1 / 255


def label_maps(n: int, label_nc: int, dontcare: bool, height: int, width: int, seed: int):
    """Blocky label maps (ids 0..label_nc, label_nc the dontcare label when there is one) and instance
    maps that split some classes into two instances."""
    g = torch.Generator().manual_seed(seed)
    top = label_nc + 1 if dontcare else label_nc
    coarse = torch.randint(0, top, (n, 1, height // 8, width // 8), generator=g)
    label = F.interpolate(coarse.float(), size=(height, width)).long()
    split = torch.randint(0, 2, (n, 1, height // 4, width // 4), generator=g)
    instance = label * 1000 + F.interpolate(split.float(), size=(height, width)).long()
    return label, instance


def official_file(tmp_path, *, label_nc, dontcare, instance, height, width, ngf=4, mode="normal", hidden=16,
                  spectral=True, norm="batch", seed=0):
    torch.manual_seed(seed)
    net = OfficialGenerator(label_nc + int(dontcare) + int(instance), ngf=ngf, num_upsampling_layers=mode,
                            crop_size=width, aspect_ratio=width / height, spectral=spectral, norm=norm,
                            hidden=hidden)
    warm = [label_maps(2, label_nc, dontcare, height, width, seed + 100 + i) for i in range(2)]
    warm_up(net, [preprocess_input(lab, inst if instance else None, label_nc, dontcare) for lab, inst in warm])
    return net, write_checkpoint(net, tmp_path / "latest_net_G.pth")


def bench_model(state, *, num_classes, size, mode="normal", **options):
    found = PLUGIN.recognise_checkpoint(state)
    assert found is not None and found.format == official.FORMAT
    opts = PLUGIN.Options(**{**found.options, "num_upsampling_layers": mode, **options})
    PLUGIN.check(opts, size, num_classes)
    model = PLUGIN.build(opts, num_classes, size)
    model.load_foreign(state, found)
    return model, found


def bench_batch(label, instance, label_nc, dontcare):
    """The batch bench's harness makes from the same maps: the dontcare label is the dataset's ignore id."""
    ids = label[:, 0].clone()
    ignore = 255 if dontcare else None
    if dontcare:
        ids[ids == label_nc] = 255
    items = {"label": ids, "image": torch.zeros(len(ids), 3, *ids.shape[1:]), "index": torch.arange(len(ids)),
             "instance": instance[:, 0]}
    return model_batch(items, torch.device("cpu"), label_nc, ignore)


def compare(net, model, label, instance, label_nc, dontcare, use_instance):
    with torch.no_grad():
        theirs = net(preprocess_input(label, instance if use_instance else None, label_nc, dontcare))
    ours = model.generate(bench_batch(label, instance, label_nc, dontcare))
    return theirs, ours


def saved_images_agree(theirs, ours):
    """The official test script's saved image (tensor2im) against bench's: within 1 of 255 per pixel."""
    official_png = np.stack([tensor2im(x) for x in theirs]).astype(int)
    return np.abs(official_png - to_uint8(ours).astype(int)).max() <= 1


CASES = {
    # label_nc, dontcare, instance, (height, width), mode, ngf, hidden, spectral, norm
    "dontcare, no instance, 256x256": (7, True, False, (256, 256), "normal", 4, 16, True, "batch"),
    "instance, no dontcare, 512x256, more": (6, False, True, (256, 512), "more", 4, 16, True, "batch"),
    "dontcare and instance, most": (5, True, True, (128, 128), "most", 4, 128, True, "batch"),
    "no spectral norm, instance norm": (4, False, False, (64, 64), "normal", 4, 16, False, "instance"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bench_generates_what_the_official_forward_pass_generates(tmp_path, case):
    label_nc, dontcare, instance, (h, w), mode, ngf, hidden, spectral, norm = CASES[case]
    net, path = official_file(tmp_path, label_nc=label_nc, dontcare=dontcare, instance=instance, height=h,
                              width=w, ngf=ngf, mode=mode, hidden=hidden, spectral=spectral, norm=norm)
    state = torch.load(path, weights_only=True)
    model, found = bench_model(state, num_classes=label_nc, size=Size(h, w), mode=mode, dontcare_channel=dontcare,
                               use_instance_edges=instance)
    assert found.options["ngf"] == ngf and found.options["spade_hidden"] == hidden
    assert found.options["label_channels"] == label_nc + dontcare + instance
    assert found.undetermined == (() if mode == "most" else ("num_upsampling_layers",))
    label, inst = label_maps(2, label_nc, dontcare, h, w, seed=7)
    theirs, ours = compare(net, model, label, inst, label_nc, dontcare, instance)
    assert theirs.shape == ours.shape == (2, 3, h, w)
    assert theirs.std() > 0.02  # images, not a constant
    assert (theirs - ours).abs().max() <= STEP / 2
    assert saved_images_agree(theirs, ours)


def test_full_width_generator(tmp_path):
    """ngf 64 and SPADE's 128 hidden channels: the released generators' widths (at 64x64 for speed)."""
    net, path = official_file(tmp_path, label_nc=12, dontcare=False, instance=False, height=64, width=64, ngf=64,
                              hidden=128)
    state = torch.load(path, weights_only=True)
    model, found = bench_model(state, num_classes=12, size=Size(64, 64))
    assert found.options["ngf"] == 64 and found.options["spade_hidden"] == 128
    label, inst = label_maps(1, 12, False, 64, 64, seed=3)
    theirs, ours = compare(net, model, label, inst, 12, False, False)
    assert (theirs - ours).abs().max() <= STEP / 2 and saved_images_agree(theirs, ours)


def test_a_wrong_reading_of_spectral_norm_or_batch_norm_exceeds_one_level(tmp_path):
    """Spectral norm from the true largest singular value instead of the stored u and v, and batch norm
    from the batch instead of the running statistics (the official eval mode uses both stored), each
    change the images by more than 1/255: the equality tests above can fail."""
    net, path = official_file(tmp_path, label_nc=6, dontcare=True, instance=False, height=64, width=64)
    state = torch.load(path, weights_only=True)
    label, inst = label_maps(2, 6, True, 64, 64, seed=3)
    batch = bench_batch(label, inst, 6, True)
    model, _ = bench_model(state, num_classes=6, size=Size(64, 64), dontcare_channel=True)
    theirs, ours = compare(net, model, label, inst, 6, True, False)
    assert (theirs - ours).abs().max() <= STEP / 2

    with torch.no_grad():
        for module in model.G.modules():
            if hasattr(module, "parametrizations"):
                spectral = module.parametrizations.weight[0]
                u, _, vh = torch.linalg.svd(module.parametrizations.weight.original.flatten(1), full_matrices=False)
                spectral._u.copy_(u[:, 0])
                spectral._v.copy_(vh[0])
    assert (model.generate(batch) - theirs).abs().max() > 2 * STEP

    model, _ = bench_model(state, num_classes=6, size=Size(64, 64), dontcare_channel=True)
    model.G.eval()
    for module in model.G.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.train()  # statistics of the batch; spectral norm stays in eval mode
    with torch.no_grad():
        batch_stats = model.G(model.semantic(batch))
    assert (batch_stats - theirs).abs().max() > 2 * STEP


def test_a_file_of_spectral_norms_first_version_gives_the_same_images(tmp_path):
    """Early torch kept the normalised ``weight`` and no ``v``: sigma is the ratio of the two weights."""
    net, path = official_file(tmp_path, label_nc=4, dontcare=False, instance=False, height=64, width=64)
    state = torch.load(path, weights_only=True)
    old = {}
    for key, tensor in state.items():
        if key.endswith(".weight_v"):
            stem = key[: -len("_v")]
            matrix = state[stem + "_orig"].flatten(1)
            sigma = torch.dot(state[stem + "_u"], matrix @ tensor)
            old[stem] = state[stem + "_orig"] / sigma
        else:
            old[key] = tensor
    assert not any(k.endswith("weight_v") for k in old)
    model, _ = bench_model(old, num_classes=4, size=Size(64, 64))
    label, inst = label_maps(1, 4, False, 64, 64, seed=5)
    theirs, ours = compare(net, model, label, inst, 4, False, False)
    assert (theirs - ours).abs().max() <= STEP / 2


def test_a_vae_generator_gives_the_same_images_for_the_same_z(tmp_path):
    torch.manual_seed(1)
    net = OfficialGenerator(5, ngf=4, crop_size=64, hidden=16, z_dim=8)
    warm_up(net, [preprocess_input(label_maps(2, 5, False, 64, 64, 50 + i)[0], None, 5, False) for i in range(2)])
    state = torch.load(write_checkpoint(net, tmp_path / "latest_net_G.pth"), weights_only=True)
    model, found = bench_model(state, num_classes=5, size=Size(64, 64))
    assert found.options["use_vae"] is True and found.options["z_dim"] == 8 and found.options["ngf"] == 4
    label, inst = label_maps(2, 5, False, 64, 64, seed=2)
    z = torch.randn(2, 8)
    with torch.no_grad():
        theirs = net(preprocess_input(label, None, 5, False), z)
    ours = model.generate(bench_batch(label, inst, 5, False), z=z)
    assert (theirs - ours).abs().max() <= STEP / 2


def test_a_tensor_of_the_wrong_shape_is_one_line_naming_it(tmp_path):
    _, path = official_file(tmp_path, label_nc=4, dontcare=False, instance=False, height=64, width=64)
    state = torch.load(path, weights_only=True)
    state["up_1.norm_1.mlp_gamma.weight"] = state["up_1.norm_1.mlp_gamma.weight"][:-1]
    with pytest.raises(BenchError) as err:
        bench_model(state, num_classes=4, size=Size(64, 64))
    message = str(err.value)
    assert "'up_1.norm_1.mlp_gamma.weight'" in message and "[15, 16, 3, 3]" in message
    assert "[16, 16, 3, 3]" in message and "\n" not in message
    del state["up_1.norm_1.mlp_gamma.weight"]
    with pytest.raises(BenchError, match="no tensor 'up_1.norm_1.mlp_gamma.weight'"):
        bench_model(state, num_classes=4, size=Size(64, 64))


# ---------------------------------------------------------------- through `bench run`

def run(capsys, *args):
    capsys.readouterr()
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """No VGG19 file (nor anything else) in the weights cache; offline."""
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    return tmp_path / "weights"


def test_bench_run_evaluates_an_official_file_without_training_or_the_vgg_file(tmp_path, capsys, empty_cache):
    net, path = official_file(tmp_path, label_nc=12, dontcare=False, instance=False, height=64, width=64)
    roots = ["--data-root", str(tmp_path / "data"), "--output-root", str(tmp_path / "out")]
    base = ["run", "--models", "spade", "--dataset", "synthetic-facades", *TINY_DATA, *roots, "--checkpoint",
            str(path), "--metrics", "psnr", "--quiet"]
    code, _, err = run(capsys, *base)
    line = one_error_line(code, err)
    assert "spade.num_upsampling_layers cannot be read" in line and "--set spade.num_upsampling_layers=" in line
    assert "normal, more, most" in line
    code, _, err = run(capsys, *base, "--set", "spade.num_upsampling_layers=normal", "--set", "spade.ngf=8")
    line = one_error_line(code, err)
    assert "spade.ngf=4" in line and "set to 8" in line
    code, out, err = run(capsys, *base, "--set", "spade.num_upsampling_layers=normal")
    assert code == 0, err
    (record,) = [r for r in json.loads((tmp_path / "out" / "synthetic-facades" / "leaderboard.json").read_text())
                 ["tables"][0]["rows"]]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["label"] == f"spade@official-{digest[:8]}"
    assert record["name"] == f"spade@official-{digest[:8]} (official weights (NVlabs/SPADE))"
    (run_dir,) = (tmp_path / "out" / "runs").iterdir()
    plan = json.loads((run_dir / "plan.json").read_text())
    assert plan["weights"]["format"] == "official weights (NVlabs/SPADE)"
    assert plan["weights"]["sha256"] == digest and plan["weights"]["file"] == str(path)
    assert plan["options"]["ngf"] == 4 and plan["options"]["label_channels"] == 12
    assert not (run_dir / "checkpoints").exists() or not any((run_dir / "checkpoints").iterdir())  # no training
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "ok" and "final_losses" not in status
    fakes = sorted((run_dir / "images" / "fake").glob("*.png"))
    assert len(fakes) == 8
    # the saved images are what the official test script saves for the same label maps, within 1/255
    for fake in fakes:
        ids = torch.from_numpy(np.array(Image.open(run_dir / "images" / "label_ids" / fake.name))).long()
        with torch.no_grad():
            theirs = tensor2im(net(preprocess_input(ids[None, None], None, 12, False))[0]).astype(int)
        assert np.abs(theirs - np.asarray(Image.open(fake)).astype(int)).max() <= 1, fake.name
    code, _, err = run(capsys, "evaluate", str(run_dir), "--quiet")
    assert f"--models spade --checkpoint {path} --dataset synthetic-facades" in one_error_line(code, err)
    code, _, err = run(capsys, *base[:-4], str(wrong_channels(tmp_path)), "--metrics", "psnr", "--quiet",
                       "--set", "spade.num_upsampling_layers=normal")
    line = one_error_line(code, err)
    assert "reads 15 label channels, but this dataset gives 12 (12 classes)" in line
    state = torch.load(path, weights_only=True)
    state["up_0.conv_s.weight_orig"] = state["up_0.conv_s.weight_orig"][:, :-1]
    broken = tmp_path / "broken" / "latest_net_G.pth"
    broken.parent.mkdir()
    torch.save(state, broken)
    code, _, err = run(capsys, *base[:-4], str(broken), "--metrics", "psnr", "--quiet",
                       "--set", "spade.num_upsampling_layers=normal")
    line = one_error_line(code, err)
    assert line.count(str(broken)) == 1 and "tensor 'up_0.conv_s.weight_orig' has shape [32, 63, 1, 1]" in line
    assert not empty_cache.exists() or not any(empty_cache.rglob("vgg19*"))


def wrong_channels(tmp_path):
    folder = tmp_path / "other"
    folder.mkdir()
    return official_file(folder, label_nc=15, dontcare=False, instance=False, height=64, width=64)[1]


def test_a_zoo_row_evaluates_its_imported_file_and_shows_the_published_numbers(tmp_path, capsys, empty_cache):
    from test_standard_datasets import make_ade

    archive, _ = make_ade(tmp_path)
    data, out = tmp_path / "data", tmp_path / "out"
    code, _, err = run(capsys, "datasets", "import", "ade20k", str(archive), "--data-root", str(data),
                       "--set", "ade20k.size=24")
    assert code == 0, err
    # ADE20K as the official code reads it: 150 classes and the dontcare channel, no instance maps
    _, path = official_file(tmp_path, label_nc=150, dontcare=True, instance=False, height=64, width=64)
    code, _, err = run(capsys, "weights", "import", "spade-ade20k-official", str(path))
    assert code == 0, err
    base = ["run", "--models", "spade@ade20k-official", "--dataset", "ade20k", "--set", "ade20k.size=24",
            "--data-root", str(data), "--output-root", str(out), "--metrics", "psnr", "--quiet"]
    code, _, err = run(capsys, *base, "--set", "spade.num_upsampling_layers=more")
    line = one_error_line(code, err)
    assert line.count("spade@ade20k-official") == 1 and "num_upsampling_layers='normal'" in line
    code, _, err = run(capsys, *base)  # the default profile is 64 px: the zoo row keeps its paper's 256x256
    assert code == 0, err
    board = json.loads((out / "ade20k" / "leaderboard.json").read_text())
    (table,) = board["tables"]
    (row,) = table["rows"]
    assert row["label"] == "spade@ade20k-official"
    assert "official weights (NVlabs/SPADE); published: mIoU 38.5, pixel acc 79.9, FID 33.9" in row["name"]
    assert row["values"]["PSNR"] is not None
    (run_dir,) = (out / "runs").iterdir()
    plan = json.loads((run_dir / "plan.json").read_text())
    weights = plan["weights"]
    assert plan["resolution"] == "256x256"
    assert weights["zoo"] == "spade@ade20k-official" and weights["published"]["values"]["FID"] == 33.9
    assert (weights["published"]["at"], weights["published"]["measured_at"]) == ("256x256", "256x256")
    assert weights["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(list((run_dir / "images" / "fake").glob("*.png"))) == 2
    # its images were written as the official test script writes them (truncated), and the protocol says so
    record = json.loads((run_dir / "record.json").read_text())["record"]
    assert record["protocol"]["quantization"].startswith("truncate: (x + 1) / 2 * 255") and weights["quantization"] == \
        "truncate"
    # a size the user sets is kept, and the paper's numbers are then said not to be comparable
    code, _, err = run(capsys, *base, "--set", "image_size=64")
    assert code == 0, err
    board = json.loads((out / "ade20k" / "leaderboard.json").read_text())
    small = [r for t in board["tables"] for r in t["rows"] if "64x64" in json.dumps(t)]
    assert len(small) == 1, board
    assert "published at 256x256, not comparable with this row's 64x64: mIoU 38.5" in small[0]["name"]


def test_which_extra_label_channels_a_file_holds_is_decided_with_the_dataset_or_asked_for():
    def decide(channels, ignore, instances, **options):
        facts = DataFacts("d", 12, ignore, instances, ignore is not None)
        out = PLUGIN.for_dataset(PLUGIN.Options(label_channels=channels, **options), facts)
        return out.dontcare_channel, out.use_instance_edges

    assert decide(12, 255, True) == (False, False)
    assert decide(14, 255, True) == (True, True)           # COCO-Stuff with its instance maps
    assert decide(13, 255, False) == (True, False)         # ADE20K: the dontcare channel
    assert decide(13, None, True) == (False, True)         # Cityscapes: the instance edges
    assert decide(13, 255, True, dontcare_channel=False) == (False, True)
    with pytest.raises(ConfigError) as err:                # both possible: asked for, in one line
        decide(13, 255, True)
    assert "--set spade.dontcare_channel=true or --set spade.use_instance_edges=true" in str(err.value)
    with pytest.raises(ConfigError, match="has no instance maps"):
        decide(14, 255, False)
