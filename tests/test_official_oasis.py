"""Generators of the official OASIS code (boschresearch/OASIS ``best_EMA.pth``) evaluated by bench.

The files are written by an independent re-creation of the official module tree
(``tests/official_reference/oasis.py``: the official key layout, torch's first spectral-norm API, batch
norm with running statistics, 3D noise before the labels) after train-mode forwards and one EMA
average, so that the running statistics and spectral norm's ``u`` and ``v`` are those of a used EMA
network (``u`` and ``v`` no longer unit vectors), not of a fresh one. bench's generator with the file
loaded must give the same images within 1/255 in eval mode at the same noise, square and at
Cityscapes' 2:1, and must not when spectral norm, batch norm or the noise are handled otherwise.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from official_reference.oasis import OfficialOasisGenerator, ema_of, preprocess_input, saved_image, warm_up, \
    write_checkpoint
from PIL import Image

from benchmark import BenchError, DataFacts, Size
from benchmark.cli import app as cli
from benchmark.data.transforms import model_batch
from benchmark.testing import one_error_line
from bench_plugins.models.oasis import Oasis
from bench_plugins.models.oasis import official

PLUGIN = Oasis()
STEP = 1 / 255


def official_labels(n: int, semantic_nc: int, height: int, width: int, seed: int, top: int | None = None):
    """Blocky maps of official loader ids 0 .. ``top`` - 1 (default: every channel), as (N,1,H,W)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, top or semantic_nc, (n, 1, max(1, height // 8), max(1, width // 8)), generator=g)
    return F.interpolate(coarse.float(), size=(height, width)).long()


def official_file(tmp_path, *, semantic_nc, height, width, ngf=4, hidden=16, z_dim=64, spectral=True, norm="batch",
                  top=None, seed=0, warm=2):
    """An EMA generator file as the official training writes it: two generators used in train mode (``warm``
    batches of ``warm`` maps), one ``update_EMA`` between them."""
    nets = []
    for k in range(2):
        torch.manual_seed(seed + k)
        net = OfficialOasisGenerator(semantic_nc, channels_G=ngf, crop_size=width, aspect_ratio=width / height,
                                     z_dim=z_dim, spectral=spectral, norm=norm, hidden=hidden)
        warm_up(net, [preprocess_input(official_labels(warm, semantic_nc, height, width, seed + 10 * k + i, top),
                                       semantic_nc) for i in range(warm)])
        nets.append(net)
    ema = ema_of(nets[0], nets[1], decay=0.7)
    return ema, write_checkpoint(ema, tmp_path / "oasis_pretrained" / "models" / "best_EMA.pth")


def bench_model(state, *, num_classes, size, dontcare, **options):
    found = PLUGIN.recognise_checkpoint(state)
    assert found is not None and found.format == official.FORMAT
    opts = PLUGIN.Options(**{**found.options, **options})
    ignore = 255 if dontcare else None
    opts = PLUGIN.for_dataset(opts, DataFacts("d", num_classes, ignore, False, dontcare))
    PLUGIN.check(opts, size, num_classes)
    model = PLUGIN.build(opts, num_classes, size)
    model.load_foreign(state, found)
    return model, found


def bench_batch(label, num_classes, dontcare):
    """The batch bench makes from the same maps: with a dontcare label (ADE20K, COCO-Stuff) the official
    id 0 is bench's ignore id 255 and official id k is bench's class k - 1; else the ids are the same."""
    ids = label[:, 0].clone()
    if dontcare:
        ids = torch.where(ids == 0, torch.full_like(ids, 255), ids - 1)
    items = {"label": ids, "image": torch.zeros(len(ids), 3, *ids.shape[1:]), "index": torch.arange(len(ids)) + 3}
    return model_batch(items, torch.device("cpu"), num_classes, 255 if dontcare else None)


def compare(net, model, label, semantic_nc, num_classes, dontcare, sample=0):
    """The official forward pass and bench's generation at the same noise: bench's own for the image."""
    batch = bench_batch(label, num_classes, dontcare)
    z = model.noise(batch, sample)
    with torch.no_grad():
        theirs = net(preprocess_input(label, semantic_nc), z)
    return theirs, model.generate_sample(batch, sample), batch


def saved_images_agree(theirs, ours):
    """The official results_saver's image against bench's rounding: within 1 of 255 per pixel."""
    from benchmark.util.imageio import to_uint8

    official_png = np.stack([saved_image(x) for x in theirs]).astype(int)
    return np.abs(official_png - to_uint8(ours).astype(int)).max() <= 1


CASES = {
    # semantic_nc, classes, dontcare, (height, width), ngf, hidden, z_dim, spectral, norm
    "ADE20K-like: dontcare first, 64x64": (9, 8, True, (64, 64), 4, 16, 64, True, "batch"),
    "Cityscapes-like: 35 channels, 64x32": (35, 35, False, (32, 64), 4, 16, 64, True, "batch"),
    "Cityscapes' 2:1 at 128x64, full SPADE width": (35, 35, False, (64, 128), 2, 128, 64, True, "batch"),
    "no spectral norm, instance norm": (6, 5, True, (64, 64), 2, 8, 64, False, "instance"),
    "no 3D noise": (7, 7, False, (64, 64), 2, 8, 0, True, "batch"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bench_generates_what_the_official_forward_pass_generates(tmp_path, case):
    semantic_nc, classes, dontcare, (h, w), ngf, hidden, z_dim, spectral, norm = CASES[case]
    net, path = official_file(tmp_path, semantic_nc=semantic_nc, height=h, width=w, ngf=ngf, hidden=hidden,
                              z_dim=z_dim, spectral=spectral, norm=norm)
    state = torch.load(path, weights_only=True)
    model, found = bench_model(state, num_classes=classes, size=Size(h, w), dontcare=dontcare)
    assert found.options == {"ngf": ngf, "num_res_blocks": 6, "z_dim": z_dim, "spade_hidden": hidden,
                             "spectral": spectral, "norm_G": norm, "label_channels": semantic_nc}
    assert model.options.dontcare_channel is dontcare
    # Cityscapes' labelIds 0..33 (34, bench's license plate, never set); else every official id
    label = official_labels(2, semantic_nc, h, w, seed=7, top=34 if semantic_nc == 35 else None)
    theirs, ours, _ = compare(net, model, label, semantic_nc, classes, dontcare)
    assert theirs.shape == ours.shape == (2, 3, h, w)
    assert theirs.std() > 0.02  # images, not a constant
    assert (theirs - ours).abs().max() <= STEP / 2
    assert saved_images_agree(theirs, ours)
    if z_dim:  # another sample is another image, still the official one for its noise
        theirs_1, ours_1, _ = compare(net, model, label, semantic_nc, classes, dontcare, sample=1)
        assert (theirs_1 - ours_1).abs().max() <= STEP / 2 and (ours_1 - ours).abs().max() > 10 * STEP


def test_the_official_width_at_the_official_cityscapes_start_grid(tmp_path):
    """channels_G 64 and SPADE's 128 hidden channels (the releases' widths) at 64x32: a 1x2 start grid."""
    net, path = official_file(tmp_path, semantic_nc=35, height=32, width=64, ngf=64, hidden=128, top=34, warm=1)
    model, found = bench_model(torch.load(path, weights_only=True), num_classes=35, size=Size(32, 64),
                               dontcare=False)
    assert found.options["ngf"] == 64 and found.facts["input_channels"] == 99 and model.G.grid == (1, 2)
    label = official_labels(1, 35, 32, 64, seed=3, top=34)
    theirs, ours, _ = compare(net, model, label, 35, 35, False)
    assert (theirs - ours).abs().max() <= STEP / 2


def test_a_wrong_reading_of_spectral_norm_batch_norm_or_the_noise_exceeds_one_level(tmp_path):
    """Unit ``u`` and ``v`` (the EMA file's are averages), batch statistics instead of the running ones, and
    the noise after the labels instead of before: each changes the images by more than 1/255, so the
    equality tests above can fail."""
    net, path = official_file(tmp_path, semantic_nc=9, height=64, width=64)
    state = torch.load(path, weights_only=True)
    label = official_labels(2, 9, 64, 64, seed=3)

    def model():
        return bench_model(state, num_classes=8, size=Size(64, 64), dontcare=True)[0]

    theirs, ours, batch = compare(net, model(), label, 9, 8, True)
    assert (theirs - ours).abs().max() <= STEP / 2

    unit = model()
    with torch.no_grad():
        for module in unit.G_ema.modules():
            if hasattr(module, "parametrizations"):
                spectral = module.parametrizations.weight[0]
                spectral._u.copy_(F.normalize(spectral._u, dim=0))
                spectral._v.copy_(F.normalize(spectral._v, dim=0))
    assert (unit.generate(batch) - theirs).abs().max() > 2 * STEP

    stats = model()
    stats.G_ema.eval()
    for module in stats.G_ema.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.train()
    with torch.no_grad():
        batch_stats = stats.G_ema(stats.semantic(batch), stats.noise(batch, 0))
    assert (batch_stats - theirs).abs().max() > 2 * STEP

    with torch.no_grad():
        z = stats.noise(batch, 0)
        seg = stats.semantic(batch)
        noise = z[:, :, None, None].expand(-1, -1, 64, 64)
        after = torch.cat([seg, noise], 1)  # the right channel count, the wrong order
        x = model().G_ema
        x.eval()
        out = x.fc(F.interpolate(after, size=x.grid))
        for i, block in enumerate(x.body):
            out = block(out, after)
            if i < len(x.body) - 1:
                out = F.interpolate(out, scale_factor=2)
        swapped = torch.tanh(x.conv_img(F.leaky_relu(out, 0.2)))
    assert (swapped - theirs).abs().max() > 2 * STEP


def test_a_tensor_of_the_wrong_shape_or_a_missing_one_is_one_line_naming_it(tmp_path):
    _, path = official_file(tmp_path, semantic_nc=9, height=64, width=64)
    state = torch.load(path, weights_only=True)
    state["body.3.norm_1.mlp_gamma.weight"] = state["body.3.norm_1.mlp_gamma.weight"][:-1]
    with pytest.raises(BenchError) as err:
        bench_model(state, num_classes=8, size=Size(64, 64), dontcare=True)
    message = str(err.value)
    assert "'body.3.norm_1.mlp_gamma.weight'" in message and "[15, 16, 3, 3]" in message
    assert "[16, 16, 3, 3]" in message and "\n" not in message
    del state["body.3.norm_1.mlp_gamma.weight"]
    with pytest.raises(BenchError, match="no tensor 'body.3.norm_1.mlp_gamma.weight' that the official OASIS"):
        bench_model(state, num_classes=8, size=Size(64, 64), dontcare=True)
    del state["body.5.conv_1.weight_orig"]
    state = {k: v for k, v in state.items() if not k.startswith("body.5.")}
    with pytest.raises(BenchError, match="has 5 \\(body.0, body.1, body.2, body.3, body.4\\)"):
        PLUGIN.recognise_checkpoint(state)


def test_a_spade_file_is_not_taken_for_an_oasis_one_nor_the_other_way_round(tmp_path):
    from bench_plugins.models.spade import Spade
    from official_reference.spade import OfficialGenerator

    spade_state = OfficialGenerator(5, ngf=2, crop_size=64, hidden=8).state_dict()
    assert PLUGIN.recognise_checkpoint(spade_state) is None
    _, path = official_file(tmp_path, semantic_nc=9, height=64, width=64, ngf=2, hidden=8)
    assert Spade().recognise_checkpoint(torch.load(path, weights_only=True)) is None


def test_which_channel_is_dontcare_is_decided_with_the_dataset():
    def decide(channels, classes, ignore, dontcare_label):
        options = PLUGIN.Options(label_channels=channels)
        return PLUGIN.for_dataset(options, DataFacts("d", classes, ignore, False, dontcare_label)).dontcare_channel

    assert decide(151, 150, 255, True) is True        # ADE20K: 150 classes + "other" first
    assert decide(183, 182, 255, True) is True        # COCO-Stuff: 182 + unlabeled first
    assert decide(35, 35, None, False) is False       # Cityscapes: its 35 label ids as they are
    with pytest.raises(Exception, match="reads 35 label channels \\(after 64 noise channels\\), but this dataset "
                                        "gives 151"):
        PLUGIN.check(PLUGIN.Options(label_channels=35, dontcare_channel=True), 256, 150)


# ---------------------------------------------------------------- through `bench run` on Cityscapes' layout

def run(capsys, *args):
    capsys.readouterr()
    code = cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def cityscapes(tmp_path, monkeypatch):
    """The datasets tests' Cityscapes archive imported at 64x32; an empty weights cache; offline."""
    from test_standard_datasets import make_cityscapes

    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    gt, left, _ = make_cityscapes(tmp_path)
    data = tmp_path / "data"
    assert cli.main(["datasets", "import", "cityscapes", str(gt), str(left), "--data-root", str(data)]) == 0
    return ["--dataset", "cityscapes", "--set", "cityscapes.size=64", "--data-root", str(data)]


def test_bench_run_evaluates_an_official_cityscapes_file_at_2_to_1(tmp_path, capsys, cityscapes):
    net, path = official_file(tmp_path, semantic_nc=35, height=32, width=64, top=34)
    out = tmp_path / "out"
    base = ["run", "--models", "oasis", *cityscapes, "--profile", "smoke", "--output-root", str(out),
            "--metrics", "psnr", "--quiet"]
    code, _, err = run(capsys, *base, "--checkpoint", path, "--set", "oasis.ngf=8")
    line = one_error_line(code, err)
    assert "oasis.ngf=4" in line and "set to 8" in line
    code, _, err = run(capsys, *base, "--checkpoint", path)
    assert code == 0, err
    (run_dir,) = (out / "runs").iterdir()
    plan = json.loads((run_dir / "plan.json").read_text())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert plan["weights"]["format"] == official.FORMAT and plan["weights"]["sha256"] == digest
    assert plan["options"]["label_channels"] == 35 and plan["options"]["dontcare_channel"] is False
    assert plan["resolution"] == "64x32"
    record = json.loads((run_dir / "record.json").read_text())["record"]
    assert record["label"] == f"oasis@official-{digest[:8]}" and record["metrics"]["PSNR"]["value"] > 0
    fakes = sorted((run_dir / "images" / "fake").glob("*.png"))
    assert len(fakes) == 2
    # each saved image is the official forward pass of its label map at bench's noise for that test image
    model, _ = bench_model(torch.load(path, weights_only=True), num_classes=35, size=Size(32, 64), dontcare=False)
    for index, fake in enumerate(fakes):
        ids = torch.from_numpy(np.array(Image.open(run_dir / "images" / "label_ids" / fake.name))).long()
        batch = bench_batch(ids[None, None], 35, False)
        batch["index"] = torch.tensor([index])
        with torch.no_grad():
            theirs = saved_image(net(preprocess_input(ids[None, None], 35), model.noise(batch, 0))[0])
        assert np.abs(theirs.astype(int) - np.asarray(Image.open(fake)).astype(int)).max() <= 1, fake.name


def test_the_cityscapes_zoo_row_evaluates_its_imported_file_at_512x256_with_the_papers_numbers(
        tmp_path, capsys, cityscapes):
    net, path = official_file(tmp_path, semantic_nc=35, height=256, width=512, ngf=2, hidden=8, top=34, warm=1)
    wrong = official_file(tmp_path / "ade", semantic_nc=151, height=64, width=64, ngf=2, hidden=8, warm=1)[1]
    code, _, err = run(capsys, "weights", "import", "oasis-cityscapes-official", wrong)
    assert "reads 215 channels (fc.weight [32, 215, 3, 3]), not 35 label + 64 noise = 99" in one_error_line(code, err)
    code, _, err = run(capsys, "weights", "import", "oasis-cityscapes-official", path)
    assert code == 0, err
    out = tmp_path / "out"
    code, _, err = run(capsys, "run", "--models", "oasis@cityscapes-official", *cityscapes[:2], *cityscapes[4:],
                       "--output-root", out, "--metrics", "psnr", "--quiet")
    assert code == 0, err
    (run_dir,) = (out / "runs").iterdir()
    plan = json.loads((run_dir / "plan.json").read_text())
    assert plan["resolution"] == "512x256" and plan["options"]["z_dim"] == 64
    assert plan["weights"]["zoo"] == "oasis@cityscapes-official" and plan["weights"]["quantization"] == "truncate"
    board = json.loads((out / "cityscapes" / "leaderboard.json").read_text())
    (row,) = [r for t in board["tables"] for r in t["rows"]]
    assert row["label"] == "oasis@cityscapes-official"
    assert "official weights (boschresearch/OASIS); published: mIoU 69.3, FID 47.7" in row["name"]
    # the images are the official forward pass at bench's noise, written as the official results_saver writes them
    model, _ = bench_model(torch.load(path, weights_only=True), num_classes=35, size=Size(256, 512), dontcare=False)
    fakes = sorted((run_dir / "images" / "fake").glob("*.png"))
    assert len(fakes) == 2
    for index, fake in enumerate(fakes):
        ids = torch.from_numpy(np.array(Image.open(run_dir / "images" / "label_ids" / fake.name))).long()
        batch = bench_batch(ids[None, None], 35, False)
        batch["index"] = torch.tensor([index])
        with torch.no_grad():
            theirs = saved_image(net(preprocess_input(ids[None, None], 35), model.noise(batch, 0))[0])
        assert np.abs(theirs.astype(int) - np.asarray(Image.open(fake)).astype(int)).max() <= 1, fake.name
