"""`bench score`: a folder of images becomes a leaderboard row measured like a trained row; two
folders are measured without a dataset; every problem with the folder is one clear line.

One trained pix2pix row (smoke profile, 2 steps, tiny synthetic facades, PSNR and SSIM) is
shared by the module; each scored folder is built from its run folder's images.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import benchmark
from benchmark.cli import app as cli
from benchmark.util.imageio import read_rgb
from benchmark.results.records import record_from_dict
from benchmark.rundir.layout import RunDir
from benchmark.testing import TINY_DATA, TINY_TABLES, one_error_line

METRICS = ["psnr", "ssim"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("score")
    (record,) = benchmark.run(models=["pix2pix"], dataset="synthetic-facades", profile="smoke", steps=2,
                              metrics=METRICS, tables=TINY_TABLES, data_root=root / "data",
                              output_root=root / "out")
    assert record.status == "ok"
    return root, record


def keys(root: Path) -> dict:
    return dict(dataset="synthetic-facades", profile="smoke", metrics=METRICS, tables=TINY_TABLES,
                data_root=root / "data", output_root=root / "out")


def copy_folder(src: Path, dst: Path, suffix: str = ".png") -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("*.png")):
        with Image.open(path) as im:
            im.convert("RGB").save(dst / f"{path.stem}{suffix}")
    return dst


def cli_score(root: Path, images: Path, *extra: str) -> list[str]:
    return ["score", "--dataset", "synthetic-facades", "--images", str(images), "--profile", "smoke",
            "--metrics", ",".join(METRICS), *TINY_DATA, "--data-root", str(root / "data"),
            "--output-root", str(root / "out"), "-q", *extra]


def test_a_scored_folder_ranks_with_the_trained_rows(trained, tmp_path):
    root, model = trained
    images = RunDir(Path(model.run_dir)).images
    same = benchmark.score(copy_folder(images.fake, tmp_path / "same"), label="same images", **keys(root))
    # the trained row's own images, scored from outside: the same numbers under the same protocol
    for column in ("PSNR", "SSIM"):
        assert same.metrics[column].value == model.metrics[column].value
        assert same.metrics[column].protocol == model.metrics[column].protocol
    assert same.protocol == model.protocol and (same.profile, same.seed) == (model.profile, model.seed)
    assert (same.input_kind, same.note, same.model) == ("images", "images from outside bench", "images")
    # the real photos themselves (as JPEG-free BMP): PSNR 10*log10(1/1e-8) = 80 dB, SSIM 1
    perfect = benchmark.score(copy_folder(images.real, tmp_path / "real", ".bmp"), label="real copy", **keys(root))
    assert perfect.metrics["PSNR"].value == pytest.approx(80.0, abs=1e-9)
    assert perfect.metrics["SSIM"].value == pytest.approx(1.0, abs=1e-6)
    board = benchmark.leaderboard("synthetic-facades", output_root=root / "out")
    (table,) = board.tables  # one protocol: one table, ranked together
    assert {r.label for r in table.records} >= {"pix2pix", "same images", "real copy"}
    best = {c.text for r in table.records if r.label == "real copy" for c in table.cells(r) if c.best}
    assert best == {"80.00", "1.0000"}
    run = RunDir(Path(perfect.run_dir))
    for folder in run.images.folders():
        assert sorted(p.name for p in folder.glob("*.png")) == sorted(p.name for p in images.fake.glob("*.png"))
    stored = record_from_dict(run.read_record()["record"])
    assert stored.metrics == perfect.metrics and run.read_status()["status"] == "ok"
    assert run.read_plan()["images_dir"] == str(tmp_path / "real")
    md = (root / "out" / "synthetic-facades" / "leaderboard.md").read_text()
    assert "real copy (images from outside bench)" in md


def test_other_sizes_are_resized_only_when_asked_and_the_row_says_so(trained, tmp_path):
    root, model = trained
    images = RunDir(Path(model.run_dir)).images
    big = tmp_path / "big"
    big.mkdir()
    for path in sorted(images.fake.glob("*.png")):
        with Image.open(path) as im:
            im.resize((48, 48), Image.NEAREST).save(big / path.name)
    code = cli.main(cli_score(root, big, "--label", "big"))
    assert code != 0  # a wrong size, without --resize
    record = benchmark.score(big, label="big", resize=True, **keys(root))
    assert record.note == "images from outside bench resized from 48x48"
    assert record.config["resized"]["from"] == {"48x48": len(list(big.iterdir()))}
    # hand-computed: PIL bicubic down to 32 px, then PSNR per image against the real photo, averaged
    psnrs = []
    for path in sorted(big.glob("*.png")):
        with Image.open(path) as im:
            fake = np.asarray(im.convert("RGB").resize((32, 32), Image.BICUBIC)).astype(np.float64) / 255
        real = read_rgb(images.real / path.name).permute(1, 2, 0).double().numpy()
        psnrs.append(10 * math.log10(1 / (np.mean((fake - real) ** 2) + 1e-8)))
    assert record.metrics["PSNR"].value == pytest.approx(float(np.mean(psnrs)), rel=1e-5)


@pytest.mark.parametrize("problem", ["missing", "extra", "size", "unreadable", "ambiguous", "label", "no-folder"])
def test_every_problem_with_the_folder_is_one_line(trained, tmp_path, capsys, problem):
    root, model = trained
    folder = copy_folder(RunDir(Path(model.run_dir)).images.fake, tmp_path / "imgs")
    label = ["--label", "mine"]
    first = sorted(folder.iterdir())[0]
    expected = {"missing": "have no image (stems 0001)", "extra": "match no test image",
                "size": "40x32 pixels, but this protocol evaluates at 32x32", "unreadable": "cannot be read",
                "ambiguous": "are ambiguous", "label": "is the name of a bench model row", "no-folder": "no such folder"}
    if problem == "missing":
        first.unlink()
    elif problem == "extra":
        shutil.copy(first, folder / "not-a-test-stem.png")
    elif problem == "size":
        Image.new("RGB", (40, 32)).save(first)
    elif problem == "unreadable":
        first.write_bytes(b"not a png")
    elif problem == "ambiguous":
        Image.new("RGB", (32, 32)).save(folder / f"{first.stem}.jpg")
    elif problem == "label":
        label = ["--label", "pix2pix"]
    else:
        folder = tmp_path / "nowhere"
    capsys.readouterr()
    code = cli.main(cli_score(root, folder, *label))
    line = one_error_line(code, capsys.readouterr().err)
    assert expected[problem] in line, line
    assert len(list((root / "out" / "runs").glob("*-mine"))) == 0  # nothing was written


def test_two_folders_of_paired_metrics_pair_files_by_stem(trained, tmp_path, capsys):
    root, model = trained
    images = RunDir(Path(model.run_dir)).images
    real = copy_folder(images.real, tmp_path / "real", ".bmp")
    code = cli.main(["score", "--real", str(real), "--fake", str(images.real), "--metrics", "psnr,ssim", "--json",
                     "--output-root", str(tmp_path / "out"), "-q"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["metrics"]["PSNR"]["value"] == pytest.approx(80.0, abs=1e-9)
    assert out["metrics"]["SSIM"]["value"] == pytest.approx(1.0, abs=1e-6)
    folder = benchmark.score(real=images.real, fake=images.fake, metrics="psnr", output_root=tmp_path / "out")
    assert folder.metrics["PSNR"].value == pytest.approx(model.metrics["PSNR"].value, rel=1e-12)
    (real / sorted(p.name for p in real.iterdir())[0]).unlink()
    out_root = ["--output-root", str(tmp_path / "out"), "-q"]
    code = cli.main(["score", "--real", str(real), "--fake", str(images.fake), "--metrics", "psnr", *out_root])
    assert "no image for 1 stem(s)" in one_error_line(code, capsys.readouterr().err)
    code = cli.main(["score", "--real", str(real), "--fake", str(images.fake), "--metrics", "miou", *out_root])
    assert "needs the dataset's label maps" in one_error_line(code, capsys.readouterr().err)


def test_bench_evaluate_measures_a_scored_rows_images_again(trained, tmp_path, capsys):
    root, model = trained
    images = RunDir(Path(model.run_dir)).images
    record = benchmark.score(copy_folder(images.fake, tmp_path / "again"), label="again", **keys(root))
    run = RunDir(Path(record.run_dir))
    for path in run.images.fake.glob("*.png"):  # now the folder holds the real photos
        shutil.copy(run.images.real / path.name, path)
    code = cli.main(["evaluate", str(run.root), "--set", 'eval.metrics=["psnr"]', "-q"])
    assert code == 0, capsys.readouterr().err
    (stored,) = [r for r in benchmark.leaderboard("synthetic-facades", output_root=root / "out").shown
                 if r.label == "again"]
    assert stored.metrics["PSNR"].value == pytest.approx(80.0, abs=1e-9)  # measured again
    assert stored.metrics["SSIM"].value == record.metrics["SSIM"].value  # not asked for: kept
    assert record_from_dict(run.read_record()["record"]).metrics["PSNR"].value == stored.metrics["PSNR"].value


class TinyZoo:
    """A published checkpoint of synthetic-facades, registered by a test plugin."""

    @staticmethod
    @benchmark.hookimpl
    def register_zoo(register):
        spec = benchmark.WeightSpec(name="pix2pix-tiny-paper", filename="tiny.pth", sha256=None, url=None)
        register(benchmark.ZooEntry(model="pix2pix", tag="tiny-paper", dataset="synthetic-facades", weights=spec,
                                    source_url="https://example.org/tiny.pth", licence="none", paper="a paper",
                                    reported={"PSNR": 21.5, "SSIM": 0.61}))
        spec = benchmark.WeightSpec(name="pix2pix-tiny-256", filename="tiny256.pth", sha256=None, url=None)
        register(benchmark.ZooEntry(model="pix2pix", tag="tiny-256", dataset="synthetic-facades", weights=spec,
                                    source_url="https://example.org/tiny256.pth", licence="none", paper="a paper",
                                    reported={"PSNR": 30.0}, eval_size=(256, 512)))


def test_images_of_a_published_checkpoint_show_the_papers_numbers_beside(trained, tmp_path):
    from benchmark.registry.plugins import build

    root, model = trained
    plugins = build([TinyZoo])
    folder = copy_folder(RunDir(Path(model.run_dir)).images.fake, tmp_path / "official")
    record = benchmark.score(folder, label="pix2pix@tiny-paper", plugins=plugins, **keys(root))
    assert record.note == "images from outside bench; published: PSNR 21.5, SSIM 0.61"
    assert record.config["published"] == {"paper": "a paper", "values": {"PSNR": 21.5, "SSIM": 0.61},
                                          "measured_at": record.config["resolution"]}
    assert record.metrics["PSNR"].value == model.metrics["PSNR"].value  # measured: the images' own
    with pytest.raises(benchmark.ConfigError, match="names the published checkpoint for synthetic-facades"):
        benchmark.score(folder, label="pix2pix@tiny-paper", plugins=plugins, **{**keys(root), "dataset": "facades"})
    # numbers published at another size than the scored images': said not to be comparable
    other = benchmark.score(folder, label="pix2pix@tiny-256", plugins=plugins, **keys(root))
    ours = record.config["resolution"]
    assert ours != "512x256"
    assert other.note == (f"images from outside bench; published at 512x256, not comparable with this row's "
                          f"{ours}: PSNR 30")


def test_non_square_protocol_reads_width_x_height_images(tmp_path):
    from benchmark.api import Size
    from benchmark.util.errors import DataError
    from benchmark.scoring.images import read_images

    wide, square = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(np.zeros((32, 64, 3), np.uint8)).save(wide)  # 64 wide, 32 high
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(square)
    images, resized = read_images({"a": wide}, ["a"], Size(32, 64), resize=False)
    assert images["a"].shape == (32, 64, 3) and resized == {}
    with pytest.raises(DataError, match="32x32 pixels, but this protocol evaluates at 64x32"):
        read_images({"b": square}, ["b"], Size(32, 64), resize=False)
    images, resized = read_images({"b": square}, ["b"], Size(32, 64), resize=True)
    assert images["b"].shape == (32, 64, 3) and resized == {"32x32": 1}
