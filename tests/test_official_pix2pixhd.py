"""Generators of the official pix2pixHD code (NVIDIA/pix2pixHD ``latest_net_G.pth``) evaluated by bench.

The files are written by an independent re-creation of the official module tree
(``tests/official_reference/pix2pixhd.py``: its key layout, instance norm without parameters,
reflection padding) with random weights, as the released Cityscapes file is laid out (36 label
channels: 35 ids + the instance-edge map) in both official kinds (``netG global`` and the
released ``netG local``), narrower for speed. bench's generator with the file loaded must give
the same images within 1/255 at non-square sizes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from official_reference.pix2pixhd import (
    OfficialGlobalGenerator,
    OfficialLocalEnhancer,
    encode_input,
    official_init,
    tensor2im,
    write_checkpoint,
)

from benchmark import BenchError, DataFacts, Size
from benchmark.cli import app as cli
from benchmark.data.transforms import model_batch
from benchmark.testing import one_error_line
from benchmark.util.imageio import to_uint8
from bench_plugins.models.pix2pixhd import Pix2PixHD, official

PLUGIN = Pix2PixHD()
STEP = 1 / 255
CITY = DataFacts(name="cityscapes", num_classes=35, ignore_index=None, instance_maps=True, dontcare_label=False)


def label_maps(n: int, label_nc: int, height: int, width: int, seed: int):
    """Blocky label maps of ids 0..label_nc-1 and instance maps splitting some classes into two instances."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, label_nc, (n, 1, height // 8, width // 8), generator=g)
    label = F.interpolate(coarse.float(), size=(height, width)).long()
    split = torch.randint(0, 2, (n, 1, height // 4, width // 4), generator=g)
    instance = label * 1000 + F.interpolate(split.float(), size=(height, width)).long()
    return label, instance


def official_net(local: int, *, input_nc=36, ngf=8, n_down=3, n_blocks=2, n_blocks_local=2, seed=0):
    if local:
        net = OfficialLocalEnhancer(input_nc, ngf=ngf, n_downsample_global=n_down, n_blocks_global=n_blocks,
                                    n_local_enhancers=local, n_blocks_local=n_blocks_local)
    else:
        net = OfficialGlobalGenerator(input_nc, ngf=ngf, n_downsampling=n_down, n_blocks=n_blocks)
    return official_init(net, seed).eval()


def bench_model(state, *, num_classes=35, size, data=CITY, **options):
    found = PLUGIN.recognise_checkpoint(state)
    assert found is not None and found.format == official.FORMAT
    opts = PLUGIN.for_dataset(PLUGIN.Options(**{**found.options, **options}), data)
    PLUGIN.check(opts, size, num_classes)
    model = PLUGIN.build(opts, num_classes, size)
    model.load_foreign(state, found)
    return model, found


def bench_batch(label, instance, num_classes=35):
    items = {"label": label[:, 0], "image": torch.zeros(len(label), 3, *label.shape[2:]),
             "index": torch.arange(len(label)), "instance": instance[:, 0]}
    return model_batch(items, torch.device("cpu"), num_classes, None)


CASES = {
    # n_local_enhancers, (height, width), ngf, n_downsample_global
    "global, 64x32": (0, (32, 64), 8, 3),
    "global, 128x64": (0, (64, 128), 8, 4),
    "local (the released kind), 128x64": (1, (64, 128), 4, 3),
    "two enhancers, 64x128": (2, (128, 64), 4, 2),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bench_generates_what_the_official_forward_pass_generates(tmp_path, case):
    local, (h, w), ngf, n_down = CASES[case]
    net = official_net(local, ngf=ngf, n_down=n_down)
    state = torch.load(write_checkpoint(net, tmp_path / "latest_net_G.pth"), weights_only=True)
    model, found = bench_model(state, size=Size(h, w))
    assert found.options == {"ngf": ngf, "n_downsample_global": n_down, "n_blocks_global": 2,
                             "n_local_enhancers": local, "n_blocks_local": 2 if local else 3, "label_channels": 36,
                             "instance_feat": False}
    assert model.options.use_instance_edges is True  # 36 = Cityscapes' 35 ids + the edge map
    label, inst = label_maps(2, 35, h, w, seed=7)
    with torch.no_grad():
        theirs = net(encode_input(label, inst, 35))
    ours = model.generate(bench_batch(label, inst))
    assert theirs.shape == ours.shape == (2, 3, h, w)
    assert theirs.std() > 0.05  # images, not a constant
    assert (theirs - ours).abs().max() <= STEP / 2
    official_png = np.stack([tensor2im(x) for x in theirs]).astype(int)
    assert np.abs(official_png - to_uint8(ours).astype(int)).max() <= 1
    # the edge channel matters: without the instance boundaries the images differ by more than a level
    flat = model.generate(bench_batch(label, label * 1000))
    assert (flat - ours).abs().max() > 2 * STEP


def test_the_released_generators_widths_at_a_small_size(tmp_path):
    """label2city_1024p's layout at its widths (netG local, ngf 32, global 64, 4 downsamplings, 9 + 3 blocks),
    evaluated at 128x64."""
    net = official_net(1, ngf=32, n_down=4, n_blocks=9, n_blocks_local=3, seed=3)
    state = torch.load(write_checkpoint(net, tmp_path / "latest_net_G.pth"), weights_only=True)
    assert state["model.1.weight"].shape == (64, 36, 7, 7) and "model1_2.7.weight" in state
    model, found = bench_model(state, size=Size(64, 128))
    assert found.facts["netG"] == "local" and found.options["ngf"] == 32
    label, inst = label_maps(1, 35, 64, 128, seed=4)
    with torch.no_grad():
        theirs = net(encode_input(label, inst, 35))
    assert (theirs - model.generate(bench_batch(label, inst))).abs().max() <= STEP / 2


def test_a_wrong_or_missing_tensor_is_one_line_naming_it(tmp_path):
    state = official_net(0).state_dict()
    assert PLUGIN.recognise_checkpoint({"fc.weight": torch.zeros(1)}) is None
    bad = dict(state)
    bad["model.4.weight"] = bad["model.4.weight"][:-1]
    with pytest.raises(BenchError) as err:
        bench_model(bad, size=Size(32, 64))
    assert "tensor 'model.4.weight' has shape [15, 8, 3, 3]" in str(err.value) and "\n" not in str(err.value)
    bad = dict(state)
    del bad["model.13.conv_block.5.bias"]
    with pytest.raises(BenchError, match="no tensor 'model.13.conv_block.5.bias'"):
        bench_model(bad, size=Size(32, 64))
    batch_norm = {**state, "model.2.weight": torch.ones(8), "model.2.running_mean": torch.zeros(8)}
    with pytest.raises(BenchError, match="--norm batch"):
        PLUGIN.recognise_checkpoint(batch_norm)
    with pytest.raises(Exception, match="reads 36 label channels, but this dataset gives 12"):
        bench_model(state, num_classes=12, size=Size(32, 64),
                    data=DataFacts("facades", 12, None, False, False), use_instance_edges=False)


def test_bench_run_evaluates_an_official_file_at_64x32(tmp_path, capsys, monkeypatch):
    """``bench run --checkpoint FILE`` on a folder dataset of Cityscapes' 35 ids with instance maps, 2:1."""
    from test_folder_layouts import spade_folder

    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    folder = spade_folder(tmp_path / "city", "classes = 35\naspect_ratio = 2.0\n", w=64, h=32)
    net = official_net(0, ngf=8, n_down=3)
    path = write_checkpoint(net, tmp_path / "label2city" / "latest_net_G.pth")
    out = tmp_path / "out"
    base = ["run", "--models", "pix2pixhd", "--dataset", "folder", "--set", f"folder.path={folder}", "--data-root",
            str(tmp_path / "data"), "--output-root", str(out), "--metrics", "psnr", "--quiet", "--set", "image_size=32", "--checkpoint"]
    code = cli.main([*base, str(path), "--set", "pix2pixhd.ngf=16"])
    assert "pix2pixhd.ngf=8" in one_error_line(code, capsys.readouterr().err)
    code = cli.main([*base, str(path)])
    assert code == 0, capsys.readouterr().err
    (run_dir,) = (out / "runs").iterdir()
    plan = json.loads((run_dir / "plan.json").read_text())
    assert plan["weights"]["format"] == official.FORMAT and plan["options"]["use_instance_edges"] is True
    assert plan["resolution"] == "64x32"
    fakes = sorted((run_dir / "images" / "fake").glob("*.png"))
    assert fakes
    from PIL import Image

    for fake in fakes:  # the saved images are what the official test script saves, within 1/255
        ids = torch.from_numpy(np.array(Image.open(run_dir / "images" / "label_ids" / fake.name))).long()
        (inst_png,) = (folder / "val_inst").glob(f"{fake.stem}*")
        inst = torch.from_numpy(np.array(Image.open(inst_png)).astype(np.int64))
        with torch.no_grad():
            theirs = tensor2im(net(encode_input(ids[None, None], inst[None, None], 35))[0]).astype(int)
        assert np.abs(theirs - np.asarray(Image.open(fake)).astype(int)).max() <= 1, fake.name


# ---------------------------------------------------------------- the zoo entry

PIX2PIXHD_URL = "https://drive.google.com/file/d/1h9SykUnuZul7J3Nbms2QGH1wa85nbN2-/view"


def test_the_zoo_lists_the_released_generator_with_spades_table_numbers(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    capsys.readouterr()
    assert cli.main(["zoo", "list", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    row = rows["pix2pixhd@cityscapes-official"]
    assert row["reported"] == {"mIoU": 58.3, "pixel acc": 81.4, "FID": 95.0}  # SPADE, Table 1, pix2pixHD row
    assert row["eval_size"] == "512x256" and row["segmenter"] == "drn-d-105" and row["status"] == "missing"
    assert row["licence"].startswith("BSD") and row["source"] == PIX2PIXHD_URL
    assert row["options"]["netG"] == "local" and row["options"]["input_nc"] == 36
    (paper,) = row["measurements"]
    assert paper["settings"] == {"fid.implementation": "pytorch-fid-2019", "eval.segmenter": "drn-d-105"}
    assert "not this released 2048x1024 file" in paper["note"]


def test_a_zoo_row_without_its_file_stops_at_once_naming_file_url_and_import(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    code = cli.main(["run", "--models", "pix2pixhd@cityscapes-official", "--dataset", "cityscapes"])
    line = one_error_line(code, capsys.readouterr().err)
    assert "pix2pixhd-label2city_1024p-latest_net_G.pth" in line and PIX2PIXHD_URL in line
    assert "`bench weights import pix2pixhd-cityscapes-official FILE`" in line
    assert not list(tmp_path.glob("**/runs"))


def test_importing_checks_the_file_is_the_released_generator(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    released = official_net(1, ngf=32, n_down=4, n_blocks=9, n_blocks_local=3, seed=5)
    good = write_checkpoint(released, tmp_path / "good" / "latest_net_G.pth")
    wrong = write_checkpoint(official_net(0), tmp_path / "wrong" / "latest_net_G.pth")
    capsys.readouterr()
    code = cli.main(["weights", "import", "pix2pixhd-cityscapes-official", str(wrong)])
    assert "not label2city_1024p's" in one_error_line(code, capsys.readouterr().err)
    assert cli.main(["weights", "import", "pix2pixhd-cityscapes-official", str(good)]) == 0
    assert "imported pix2pixhd-cityscapes-official" in capsys.readouterr().out


@pytest.mark.slow
def test_the_zoo_row_evaluates_its_imported_file_at_the_papers_size(tmp_path, capsys, monkeypatch):
    """The released layout (random weights) imported and run on the datasets tests' Cityscapes archive: the row
    is measured at 512x256, shows SPADE's Table 1 numbers and writes its images as tensor2im does."""
    from test_standard_datasets import make_cityscapes

    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    gt, left, _ = make_cityscapes(tmp_path)
    data, out = tmp_path / "data", tmp_path / "out"
    assert cli.main(["datasets", "import", "cityscapes", str(gt), str(left), "--data-root", str(data)]) == 0
    released = official_net(1, ngf=32, n_down=4, n_blocks=9, n_blocks_local=3, seed=6)
    path = write_checkpoint(released, tmp_path / "label2city_1024p" / "latest_net_G.pth")
    assert cli.main(["weights", "import", "pix2pixhd-cityscapes-official", str(path)]) == 0
    capsys.readouterr()
    code = cli.main(["run", "--models", "pix2pixhd@cityscapes-official", "--dataset", "cityscapes", "--data-root",
                     str(data), "--output-root", str(out), "--metrics", "psnr", "--quiet"])
    assert code == 0, capsys.readouterr().err
    (run_dir,) = (out / "runs").iterdir()
    plan = json.loads((run_dir / "plan.json").read_text())
    assert plan["resolution"] == "512x256" and plan["options"]["use_instance_edges"] is True
    assert plan["weights"]["zoo"] == "pix2pixhd@cityscapes-official" and plan["weights"]["quantization"] == "truncate"
    board = json.loads((out / "cityscapes" / "leaderboard.json").read_text())
    (row,) = [r for t in board["tables"] for r in t["rows"]]
    assert "published: mIoU 58.3, pixel acc 81.4, FID 95" in row["name"]
    from PIL import Image

    fakes = sorted((run_dir / "images" / "fake").glob("*.png"))
    assert fakes and {Image.open(p).size for p in fakes} == {(512, 256)}
    for fake in fakes:  # the stored 32x16 maps, nearest-upsampled 16 times: what the official test script reads
        def stored(kind):
            array = np.array(Image.open(data / "cityscapes" / "test" / kind / fake.name)).astype(np.int64)
            return torch.from_numpy(array).repeat_interleave(16, 0).repeat_interleave(16, 1)[None, None]

        label, inst = stored("labels"), stored("instances")
        assert np.array_equal(np.array(Image.open(run_dir / "images" / "label_ids" / fake.name)), label[0, 0].numpy())
        with torch.no_grad():
            theirs = tensor2im(released(encode_input(label, inst, 35))[0]).astype(int)
        assert np.abs(theirs - np.asarray(Image.open(fake)).astype(int)).max() <= 1, fake.name
