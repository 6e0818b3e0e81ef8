"""`bench zoo reproduce NAME`: without the files it prints what to download and import and runs and
writes nothing; with them (built from the official module trees, random weights, on a tiny ADE20K
archive) it measures the entry under each protocol of its paper and of the re-measurements and prints
the published numbers beside the measured ones, as it writes them beside the leaderboard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from official_reference import csail_upernet as csail

from benchmark.cli import app as cli
from benchmark.testing import one_error_line
from benchmark.rundir.layout import RunDir

ENTRY = "spade@ade20k-official"
UPERNET_FILES = ("upernet101-baseline-encoder", "upernet101-baseline-decoder",
                 "upernet101-ade20k-encoder", "upernet101-ade20k-decoder")


def run(capsys, *args):
    capsys.readouterr()
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def empty(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no copy of torch hub's files to take either
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_without_the_files_it_prints_what_to_download_and_import_and_writes_nothing(empty, capsys):
    before = sorted(p.name for p in empty.iterdir())
    code, out, err = run(capsys, "zoo", "reproduce", ENTRY)
    assert code == 2
    lines = [line for line in out.splitlines() if line.startswith("  - ")]
    assert len(lines) == 7, out  # the generator, two files of each UperNet version, the paper's FID network, the data
    assert "`bench weights import spade-ade20k-official latest_net_G.pth`" in lines[0]
    assert "ade20k_pretrained/latest_net_G.pth" in lines[0]
    for name, line in zip(UPERNET_FILES, lines[1:5]):
        model = "baseline-resnet101-upernet" if "baseline" in name else "ade20k-resnet101-upernet"
        part = name.rsplit("-", 1)[1]
        assert f"http://sceneparsing.csail.mit.edu/model/pytorch/{model}/{part}_epoch_50.pth" in line
        assert f"`bench weights import {name} FILE`" in line
    assert lines[5].startswith("  - metric fid: fid.implementation=pytorch-fid-2019 needs inception_v3_google")
    assert "`bench weights import inception-v3-google-1a9a5a14 FILE`" in lines[5]
    assert "bench datasets import ade20k ADEChallengeData2016.zip" in lines[6]
    assert "nothing was run or written" in err and "Traceback" not in err
    assert sorted(p.name for p in empty.iterdir()) == before  # no results/, no datasets/, no weights/


def test_with_the_files_it_measures_each_protocol_and_prints_them_beside_the_published_numbers(
        tmp_path, capsys, monkeypatch):
    from test_official_spade import official_file
    from test_standard_datasets import make_ade

    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    data, out = tmp_path / "data", tmp_path / "out"
    archive, _ = make_ade(tmp_path)
    code, _, err = run(capsys, "datasets", "import", "ade20k", str(archive), "--data-root", str(data),
                       "--set", "ade20k.size=24")
    assert code == 0, err
    _, generator = official_file(tmp_path, label_nc=150, dontcare=True, instance=False, height=64, width=64)
    encoder, decoder = csail.save_as_train_py(csail.build(seed=5), tmp_path / "csail")
    for name, path in [("spade-ade20k-official", generator)] + list(zip(UPERNET_FILES, (encoder, decoder) * 2)):
        code, _, err = run(capsys, "weights", "import", name, str(path))
        assert code == 0, err
    code, printed, err = run(capsys, "zoo", "reproduce", ENTRY, "--metrics", "miou", "--data-root", str(data),
                             "--output-root", str(out), "--set", "ade20k.size=24", "--quiet",
                             "--set", "upernet-101-baseline.scales=[32]", "--set", "upernet-101.scales=[32]")
    assert code == 0, err
    report = json.loads((out / "ade20k" / f"reproduce-{ENTRY}.json").read_text())
    lines = {(line["protocol"], line["metric"]): line for line in report["lines"]}
    paper, smis = lines[("paper", "mIoU")], lines[("SMIS re-measurement", "mIoU")]
    assert paper["published"] == 38.5 and smis["published"] == 42.0
    # each protocol is its own run: the paper's with the UperNet of its time, SMIS's with today's
    plans = {line["protocol"]: json.loads((out / "runs" / Path(line["run_dir"]).name / "plan.json").read_text())
             for line in (paper, smis)}
    assert plans["paper"]["segmenter"]["name"] == "upernet-101-baseline"
    assert plans["SMIS re-measurement"]["segmenter"]["name"] == "upernet-101"
    for line in (paper, smis):
        record = RunDir.open(out / "runs" / Path(line["run_dir"]).name).read_record()["record"]
        assert record["metrics"]["mIoU"]["protocol"]["segmenter"].startswith(
            plans[line["protocol"]]["segmenter"]["name"] + ":")
        measured = record["metrics"]["mIoU"]["value"] * 100  # percent, as the papers write it
        # the row's note names the paper's segmenter, and says when the row is measured with another
        assert ("(mIoU by upernet-101-baseline)" if line is paper else
                "published with segmenter upernet-101-baseline, not comparable with this row's upernet-101"
                ) in record["note"], record["note"]
        assert line["measured"] == pytest.approx(measured)
        assert line["difference"] == pytest.approx(measured - line["published"])
        assert f"{line['published']:.2f}" in printed and f"{line['difference']:+.2f}" in printed
    assert "not measured" in lines[("paper", "FID")]["note"]  # --metrics miou: FID is not run
    assert (out / "ade20k" / f"reproduce-{ENTRY}.md").read_text().count("| paper |") == 3
    assert (out / "ade20k" / f"reproduce-{ENTRY}.csv").read_text().count("\npaper,") == 3


@pytest.mark.parametrize("args, expected", [
    ((), "name the entry, e.g. `bench zoo reproduce spade@ade20k-official`"),
    (("spade@nowhere",), "spade@ade20k-official"),  # unknown: the closest entries
    (("pix2pix@facades-official",), "has no published numbers to reproduce"),
])
def test_a_bad_name_is_one_line(args, expected, empty, capsys):
    code, _, err = run(capsys, "zoo", "reproduce", *args)
    assert expected in one_error_line(code, err)
    assert not (empty / "results").exists() and not (empty / "datasets").exists()


def test_each_measurement_is_a_run_of_its_own_settings_and_an_unavailable_setting_is_said_not_replaced():
    from benchmark import Measurement, ZooEntry
    from benchmark.registry.plugins import default
    from benchmark.planning.reproduction import protocols

    plugins = default()
    base = plugins.zoo.get("spade@cityscapes-official")
    entry = ZooEntry(**{**base.__dict__, "measurements": (
        Measurement("a", "paper", {"eval.segmenter": "drn-d-105", "fid.implementation": "no-such-fid"},
                    {"mIoU": 1.0, "FID": 2.0}),
        Measurement("b", "thread", {"eval.segmenter": "drn-d-105", "fid.implementation": "legacy-tensorflow",
                                    "miou.label_resize": "bilinear"}, {"FID": 3.0}),
        Measurement("c", "thread", {"eval.segmenter": "drn-d-105", "fid.implementation": "no-such-fid"},
                    {"mIoU": 4.0}),
        Measurement("d", "thread", {"eval.segmenter": "no-such-segmenter"}, {"mIoU": 5.0}),
    )})
    runs = protocols(entry, ["fid", "miou"], plugins)
    # a and c measure mIoU under the same settings: one run; b's miou setting does not concern its FID
    assert [([m.label for m in r.measurements], r.settings, r.metrics) for r in runs] == [
        (["a", "c"], {"eval.segmenter": "drn-d-105"}, ["miou"]),
        (["b"], {"fid.implementation": "legacy-tensorflow"}, ["fid"]),
        (["d"], {}, []),
    ]
    assert "fid.implementation=no-such-fid is not available in this installation" in runs[0].unavailable["fid"]
    assert runs[2].unavailable == {"miou": "segmenter 'no-such-segmenter' is not installed"}
    assert [r.metrics for r in protocols(entry, ["miou"], plugins)] == [["miou"], []]  # b (FID only) and d: none


@pytest.mark.slow
def test_by_default_it_measures_the_papers_fid_with_its_implementation(tmp_path, capsys, monkeypatch):
    """The default metrics are those of the published numbers: the paper's FID is measured with
    fid.implementation=pytorch-fid-2019 (its network file here: random weights placed in the cache,
    as no file can be downloaded in a test), the SMIS numbers have no FID."""
    import torch
    from bench_plugins.metrics import inception_torchvision as tvi
    from test_official_spade import official_file
    from test_standard_datasets import make_ade

    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    data, out = tmp_path / "data", tmp_path / "out"
    archive, _ = make_ade(tmp_path)
    assert run(capsys, "datasets", "import", "ade20k", str(archive), "--data-root", str(data),
               "--set", "ade20k.size=24")[0] == 0
    _, generator = official_file(tmp_path, label_nc=150, dontcare=True, instance=False, height=64, width=64)
    encoder, decoder = csail.save_as_train_py(csail.build(seed=5), tmp_path / "csail")
    for name, path in [("spade-ade20k-official", generator)] + list(zip(UPERNET_FILES, (encoder, decoder) * 2)):
        assert run(capsys, "weights", "import", name, str(path))[0] == 0
    torch.manual_seed(0)
    (tmp_path / "weights").mkdir(exist_ok=True)
    torch.save(tvi.torchvision_inception().state_dict(), tmp_path / "weights" / tvi.TORCHVISION_2019_WEIGHTS.filename)
    code, printed, err = run(capsys, "zoo", "reproduce", ENTRY, "--data-root", str(data), "--output-root", str(out),
                             "--set", "ade20k.size=24", "--quiet", "--set", "upernet-101-baseline.scales=[32]",
                             "--set", "upernet-101.scales=[32]")
    assert code == 0, err
    lines = {(line["protocol"], line["metric"]): line
             for line in json.loads((out / "ade20k" / f"reproduce-{ENTRY}.json").read_text())["lines"]}
    fid = lines[("paper", "FID")]
    assert fid["settings"] == "eval.segmenter=upernet-101-baseline, fid.implementation=pytorch-fid-2019"
    record = RunDir.open(out / "runs" / Path(fid["run_dir"]).name).read_record()["record"]
    assert record["metrics"]["FID"]["protocol"]["implementation"] == "pytorch-fid-2019"
    assert fid["measured"] == pytest.approx(record["metrics"]["FID"]["value"])
    assert fid["difference"] == pytest.approx(fid["measured"] - 33.9)
    assert ("SMIS re-measurement", "FID") not in lines
    assert lines[("SMIS re-measurement", "mIoU")]["settings"] == "eval.segmenter=upernet-101"
