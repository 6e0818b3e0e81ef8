"""Tables that go into a paper as they are (issue 23): the dataset's headline columns in percent,
columns no row has left out with one note, a short LaTeX protocol note without checksums, URLs or
commands, the real-images row's split, JSON keeping everything, and `bench report` giving the
same HTML from any working folder."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark import report
from benchmark.cli import app as cli
from benchmark.results.records import MetricValue, RunRecord
from benchmark.results.store import ResultsStore
from tests.test_report import md_rows

SHA = "ab" * 32
RUN = {"dataset": "facades", "images": 106, "resolution": 64, "real_split": "test"}
FID = {"metric": "fid", "images": 106, "real_split": "test", "library": "clean-fid 0.1.35", "implementation": "clean",
       "weights": "inception-2015-12-05.pt", "weights_sha256": SHA}
MIOU = {"metric": "miou", "segmenter": f"drn-d-105: drn-d-105_ms_cityscapes.pth (sha256 {SHA})", "images": 106}
IS_NOTE = (f"IS needs the 1008-way output layer of inception-2015-12-05.pt (sha256 {SHA}): download "
           "https://example.org/inception.pt and run `bench weights import inception-2015-12-05 FILE`")


def row(label: str, fid: float, miou: float, acc: float, *, run_id: int, model: str = "pix2pix",
        run_dir: str = "/does/not/exist", real_split: str = "test") -> RunRecord:
    metrics = {
        "FID": MetricValue(fid, "down", {**FID, "real_split": real_split}),
        "IS": MetricValue(None, "up", {"metric": "is"}, IS_NOTE),
        "mIoU": MetricValue(miou, "up", MIOU),
        "pixel acc": MetricValue(acc, "up", MIOU),
        "cls exact": MetricValue(0.0 if model != "real-images" else 0.0283, "up", {"metric": "classifier"}),
    }
    return RunRecord(label=label, model=model, preset="default", dataset="facades", profile="quick", seed=0,
                     options={}, config={}, protocol=RUN, versions={}, device="cpu", wall_time_s=1.0,
                     status="ok", reason=None, run_dir=run_dir, note="", metrics=metrics,
                     created=f"2024-01-01T00:00:{run_id:02d}+00:00", id=run_id)


@pytest.fixture
def rows() -> list[RunRecord]:
    return [row("real images", 12.5, 0.6123, 0.9012, run_id=1, model="real-images", real_split="train"),
            row("pix2pix", 80.25, 0.2512, 0.6543, run_id=2), row("spade", 60.5, 0.3321, 0.7011, run_id=3)]


def test_markdown_shows_the_headline_columns_in_percent_and_leaves_out_empty_ones(rows):
    text = report.render(rows, "md")
    table = md_rows(text)
    assert table["Model"][:5] == ["Model", "Input", "FID ↓", "mIoU (%) ↑", "pixel acc (%) ↑"]
    assert table["spade"][2:5] == ["**60.50**", "**33.21**", "**70.11**"]
    assert table["pix2pix"][3:5] == ["25.12", "65.43"]
    assert "IS ↑" not in text and "left out" not in text  # IS is no headline column: nothing to say
    everything = report.render(rows, "md", columns=["all"])
    header = md_rows(everything)["Model"]
    assert "IS ↑" not in header and "cls exact ↑" in header
    assert everything.count("IS left out: no row has a value (IS needs the 1008-way output layer") == 1
    assert "cls exact cannot separate these rows (every row reads 0.0000): not ranked" in everything
    assert "**0.0000**" not in everything


def test_the_real_images_row_states_its_split(rows):
    assert md_rows(report.render(rows, "md"))["real images (test split; FID against the train split)"][2] == "12.50"


def test_json_keeps_every_column_as_measured(rows):
    table = json.loads(report.render(rows, "json"))["tables"][0]
    assert [m["name"] for m in table["metrics"]] == ["FID", "IS", "mIoU", "pixel acc", "cls exact"]
    spade = next(r for r in table["rows"] if r["label"] == "spade")
    assert spade["values"]["mIoU"] == 0.3321 and spade["values"]["IS"] is None and "IS" in spade["notes"]
    assert table["protocol"]["metrics"]["FID"]["weights_sha256"] == SHA
    assert table["not_separating"] == {"cls exact": "0.0000"}


def footnote(tex: str) -> list[str]:
    start = tex.index("{\\footnotesize ")
    return tex[start:tex.index("\\par}", start)].splitlines()


def test_latex_has_the_headline_columns_and_a_short_protocol_note(rows):
    tex = report.render(rows, "tex")
    head = next(line for line in tex.splitlines() if line.startswith("Model"))
    assert "FID $\\downarrow$" in head and "mIoU (\\%) $\\uparrow$" in head and "pixel acc (\\%)" in head
    assert "IS" not in head and "cls" not in head
    note = footnote(tex)
    assert len(note) <= 3, note
    text = " ".join(note)
    assert "106 test images of facades at 64x64 px" in text
    assert "clean-fid 0.1.35, clean" in text and "segmenter drn-d-105: drn-d-105\\_ms\\_cityscapes.pth" in text
    assert not re.search(r"[0-9a-f]{16}|https?://|`|bench ", text), text
    assert "Full protocol" not in tex and "\\textbf{33} & \\textbf{.21}" in tex


def test_latex_compiles(rows, tmp_path):
    tex = report.render(rows, "tex")
    assert tex.count("\\begin{table}") == tex.count("\\end{table}") == 1
    assert tex.count("{") == tex.count("}")
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed (the structure was checked)")
    (tmp_path / "paper.tex").write_text("\\documentclass{article}\\usepackage{booktabs}\\usepackage{graphicx}"
                                        "\\begin{document}\n" + tex + "\\end{document}\n")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
    assert (tmp_path / "paper.pdf").stat().st_size > 1000


def run_folder(root: Path, name: str) -> Path:
    folder = root / "runs" / name
    rng = np.random.default_rng(0)
    for sub in ("fake", "real", "label"):
        (folder / "images" / sub).mkdir(parents=True)
        for stem in ("a", "b"):
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(folder / "images" / sub / f"{stem}.png")
    return folder


def html_from(cwd: Path, output_root: str, monkeypatch, capsys) -> str:
    monkeypatch.chdir(cwd)
    assert cli.main(["report", "--format", "html", "--output-root", output_root, "-o", str(cwd / "r.html")]) == 0
    capsys.readouterr()
    return re.sub(r"generated [^<]*", "", (cwd / "r.html").read_text())


def test_report_gives_the_same_html_from_any_folder_and_after_a_move(tmp_path, monkeypatch, capsys):
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    elsewhere.mkdir()
    run_folder(work / "results", "r1")
    monkeypatch.chdir(work)
    store = ResultsStore(Path("results") / "bench.sqlite")
    store.add_run(row("pix2pix", 80.0, 0.25, 0.65, run_id=0, run_dir="results/runs/r1"))
    with sqlite3.connect(work / "results" / "bench.sqlite") as conn:
        assert conn.execute("SELECT run_dir FROM runs").fetchall() == [("runs/r1",)]
    here = html_from(work, "results", monkeypatch, capsys)
    assert "sample grid skipped" not in here and 'alt="sample grid, facades"' in here
    assert html_from(elsewhere, str(work / "results"), monkeypatch, capsys) == here
    shutil.move(str(work / "results"), str(tmp_path / "moved"))  # an output root moves as a whole
    assert 'alt="sample grid, facades"' in html_from(elsewhere, str(tmp_path / "moved"), monkeypatch, capsys)


def test_rows_an_older_bench_stored_relative_to_its_folder_are_found(tmp_path, monkeypatch, capsys):
    run_folder(tmp_path / "results", "r1")
    store = ResultsStore(tmp_path / "results" / "bench.sqlite")
    store.add_run(row("pix2pix", 80.0, 0.25, 0.65, run_id=0, run_dir=str(tmp_path / "results" / "runs" / "r1")))
    with sqlite3.connect(tmp_path / "results" / "bench.sqlite") as conn:
        conn.execute("UPDATE runs SET run_dir = 'results/runs/r1'")  # as bench 0.1.0 wrote it
    (found,) = store.latest("facades")
    assert found.run_dir == str(tmp_path / "results" / "runs" / "r1")
    assert store.find_by_run_dir("results/runs/r1").id == found.id
