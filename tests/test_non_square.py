"""Non-square images and instance maps, end to end: the aspect-ratio run key, every model family at
64x32, SPADE's instance-edge and dontcare channels, and `bench run` on Cityscapes, ADE20K and
COCO-Stuff test archives and on a folder in SPADE's layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from benchmark.testing import one_error_line
from test_folder_layouts import spade_folder
from test_standard_datasets import make_ade, make_cityscapes, make_coco

from benchmark import Sample, Size, StepContext
from benchmark.registry.plugins import default
from benchmark.data.transforms import PairDataset, model_batch

H, W = 32, 64
CPU = torch.device("cpu")


# ---------------------------------------------------------------- SPADE's semantic input

def test_instance_edges_match_a_hand_built_map():
    from bench_plugins.models.spade.inputs import instance_edges

    ids = torch.tensor([[1, 1, 1, 2, 2],
                        [1, 1, 1, 2, 2],
                        [3, 3, 1, 2, 2],
                        [3, 3, 3, 3, 3]])
    # a pixel is on an edge when its left, right, upper or lower neighbour has another id
    expected = torch.tensor([[0, 0, 1, 1, 0],
                             [1, 1, 1, 1, 0],
                             [1, 1, 1, 1, 1],
                             [0, 0, 1, 1, 1]], dtype=torch.float32)
    out = instance_edges(ids[None])
    assert out.shape == (1, 1, 4, 5) and torch.equal(out[0, 0], expected)


def test_semantic_input_appends_dontcare_then_edges():
    from bench_plugins.models.spade.inputs import semantic_input

    label = torch.tensor([[[0, 1], [255, 1]]])
    instance = torch.tensor([[[5, 5], [5, 6]]])
    batch = model_batch({"label": label, "instance": instance, "image": torch.zeros(1, 3, 2, 2),
                         "index": torch.tensor([0])}, CPU, 2, 255)
    x = semantic_input(batch, dontcare=True, edges=True)
    assert x.shape == (1, 4, 2, 2)
    assert x[0, 0].tolist() == [[1, 0], [0, 0]] and x[0, 1].tolist() == [[0, 1], [0, 1]]
    assert x[0, 2].tolist() == [[0, 0], [1, 0]]                       # the ignore id 255
    assert x[0, 3].tolist() == [[0, 1], [1, 1]]                       # around instance 6
    assert semantic_input(batch, dontcare=False, edges=False).shape == (1, 2, 2, 2)


# ---------------------------------------------------------------- data

def sample(i: int, h: int = 16, w: int = 32) -> Sample:
    label = np.zeros((h, w), np.uint8)
    label[:, w // 2:] = 1
    label[h // 2:, : w // 4] = 2
    image = np.random.default_rng(i).integers(0, 256, (h, w, 3), dtype=np.uint8)
    return Sample(f"s{i}", image, label, instance=label.astype(np.int32) * 1000 + 7)


def test_pair_dataset_keeps_the_aspect_and_moves_instances_with_the_labels():
    from benchmark.api import TrainTransform

    data = PairDataset([sample(i) for i in range(3)], Size(H, W),
                       TrainTransform(load_size=36, hflip=True, vflip=True, rotate_degrees=10), seed=3)
    assert tuple(data.photos.shape[-2:]) == (36, 72) and tuple(data.instances.shape) == (3, 36, 72)
    for epoch in range(3):
        data.set_epoch(epoch)
        for i in range(3):
            item = data[i]
            assert item["image"].shape == (3, H, W) and item["label"].shape == (H, W)
            # the same crop, flips and rotation: instance ids still encode the label (fill 0 -> 0)
            inst = item["instance"]
            assert torch.equal(torch.where(inst == 0, 0, inst // 1000), item["label"])
    plain = PairDataset([Sample("x", sample(0).image, sample(0).label)], Size(H, W))
    assert "instance" not in plain[0] and "instance" not in model_batch([plain[0]], CPU, 3, None)


def test_grid_tiles_keep_the_aspect_ratio():
    from benchmark.util.grid import compose

    images = [np.zeros((16, 32, 3), np.uint8), np.zeros((16, 32, 3), np.uint8)]
    assert compose([images], tile=8).shape == (8, 32, 3)
    assert compose([[np.zeros((9, 9, 3), np.uint8)]], tile=4).shape == (4, 4, 3)


# ---------------------------------------------------------------- every model family at 64x32

def batch_of(n: int = 2, classes: int = 3, instances: bool = True) -> dict:
    items = []
    for i in range(n):
        s = sample(i, H, W)
        item = {"image": torch.from_numpy(s.image).permute(2, 0, 1).float() / 127.5 - 1,
                "label": torch.from_numpy(s.label).long(), "index": torch.tensor(i),
                "classes": torch.zeros(256, dtype=torch.uint8)}
        if instances:
            item["instance"] = torch.from_numpy(s.instance).long()
        items.append(item)
    return model_batch(items, CPU, classes, None)


def smoke_options(name: str, preset: str = "official", **extra):
    plugin = default().models.get(name)
    raw = {**plugin.presets[preset].options, **plugin.profiles["smoke"].get("options", {}), **extra}
    return plugin, plugin.Options(**raw)


@pytest.mark.parametrize("name, preset, extra", [
    ("spade", "official", {"lambda_vgg": 0, "use_instance_edges": True, "dontcare_channel": True}),
    ("spade", "vae", {"lambda_vgg": 0}),
    ("face-spade", "official", {"lambda_vgg": 0}),
    ("pix2pix", "official", {}),
    ("pix2pix", "kl", {}),
    ("label-cgan", "official", {}),
])
def test_each_family_trains_and_generates_at_64x32(name, preset, extra):
    torch.manual_seed(0)
    plugin, options = smoke_options(name, preset, **extra)
    assert plugin.non_square
    plugin.check(options, Size(H, W), 3)
    model = plugin.build(options, 3, Size(H, W))
    model.optimizers = model.configure_optimizers()
    losses = model.train_step(batch_of(), StepContext(device=CPU, dtype=None))
    assert losses and all(torch.isfinite(v) for v in losses.values())
    out = model.generate(batch_of())
    assert out.shape == (2, 3, H, W)


def test_spade_pis_generates_at_64x32(tmp_path):
    from bench_plugins.models import vgg19

    plugin = default().models.get("spade-pis")
    spade = {**default().models.get("spade").profiles["smoke"]["options"], "lambda_vgg": 0}
    options = plugin.Options(spade=spade, num_styles=1, smoothing="fast", guided_radius=2,
                             vgg_weights=str(vgg19.write_random_file(tmp_path / "vgg.pth", width=4)))
    plugin.check(options, Size(H, W), 3)
    model = plugin.build(options, 3, Size(H, W)).eval()
    model.before_generation(PairDataset([sample(i, H, W) for i in range(2)], Size(H, W)))
    assert model.generate(batch_of(instances=False)).shape == (2, 3, H, W)


def test_spade_start_grid_is_sh_by_sw():
    plugin, options = smoke_options("spade", lambda_vgg=0)
    model = plugin.build(options, 3, Size(64, 128))
    assert (model.G.sh, model.G.sw) == (2, 4)


def test_unet_sizes_that_do_not_halve_are_one_line(roots, capsys):
    plugin, options = smoke_options("pix2pix")
    plugin.check(options, Size(32, 96), 3)    # 32 halves to 1, 96 to 3: fine
    code = cli("run", "--models", "pix2pix", "--profile", "smoke", "--dataset", "synthetic-facades",
               "--set", "aspect_ratio=1.5", *roots)
    line = one_error_line(code, capsys.readouterr().err)
    assert "pix2pix" in line and "48x32" in line and "aspect_ratio" in line and "image_size" in line
    assert "--set image_size=32 --set aspect_ratio=2 (64x32)" in line


# ---------------------------------------------------------------- acceptance: the three datasets

RUN = ("--models", "spade,pix2pix", "--profile", "smoke", "--set", "spade.lambda_vgg=0", "--steps", "2",
       "--metrics", "psnr")


def cli(*args) -> int:
    """`bench ARGS` in this process (the same code as the command, without a new interpreter)."""
    from benchmark.cli.app import main

    return main([str(a) for a in args])


def run_and_read(roots, dataset: str, *extra) -> dict[str, dict]:
    assert cli("run", *RUN, "--dataset", dataset, *roots, *extra) == 0
    out = Path(roots[3])
    records = {}
    for path in out.glob("runs/*/record.json"):
        record = json.loads(path.read_text())["record"]
        records[record["label"]] = record
    return records


def fake_sizes(roots) -> set:
    from PIL import Image

    return {Image.open(p).size for p in Path(roots[3]).glob("runs/*/images/fake/*.png")}


def test_cityscapes_runs_at_2_to_1_with_instance_edges(tmp_path, roots):
    gt, left, _ = make_cityscapes(tmp_path)
    assert cli("datasets", "import", "cityscapes", gt, left, "--data-root", roots[1]) == 0
    records = run_and_read(roots, "cityscapes", "--set", "cityscapes.size=64")
    assert fake_sizes(roots) == {(64, 32)}                           # (width, height): 2:1
    for record in records.values():
        assert record["protocol"]["resolution"] == "64x32"
    assert records["spade"]["options"]["use_instance_edges"] is True
    assert records["spade"]["options"]["dontcare_channel"] is False
    assert "instance edges" in records["spade"]["note"]


def test_ade20k_runs_with_the_dontcare_channel(tmp_path, roots):
    archive, _ = make_ade(tmp_path)
    assert cli("datasets", "import", "ade20k", archive, "--data-root", roots[1]) == 0
    records = run_and_read(roots, "ade20k", "--set", "ade20k.size=32")
    assert fake_sizes(roots) == {(32, 32)} and records["pix2pix"]["protocol"]["resolution"] == 32
    assert records["spade"]["options"]["dontcare_channel"] is True
    assert records["spade"]["note"].startswith("dontcare channel")


def test_coco_stuff_runs_with_dontcare_and_its_instance_maps(tmp_path, roots):
    archives, _ = make_coco(tmp_path, annotations=True)
    assert cli("datasets", "import", "coco-stuff", *archives, "--data-root", roots[1]) == 0
    records = run_and_read(roots, "coco-stuff", "--set", "coco-stuff.size=32")
    assert fake_sizes(roots) == {(32, 32)}
    assert records["spade"]["options"]["dontcare_channel"] is True
    assert records["spade"]["options"]["use_instance_edges"] is True
    assert records["spade"]["protocol"]["instance_maps"].startswith("SPADE's datasets/coco_generate_instance_map.py")


# ---------------------------------------------------------------- acceptance: a folder in SPADE's layout

@pytest.mark.parametrize("classes", ["35", '"cityscapes"'])
def test_spade_layout_folder_runs_with_a_two_line_card(tmp_path, roots, classes):
    folder = spade_folder(tmp_path / "city", f"classes = {classes}\naspect_ratio = 2.0\n", w=64, h=32)
    records = run_and_read(roots, "folder", "--set", f"folder.path={folder}")
    assert fake_sizes(roots) == {(64, 32)}
    assert records["spade"]["protocol"]["resolution"] == "64x32"
    assert records["spade"]["options"]["use_instance_edges"] is True


def test_bad_aspect_ratio_or_instance_edges_without_maps_are_one_line(tmp_path, roots, capsys):
    folder = spade_folder(tmp_path / "city", "classes = 35\naspect_ratio = 2.0\n", inst=False)
    code = cli("run", *RUN, "--dataset", "folder", "--set", f"folder.path={folder}", "--set", "aspect_ratio=0",
               *roots)
    line = one_error_line(code, capsys.readouterr().err)
    assert "'aspect_ratio'" in line and "greater than 0.125" in line
    code = cli("run", *RUN, "--dataset", "folder", "--set", f"folder.path={folder}",
               "--set", "spade.use_instance_edges=true", *roots)
    line = one_error_line(code, capsys.readouterr().err)
    assert "spade.use_instance_edges=true" in line and "no instance maps" in line


def test_the_plan_sizes_follow_the_dataset_unless_the_run_says_otherwise():
    from benchmark.planning.config import Layers
    from benchmark.planning.plan import build_plan

    def size(**run):
        layers = Layers.from_sources({}, {}, {"models": ["pix2pix"], "dataset": "cityscapes", "profile": "smoke",
                                              "eval": {"segmenter": "trained"}, **run})  # DRN's file is absent
        plan = build_plan(layers)
        return plan.size(plan.rows[0]), plan.row_plan(plan.rows[0])["resolution"]

    assert size() == (Size(32, 64), "64x32")                          # cityscapes: 2:1, image_size the height
    assert size(aspect_ratio=1.0) == (Size(32, 32), "32x32")
    assert size(image_size=128) == (Size(128, 256), "256x128")
