"""The model zoo: `bench zoo list` shows the published checkpoints with their papers' numbers, and a
`MODEL@TAG` row whose file is missing or unusable stops before anything loads, with one line saying
what to do (a row whose file is imported evaluates it: tests/test_official_spade.py)."""

from __future__ import annotations

import json

import pytest
import torch

from benchmark.cli import app as cli
from benchmark.testing import one_error_line

SPADE_URL = "https://drive.google.com/file/d/12gvlTbMvUcJewQlSEaZdeb2CdOB-b8kQ/view"
OASIS_URL = "https://www.dropbox.com/sh/nf6of02pyk84zjg/AAC8hnnj0T_MAiPx3tzdAyiWa?dl=0"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.chdir(tmp_path)  # no run folder may appear here
    return tmp_path


def run(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_zoo_list_has_the_published_checkpoints_and_their_papers_numbers(cache, capsys):
    code, out, _ = run(capsys, "zoo", "list", "--json")
    assert code == 0
    rows = {row["name"]: row for row in json.loads(out)}
    assert set(rows) == {"spade@coco-stuff-official", "spade@ade20k-official", "spade@cityscapes-official",
                         "pix2pix@facades-official", "oasis@ade20k-official", "oasis@cityscapes-official",
                         "oasis@coco-stuff-official", "pix2pixhd@cityscapes-official"}
    # SPADE paper, Table 1 (mIoU, accuracy, FID)
    assert rows["spade@coco-stuff-official"]["reported"] == {"mIoU": 37.4, "pixel acc": 67.9, "FID": 22.6}
    assert rows["spade@ade20k-official"]["reported"] == {"mIoU": 38.5, "pixel acc": 79.9, "FID": 33.9}
    assert rows["spade@cityscapes-official"]["reported"] == {"mIoU": 62.3, "pixel acc": 81.9, "FID": 71.8}
    assert rows["pix2pix@facades-official"]["reported"] == {}
    city = rows["spade@cityscapes-official"]
    assert (city["options"]["semantic_nc"], city["options"]["aspect_ratio"], city["status"]) == (36, 2.0, "missing")
    assert rows["spade@ade20k-official"]["options"]["semantic_nc"] == 151  # 150 classes + dontcare, no instances
    ade = rows["spade@ade20k-official"]
    assert ade["segmenter"] == "upernet-101-baseline"  # the UperNet of the paper's time (March 2019)
    assert [m["label"] for m in ade["measurements"]] == ["paper", "SMIS re-measurement"]
    assert ade["measurements"][0]["values"] == ade["reported"]
    assert ade["measurements"][0]["settings"] == {"fid.implementation": "pytorch-fid-2019",
                                                  "eval.segmenter": "upernet-101-baseline"}
    assert all(row["licence"] and row["source"].startswith("http") for row in rows.values())
    # the official test sizes: crop_size wide, crop_size / aspect_ratio high
    assert {name: row["eval_size"] for name, row in rows.items()} == {
        "spade@coco-stuff-official": "256x256", "spade@ade20k-official": "256x256",
        "spade@cityscapes-official": "512x256", "pix2pix@facades-official": "256x256",
        "oasis@ade20k-official": "256x256", "oasis@cityscapes-official": "512x256",
        "oasis@coco-stuff-official": "256x256", "pix2pixhd@cityscapes-official": "512x256"}
    code, out, _ = run(capsys, "zoo", "list")
    assert code == 0 and "spade@ade20k-official" in out and "FID 33.9" in out and "512x256" in out
    assert "upernet-101-baseline" in out


def test_the_oasis_entries_carry_table_1_of_its_paper_and_its_protocol(cache, capsys):
    from benchmark.registry.plugins import default

    code, out, _ = run(capsys, "zoo", "list", "--json")
    rows = {row["name"]: row for row in json.loads(out)}
    # OASIS (ICLR 2021), Table 1: FID and mIoU, no pixel accuracy
    assert rows["oasis@ade20k-official"]["reported"] == {"mIoU": 48.8, "FID": 28.3}
    assert rows["oasis@cityscapes-official"]["reported"] == {"mIoU": 69.3, "FID": 47.7}
    assert rows["oasis@coco-stuff-official"]["reported"] == {"mIoU": 44.1, "FID": 17.0}
    segmenters = {"ade20k": "upernet-101", "cityscapes": "drn-d-105", "coco-stuff": "deeplabv2-cocostuff"}
    channels = {"ade20k": 151, "cityscapes": 35, "coco-stuff": 183}
    for dataset, segmenter in segmenters.items():
        row = rows[f"oasis@{dataset}-official"]
        assert row["licence"].startswith("AGPL-3.0") and row["status"] == "missing"
        assert row["segmenter"] == segmenter and row["options"]["semantic_nc"] == channels[dataset]
        (paper,) = row["measurements"]
        assert paper["settings"] == {"fid.implementation": "pytorch-fid", "eval.segmenter": segmenter}
        assert paper["values"] == row["reported"] and "lowest FID on the test split" in paper["note"]
        entry = default().zoo.get(row["name"])  # what bench needs beyond the tensors
        assert entry.model_options == {"z_dim": 64, "dontcare_channel": dataset != "cityscapes"}


def test_a_zoo_row_is_measured_at_its_papers_size_unless_the_user_sets_one():
    from benchmark.api import Size
    from benchmark.registry.plugins import default
    from benchmark.registry.zoo import measured_at, published_note, published_of, run_size

    city = default().zoo.get("spade@cityscapes-official")
    assert run_size(city, {}) == {"image_size": 256, "aspect_ratio": 2.0}
    assert run_size(city, {"image_size": 64}) == {} and run_size(city, {"aspect_ratio": 1.0}) == {}
    published = published_of(city)
    assert published["at"] == "512x256"
    same = measured_at(published, Size(256, 512))
    assert published_note(same) == "published: mIoU 62.3, pixel acc 81.9, FID 71.8"
    other = measured_at(published, Size(32, 64))
    assert published_note(other) == "published at 512x256, not comparable with this row's 64x32: mIoU 62.3, " \
                                    "pixel acc 81.9, FID 71.8"


def test_without_the_file_a_zoo_row_stops_at_once_naming_file_url_and_import(cache, capsys):
    code, _, err = run(capsys, "run", "--models", "spade@ade20k-official", "--dataset", "ade20k")
    line = one_error_line(code, err)
    assert "spade-ade20k_pretrained-latest_net_G.pth" in line and SPADE_URL in line
    assert "ade20k_pretrained/latest_net_G.pth" in line
    assert "`bench weights import spade-ade20k-official latest_net_G.pth`" in line
    assert not (cache / "results").exists()
    code, _, err = run(capsys, "run", "--models", "spade@nowhere", "--dataset", "ade20k")
    assert "spade@ade20k-official" in one_error_line(code, err)  # the closest known entries
    code, _, err = run(capsys, "run", "--models", "oasis@cityscapes-official", "--dataset", "cityscapes")
    line = one_error_line(code, err)
    assert "oasis-oasis_cityscapes_pretrained-best_EMA.pth" in line and OASIS_URL in line
    assert "oasis_cityscapes_pretrained/models/best_EMA.pth" in line
    assert "`bench weights import oasis-cityscapes-official best_EMA.pth`" in line
    assert not (cache / "results").exists()


def spade_state(channels: int) -> dict:
    return {"fc.weight": torch.zeros(4, channels, 3, 3), "fc.bias": torch.zeros(4),
            "head_0.conv_0.weight_orig": torch.zeros(4, 4, 3, 3), "conv_img.weight": torch.zeros(3, 4, 3, 3)}


def test_an_imported_file_is_checked_and_one_that_is_no_generator_stops_the_row(cache, capsys):
    wrong = cache / "wrong.pth"
    torch.save(spade_state(150), wrong)  # no dontcare channel: not the ade20k generator
    code, _, err = run(capsys, "weights", "import", "spade-ade20k-official", str(wrong))
    assert "reads 150 label channels" in one_error_line(code, err)
    good = cache / "latest_net_G.pth"
    torch.save(spade_state(151), good)
    code, out, _ = run(capsys, "weights", "import", "spade-ade20k-official", str(good))
    assert code == 0 and "imported spade-ade20k-official" in out
    code, _, err = run(capsys, "run", "--models", "spade@ade20k-official", "--dataset", "facades")
    assert "was trained on ade20k, not facades; pass --dataset ade20k" in one_error_line(code, err)
    code, _, err = run(capsys, "run", "--models", "spade@ade20k-official", "--dataset", "ade20k")
    line = one_error_line(code, err)  # fc and conv_img alone: not a whole generator (see test_official_spade)
    assert "spade-ade20k-official-latest_net_G.pth" in line or "latest_net_G.pth" in line
    assert "that spade reads" in line
    assert not (cache / "results").exists()


def test_the_ade20k_row_uses_the_upernet_of_its_papers_time_and_says_so(cache):
    from benchmark.registry.plugins import default
    from benchmark.registry.zoo import papers_segmenter, published_note, published_of
    from benchmark.util.errors import ConfigError

    plugins = default()
    ade = plugins.zoo.get("spade@ade20k-official")
    assert ade.segmenter == "upernet-101-baseline" and "upernet-101-baseline" in plugins.segmenters
    assert papers_segmenter(["spade@ade20k-official", "pix2pix"], plugins) == "upernet-101-baseline"
    assert papers_segmenter(["spade@cityscapes-official"], plugins) is None  # its paper's is the dataset's default
    published = published_of(ade)
    assert published_note({**published, "measured_at": "256x256", "at": "256x256",
                           "measured_with": "upernet-101-baseline"}).endswith("(mIoU by upernet-101-baseline)")
    assert published_note({**published, "measured_with": "upernet-101"}) == (
        "published with segmenter upernet-101-baseline, not comparable with this row's upernet-101: "
        "mIoU 38.5, pixel acc 79.9, FID 33.9")

    class Other:
        segmenter = "upernet-101"

    class Zoo(dict):
        def get(self, name):
            return self[name]

    class Plugins:
        zoo = Zoo({"a@x": ade, "b@y": Other()})

    with pytest.raises(ConfigError, match="different segmenters: a@x \\(upernet-101-baseline\\), b@y \\(upernet-101\\)"):
        papers_segmenter(["a@x", "b@y"], Plugins())


def test_the_plan_of_an_ade20k_zoo_row_takes_its_papers_segmenter_unless_one_is_set(cache, capsys):
    code, _, err = run(capsys, "run", "--models", "spade@ade20k-official", "--dataset", "ade20k", "--metrics", "miou")
    line = one_error_line(code, err)  # the generator's file is checked first; then the paper's segmenter
    assert "spade-ade20k_pretrained-latest_net_G.pth" in line
    from test_official_spade import official_file

    _, path = official_file(cache, label_nc=150, dontcare=True, instance=False, height=64, width=64)
    assert run(capsys, "weights", "import", "spade-ade20k-official", str(path))[0] == 0
    code, _, err = run(capsys, "run", "--models", "spade@ade20k-official", "--dataset", "ade20k", "--metrics", "miou")
    line = one_error_line(code, err)
    assert "'upernet-101-baseline'" in line and "baseline-resnet101-upernet/encoder_epoch_50.pth" in line
    code, _, err = run(capsys, "run", "--models", "spade@ade20k-official", "--dataset", "ade20k", "--metrics", "miou",
                       "--set", "eval.segmenter=upernet-101")
    line = one_error_line(code, err)
    assert "'upernet-101'" in line and "ade20k-resnet101-upernet/encoder_epoch_50.pth" in line
    assert not (cache / "results").exists()


def test_the_papers_numbers_are_listed_as_the_papers_print_them():
    from benchmark.cli.zoo import reported_text

    assert reported_text({"mIoU": 44.1, "FID": 17.0}) == "mIoU 44.1, FID 17.0"  # not "FID 17"
    assert reported_text({}) == "none reported"
