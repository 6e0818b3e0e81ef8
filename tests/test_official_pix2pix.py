"""Generators of the official pix2pix code in bench: recognised from their tensors, loaded into bench's
U-Net, run on the colour label image in eval mode and in the official test mode, against an independent
reference of the official network (tests/official_reference/pix2pix_unet.py) saved as a .pth file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from bench_plugins.datasets.facades_classes import PALETTE
from bench_plugins.models.pix2pix import Pix2Pix, official, official_test_seed

from benchmark import BenchError, ConfigError, DataFacts
from benchmark.util.imageio import colorize
from benchmark.testing import one_error_line
from tests.official_reference.pix2pix_unet import ReferenceUnet, randomise

PLUGIN = Pix2Pix()
FACADES = DataFacts("facades", 12, None, False, False, tuple(PALETTE))
LEVEL = 1 / 255  # one grey level of the written PNGs, on the [-1, 1] scale it is 2/255: this is half of it


def label_maps(n: int, size: int, num_classes: int, seed: int) -> torch.Tensor:
    """Facade-like maps: a background and random rectangles of random classes."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.zeros(n, size, size, dtype=torch.long)
    for i in range(n):
        for _ in range(12):
            y, x = torch.randint(0, size - 4, (2,), generator=g).tolist()
            h, w = torch.randint(4, size // 2, (2,), generator=g).tolist()
            labels[i, y:y + h, x:x + w] = int(torch.randint(0, num_classes, (1,), generator=g))
    return labels


def official_colour_input(labels: torch.Tensor) -> torch.Tensor:
    """What the official loader makes of a colour label image: ToTensor, then Normalize(0.5, 0.5)."""
    rgb = np.stack([colorize(lab.numpy(), PALETTE) for lab in labels])  # (N,H,W,3) uint8
    return (torch.from_numpy(rgb).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.5


def saved_reference(tmp_path, *, input_nc=3, num_downs=8, ngf=64, norm="batch", seed=0, warm=None):
    """A reference generator with random weights and non-trivial BatchNorm running statistics (a few
    training-mode forwards at momentum 0.5), saved and read back as the official files are."""
    torch.manual_seed(seed)
    ref = ReferenceUnet(input_nc, 3, num_downs, ngf, norm=norm)
    randomise(ref, seed)
    for m in ref.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 0.5
    ref.train()
    size = 2 ** num_downs
    with torch.no_grad():
        for k in range(3):
            ref(warm if warm is not None else torch.randn(2, input_nc, size, size))
    path = tmp_path / "latest_net_G.pth"
    torch.save(ref.state_dict(), path)
    return ref, torch.load(path, map_location="cpu", weights_only=True)


def bench_generator(state, data=FACADES, image_size=256, **options):
    """What the harness does with a foreign file: recognise, apply the options, build, load."""
    found = PLUGIN.recognise_checkpoint(state)
    assert found is not None
    opts = PLUGIN.for_dataset(PLUGIN.Options(**found.options, **options), data)
    PLUGIN.check(opts, image_size, data.num_classes)
    model = PLUGIN.build(opts, data.num_classes, image_size)
    model.load_foreign(state, found)
    model.eval()
    return model, found


def batch_of(labels: torch.Tensor, num_classes: int, first_index: int = 0) -> dict[str, torch.Tensor]:
    onehot = torch.nn.functional.one_hot(labels, num_classes).permute(0, 3, 1, 2).float()
    return {"label": labels, "onehot": onehot, "index": torch.arange(first_index, first_index + len(labels)),
            "image": torch.zeros(len(labels), 3, *labels.shape[1:])}


def reference_official_test(ref, x: torch.Tensor, indices) -> torch.Tensor:
    """The official test.py without --eval, one image at a time, each seeded as bench seeds it."""
    ref.train()
    outs = []
    with torch.no_grad():
        for xi, index in zip(x, indices):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(official_test_seed(int(index)))
                outs.append(ref(xi[None].clone()))
    return torch.cat(outs)


# ---------------------------------------------------------------- unet_256, ngf 64, colour input


@pytest.fixture(scope="module")
def unet_256(tmp_path_factory):
    labels = label_maps(2, 256, 12, seed=1)
    ref, state = saved_reference(tmp_path_factory.mktemp("unet256"), warm=official_colour_input(label_maps(2, 256, 12, 9)))
    return ref, state, labels


def test_unet_256_is_recognised_from_its_tensors(unet_256):
    _, state, _ = unet_256
    found = PLUGIN.recognise_checkpoint(state)
    assert found.options == {"ngf": 64, "norm": "batch", "num_downs": 8, "label_input": "colour"}
    assert found.facts["netG"] == "unet_256" and found.facts["input_nc"] == 3 and found.facts["output_nc"] == 3
    assert "unet_256" in found.format


def test_eval_mode_matches_the_reference_on_colour_label_images(unet_256):
    ref, state, labels = unet_256
    model, _ = bench_generator(state, test_mode="eval")
    assert model.options.label_palette == PALETTE  # the dataset's palette, recorded with the row
    ours = model.generate(batch_of(labels, 12))
    ref.eval()
    with torch.no_grad():
        theirs = ref(official_colour_input(labels))
    assert (ours - theirs).abs().max() < LEVEL
    assert theirs.std() > 0.2  # not a flat, saturated image


def test_official_test_mode_matches_the_reference_with_the_same_seeds(unet_256):
    """Train-mode BatchNorm on each image's own statistics and dropout drawn from the per-image seed:
    bench's decoder calls its three dropouts in the reference's order on tensors of the same shapes, so
    the same seed gives the same masks."""
    ref, state, labels = unet_256
    model, _ = bench_generator(state, test_mode="paper")
    ours = model.generate(batch_of(labels, 12, first_index=5))
    theirs = reference_official_test(ref, official_colour_input(labels), [5, 6])
    assert (ours - theirs).abs().max() < LEVEL
    # the test can fail: eval mode, or other dropout masks, are far from it
    ref.eval()
    with torch.no_grad():
        eval_out = ref(official_colour_input(labels))
    assert (eval_out - theirs).abs().max() > 100 * LEVEL
    other_masks = reference_official_test(ref, official_colour_input(labels), [7, 8])
    assert (other_masks - theirs).abs().max() > 30 * LEVEL


# ---------------------------------------------------------------- smaller cases


def test_unet_128_instance_norm_one_hot_input(tmp_path):
    """An official-layout file that reads a 5-class one-hot map, InstanceNorm (biased convs, no affine
    norms), 7 halvings, saved from a DataParallel wrapper ("module." keys), with the instance-norm running
    statistics that older releases stored (unused, skipped)."""
    ref, state = saved_reference(tmp_path, input_nc=5, num_downs=7, ngf=4, norm="instance", seed=3)
    state = {**state, "model.model.1.model.2.running_mean": torch.ones(8), "model.model.1.model.2.running_var":
             torch.ones(8)}
    state = {f"module.{k}": v for k, v in state.items()}
    data = DataFacts("five", 5, None, False, False)
    model, found = bench_generator(state, data, image_size=128, test_mode="eval")
    assert found.options == {"ngf": 4, "norm": "instance", "num_downs": 7, "label_input": "onehot"}
    assert found.facts["netG"] == "unet_128"
    labels = label_maps(2, 128, 5, seed=4)
    batch = batch_of(labels, 5)
    ref.eval()  # instance norm: eval and train agree but for dropout
    with torch.no_grad():
        assert (model.generate(batch) - ref(batch["onehot"])).abs().max() < LEVEL


def test_unet_256_at_a_larger_image_keeps_its_depth(tmp_path):
    """unet_256 on 512 px images: 8 halvings to a 2x2 code, as the official code runs it."""
    ref, state = saved_reference(tmp_path, num_downs=8, ngf=2, seed=5)
    model, _ = bench_generator(state, image_size=512, test_mode="eval")
    labels = label_maps(1, 512, 12, seed=6)
    ref.eval()
    with torch.no_grad():
        assert (model.generate(batch_of(labels, 12)) - ref(official_colour_input(labels))).abs().max() < LEVEL


def test_without_the_channel_swap_the_outputs_differ(tmp_path, monkeypatch):
    """The check above can fail: loading the concatenations in the official order (no swap) is wrong."""
    ref, state = saved_reference(tmp_path, num_downs=6, ngf=4, seed=7)
    labels = label_maps(2, 64, 12, seed=8)
    ref.eval()
    with torch.no_grad():
        theirs = ref(official_colour_input(labels))
    right, _ = bench_generator(state, image_size=64, test_mode="eval")
    assert (right.generate(batch_of(labels, 12)) - theirs).abs().max() < LEVEL
    pairs = official.module_pairs
    monkeypatch.setattr(official, "module_pairs", lambda depth: [(a, b, False) for a, b, _ in pairs(depth)])
    wrong, _ = bench_generator(state, image_size=64, test_mode="eval")
    assert (wrong.generate(batch_of(labels, 12)) - theirs).abs().max() > 30 * LEVEL


def test_official_test_mode_is_reproducible_and_per_image(tmp_path):
    """The same image gets the same output alone or in a batch, and generation leaves the running
    statistics as they were."""
    _, state = saved_reference(tmp_path, num_downs=6, ngf=4, seed=9)
    model, _ = bench_generator(state, image_size=64)
    assert model.options.test_mode == "paper"  # the default: the official test.py without --eval
    labels = label_maps(3, 64, 12, seed=10)
    stats = [b.clone() for b in model.G.buffers()]
    together = model.generate(batch_of(labels, 12))
    alone = model.generate(batch_of(labels[2:], 12, first_index=2))
    assert torch.equal(together[2:], alone)
    assert all(torch.equal(a, b) for a, b in zip(stats, model.G.buffers()))


# ---------------------------------------------------------------- errors: one line each


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


def test_a_tensor_of_the_wrong_shape_is_named(tmp_path):
    _, state = saved_reference(tmp_path, num_downs=6, ngf=4, seed=11)
    key = "model.model.1.model.3.model.2.weight"  # level 3's down norm: 16 channels
    state[key] = torch.ones(17)
    found = PLUGIN.recognise_checkpoint(state)
    model = PLUGIN.build(PLUGIN.for_dataset(PLUGIN.Options(**found.options), FACADES), 12, 64)
    with pytest.raises(BenchError) as exc:
        model.load_foreign(state, found)
    assert f"'{key}'" in one_line(exc) and "[17]" in str(exc.value) and "[16]" in str(exc.value)


def test_a_file_for_other_classes_is_named_by_its_first_layer(tmp_path):
    _, state = saved_reference(tmp_path, input_nc=5, num_downs=6, ngf=4, seed=12)
    found = PLUGIN.recognise_checkpoint(state)
    model = PLUGIN.build(PLUGIN.Options(**found.options), 12, 64)  # 12 classes, the file reads 5
    with pytest.raises(BenchError) as exc:
        model.load_foreign(state, found)
    assert "'model.model.0.weight'" in one_line(exc) and "[4, 5, 4, 4]" in str(exc.value)


def test_unknown_layouts(tmp_path):
    assert PLUGIN.recognise_checkpoint({"model.1.weight": torch.zeros(64, 3, 7, 7)}) is None  # a ResNet G
    assert PLUGIN.recognise_checkpoint({"conv_img.weight": torch.zeros(3, 64, 3, 3)}) is None
    _, state = saved_reference(tmp_path, num_downs=6, ngf=4, seed=13)
    broken = {k: v for k, v in state.items() if not k.startswith("model.model.1.model.3.model.")}
    with pytest.raises(BenchError) as exc:
        PLUGIN.recognise_checkpoint(broken)
    assert "innermost" in one_line(exc) and "'model.model.1.model.3.weight'" in str(exc.value)  # level 2 ends it
    extra = {**state, "model.model.1.model.9.weight": torch.zeros(3)}
    found = PLUGIN.recognise_checkpoint(extra)
    model = PLUGIN.build(PLUGIN.for_dataset(PLUGIN.Options(**found.options), FACADES), 12, 64)
    with pytest.raises(BenchError) as exc:
        model.load_foreign(extra, found)
    assert "'model.model.1.model.9.weight'" in one_line(exc)


def test_colour_input_needs_a_palette():
    with pytest.raises(ConfigError) as exc:
        PLUGIN.for_dataset(PLUGIN.Options(label_input="colour"), DataFacts("no-such-data", 5, None, False, False))
    assert "dataset 'no-such-data' has none" in one_line(exc) and "label_palette" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        PLUGIN.for_dataset(PLUGIN.Options(label_input="colour", label_palette=[(1, 2, 3)] * 4), FACADES)
    assert "gives 4 for 12 classes" in one_line(exc)
    given = [(i, 2 * i, 3 * i) for i in range(12)]
    opts = PLUGIN.for_dataset(PLUGIN.Options(label_input="colour", label_palette=given), FACADES)
    assert opts.label_palette == given
    ignored = PLUGIN.for_dataset(PLUGIN.Options(label_input="colour"), DataFacts("facades", 12, 0, False, False, tuple(PALETTE)))
    assert ignored.label_palette[0] == (0, 0, 0) and ignored.label_palette[1:] == PALETTE[1:]
    assert PLUGIN.for_dataset(PLUGIN.Options(), FACADES).label_palette is None  # one-hot rows record none


def test_num_downs_must_fit_the_image_size():
    with pytest.raises(ConfigError) as exc:
        PLUGIN.check(PLUGIN.Options(num_downs=8), 128, 12)
    assert "num_downs=8" in one_line(exc) and "image_size=256" in str(exc.value)
    PLUGIN.check(PLUGIN.Options(num_downs=8), 256, 12)


def test_the_zoo_entry_takes_the_facades_generator_and_states_its_setting(unet_256, tmp_path):
    from bench_plugins.models.zoo import PIX2PIX_FACADES_OPTIONS, unet_check

    _, state, _ = unet_256
    assert unet_check(state) is None
    found = PLUGIN.recognise_checkpoint(state)
    assert PIX2PIX_FACADES_OPTIONS.items() >= found.options.items()  # the row's options agree with the file
    opts = PLUGIN.Options(**PIX2PIX_FACADES_OPTIONS)
    assert (opts.test_mode, opts.use_dropout, opts.label_input) == ("paper", True, "colour")
    _, small = saved_reference(tmp_path, num_downs=7, ngf=4, seed=14)
    assert "unet_128" in unet_check(small) and "not unet_256" in unet_check(small)


# ---------------------------------------------------------------- the command line


def test_bench_run_evaluates_an_official_file_without_training(tmp_path):
    """`bench run --checkpoint FILE` with an official-layout generator: no training, the row's options
    come from the file (colour input with the dataset's palette), and the written images are the
    reference's on the run's own label maps, in eval mode and in the official test mode."""
    import json

    from PIL import Image

    from benchmark.cli.app import main

    ref, _ = saved_reference(tmp_path, num_downs=5, ngf=4, seed=15)
    roots = ["--data-root", str(tmp_path / "data"), "--output-root", str(tmp_path / "out")]
    tiny = ["--set", "synthetic-facades.train_size=1", "--set", "synthetic-facades.test_size=3",
            "--set", "synthetic-facades.size=64"]
    for mode in ("eval", "paper"):
        code = main(["run", "--models", "pix2pix", "--dataset", "synthetic-facades", "--profile", "smoke",
                     "--checkpoint", str(tmp_path / "latest_net_G.pth"), "--metrics", "psnr",
                     "--set", f"pix2pix.test_mode={mode}", *tiny, *roots])
        assert code == 0
        run_dir = next(p.parent for p in (tmp_path / "out" / "runs").glob("*/record.json")
                       if json.loads(p.read_text())["record"]["options"]["test_mode"] == mode)
        record = json.loads((run_dir / "record.json").read_text())["record"]
        assert record["label"].startswith("pix2pix@official-") and "U-Net with 5 halvings" in record["note"]
        assert record["options"]["label_input"] == "colour" and record["options"]["num_downs"] == 5
        assert [tuple(c) for c in record["options"]["label_palette"]] == PALETTE
        status = json.loads((run_dir / "status.json").read_text())  # loaded, not trained
        assert status["checkpoint"] == str(tmp_path / "latest_net_G.pth") and status["weights"]["facts"]["input_nc"] == 3
        stems = sorted(p.stem for p in (run_dir / "images" / "fake").glob("*.png"))
        labels = torch.stack([torch.from_numpy(np.array(Image.open(run_dir / "images" / "label_ids" / f"{s}.png")))
                              for s in stems]).long()
        x = official_colour_input(labels)
        if mode == "eval":
            ref.eval()
            with torch.no_grad():
                theirs = ref(x)
        else:
            theirs = reference_official_test(ref, x, range(len(stems)))
        theirs = ((theirs.clamp(-1, 1) + 1) * 127.5).permute(0, 2, 3, 1).numpy()
        ours = np.stack([np.array(Image.open(run_dir / "images" / "fake" / f"{s}.png")) for s in stems])
        assert np.abs(ours.astype(float) - theirs).max() <= 1  # a PNG grey level


FACADES_ARCHIVE = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "facades.tar.gz"


def test_the_zoo_row_evaluates_the_imported_file_in_the_official_setting(unet_256, tmp_path, monkeypatch, capsys):
    """`bench run --models pix2pix@facades-official` on the real facades: the imported unet_256 file read
    with the colour label image and generated as the official test.py does (training-mode BatchNorm per
    image, dropout on, seeded per image); the images are the reference's."""
    import json

    from PIL import Image

    from benchmark.cli.app import main

    if not FACADES_ARCHIVE.is_file():
        pytest.skip(f"the facades archive is not at {FACADES_ARCHIVE} (shared/ is cloned beside the repo)")
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    ref, state, _ = unet_256
    path = tmp_path / "facades_label2photo.pth"
    torch.save(state, path)
    data, out = tmp_path / "data", tmp_path / "out"
    assert main(["weights", "import", "pix2pix-facades-official", str(path)]) == 0
    assert main(["datasets", "import", "facades", str(FACADES_ARCHIVE), "--data-root", str(data)]) == 0
    run = ["run", "--models", "pix2pix@facades-official", "--dataset", "facades", "--metrics", "psnr", "--set",
           "eval.max_images=2", "--data-root", str(data), "--output-root", str(out), "--quiet"]
    capsys.readouterr()
    line = one_error_line(main([*run, "--set", "image_size=64"]), capsys.readouterr().err)  # too small for unet_256
    assert "num_downs=8" in line and "--set image_size=256" in line and not (out / "runs").exists()
    assert main(run) == 0  # the default profile is 64 px; the zoo row keeps the official 256x256
    (run_dir,) = (out / "runs").iterdir()
    plan = json.loads((run_dir / "plan.json").read_text())
    assert plan["weights"]["zoo"] == "pix2pix@facades-official" and plan["resolution"] == "256x256"
    assert {k: plan["options"][k] for k in ("label_input", "test_mode", "use_dropout", "num_downs", "ngf")} == \
        {"label_input": "colour", "test_mode": "paper", "use_dropout": True, "num_downs": 8, "ngf": 64}
    stems = sorted(p.stem for p in (run_dir / "images" / "fake").glob("*.png"))
    assert len(stems) == 2
    labels = torch.stack([torch.from_numpy(np.array(Image.open(run_dir / "images" / "label_ids" / f"{s}.png")))
                          for s in stems]).long()
    theirs = reference_official_test(ref, official_colour_input(labels), range(2))
    # written as the official util.tensor2im writes them: (x + 1) / 2.0 * 255.0 in float32, truncated to uint8
    theirs = ((theirs.permute(0, 2, 3, 1).numpy() + 1) / 2.0 * 255.0).astype(np.uint8).astype(int)
    ours = np.stack([np.array(Image.open(run_dir / "images" / "fake" / f"{s}.png")).astype(int) for s in stems])
    assert np.abs(ours - theirs).max() <= 1  # a value within float noise of a whole level may land either side
    assert (ours == theirs).mean() > 0.99
