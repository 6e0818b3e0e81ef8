"""Leaderboard outputs for a paper (LaTeX), a phone (HTML), a program (JSON/CSV), a reader (Markdown)
and a pipe (plain console), plus `bench report -o` and the shared image grid."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from datetime import datetime

import numpy as np
import pytest
from rich.console import Console

from benchmark import report
from benchmark.util.errors import BenchError
from benchmark.util.grid import compose
from benchmark.results.records import MetricValue
from benchmark.report.data import SCHEMA_VERSION
from tests.test_report import md_rows, no_headline_columns, record  # noqa: F401 (an autouse fixture)

SHA = "9f" * 32


@pytest.fixture
def three():
    # PSNR (up): b is best.  FID (down): c is best.
    return [record("a", 20.0, 40.0, run_id=1), record("b", 25.0, 60.0, run_id=2), record("c", 22.0, 30.0, run_id=3)]


def wide(count: int = 14):
    """Three rows with many metric columns, long labels and sha256 strings in the protocol."""
    rows = [record("pix2pix+kl-with-a-long-row-label", 20.0, 40.0, run_id=1, note="no VGG loss"),
            record("b", 25.0, None, run_id=2), record("c", -12.5, 30.0, run_id=3)]
    for row in rows:
        for i in range(count):
            row.metrics[f"M{i}"] = MetricValue(1234.5678 * row.id + i, "up", {"weights_sha256": SHA, "i": i})
        row.metrics["M std"] = MetricValue(0.5, "none", {})
    return rows


# ---------------------------------------------------------------- LaTeX

def tex_rows(tex: str) -> dict[str, str]:
    return {line.split("&")[0].strip(): line for line in tex.splitlines() if line.count("&") > 1}


def test_tex_is_paper_ready(three):
    tex = report.render(three, "tex")
    assert "\\label{tab:leaderboard-facades}" in tex
    assert "{lr@{}lr@{}l}" in tex  # numbers split at the point: aligned on it
    assert not re.search(r"Profile|Seed|\bRun\b|smoke", tex)
    rows = tex_rows(tex)
    assert rows["a"].startswith("a & 20 & .00 & 40 & .00")
    assert "\\textbf{25} & \\textbf{.00}" in rows["b"]
    assert "106 test images" in tex and "leaderboard.json" in tex
    assert "siunitx" in tex.splitlines()[0]  # the header says what the table needs (and that it is not siunitx)


def test_tex_default_columns_are_the_ranked_metrics_and_columns_choose():
    default = report.render(wide(), "tex")
    assert "M std" not in tex_rows(default)["Model"] and "% not shown: M std" in default
    chosen = report.render(wide(), "tex", columns=["FID", "M std"])
    header = tex_rows(chosen)["Model"]
    assert "FID" in header and "M std" in header and "PSNR" not in header and "M0" not in header
    assert tex_rows(chosen)["b"] == "b & \\multicolumn{2}{c}{---$^{1}$} & 0 & .5000 \\\\"


def test_unknown_column_is_refused_naming_the_choices(three):
    with pytest.raises(BenchError, match=r"--columns FID,LPIPS: no metric column 'LPIPS'.*PSNR, FID"):
        report.render(three, "tex", columns=["FID", "LPIPS"])


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("layout", ["", "twocolumn"])
def test_tex_compiles_without_overfull_boxes(tmp_path, layout):
    (tmp_path / "board.tex").write_text(report.render(wide(), "tex") + report.render(wide()[:2], "tex",
                                                                                      columns=["FID"]))
    (tmp_path / "paper.tex").write_text(
        f"\\documentclass[{layout}]{{article}}\n\\usepackage{{booktabs}}\n\\usepackage{{graphicx}}\n"
        "\\begin{document}\nText.\n\\input{board.tex}\n\\end{document}\n")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape",
                           "paper.tex"], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    log = (tmp_path / "paper.log").read_text(errors="replace")
    assert done.returncode == 0, log[-2000:]
    assert "Overfull \\hbox" not in log
    assert (tmp_path / "paper.pdf").stat().st_size > 0


# ---------------------------------------------------------------- HTML

def test_html_fits_a_phone(three):
    three[0].metrics["FID"].protocol = {**three[0].metrics["FID"].protocol, "weights_sha256": SHA}
    html = report.render(three, "html")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert re.search(r'<div class="scroll"[^>]*>\s*<table>', html)
    assert ".scroll { overflow-x: auto" in html and "overflow-wrap: anywhere" in html
    table_end, details = html.index("</table>"), html.index("<details")
    assert table_end < details and html.index("<summary>Protocol</summary>") > details
    assert "<li>dataset: facades</li>" in html and "<li>run: images=106, resolution=64, real_split=test</li>" in html
    assert SHA in html[details:]


# ---------------------------------------------------------------- JSON and CSV

def test_json_schema_uses_metric_names_with_version_and_time(three):
    data = json.loads(report.render(three, "json"))
    assert data["schema_version"] == SCHEMA_VERSION == 2  # 2: values are means over a row's seeds
    assert datetime.fromisoformat(data["generated"]).tzinfo is not None
    assert set(data) == {"schema_version", "generated", "title", "note", "tables", "failed"}
    row = data["tables"][0]["rows"][0]
    assert set(row) == {"label", "name", "model", "input", "reference", "profile", "seed", "run", "run_dir",
                        "values", "best", "notes", "n", "seeds", "runs", "run_dirs", "std", "per_seed", "tied", "ci"}
    assert set(row["values"]) == {"PSNR", "FID"}
    assert not any("↑" in key or "↓" in key for key in json.dumps(data["tables"][0]["rows"]))


def test_csv_has_metric_name_keys_and_no_protocol(three):
    text = report.render(three, "csv")
    header = next(csv.reader(io.StringIO(text)))
    assert header == ["table", "dataset", "label", "name", "input", "reference", "PSNR", "PSNR best",
                      "FID", "FID best", "profile", "seed", "run", "notes"]
    assert "images=106" not in text and "inception" not in text
    assert len(text.splitlines()) == 4


def test_schema_document_names_every_key(three):
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "leaderboard-schema.md").read_text()
    data = json.loads(report.render(three, "json"))
    keys = set(data) | set(data["tables"][0]) | set(data["tables"][0]["rows"][0])
    keys |= set(next(csv.reader(io.StringIO(report.render(three, "csv"))))) - {"PSNR", "PSNR best", "FID", "FID best"}
    assert [k for k in sorted(keys) if f"`{k}`" not in doc] == []


# ---------------------------------------------------------------- Markdown and console

def test_md_puts_the_table_first_and_the_protocol_in_short_lines(three):
    three[0].metrics["FID"].protocol = {**three[0].metrics["FID"].protocol, "weights_sha256": SHA}
    md = report.render(three, "md")
    assert md.index("| Model") < md.index("Protocol:")
    protocol = md[md.index("Protocol:"):].splitlines()
    assert "- run: images=106, resolution=64, real_split=test" in protocol
    assert all(len(line) < 120 + len(SHA) for line in md.splitlines())
    assert md_rows(md)["b"][2] == "**25.00**"


def test_console_off_a_terminal_prints_the_full_width_table():
    rows = wide(6)
    console = Console(file=io.StringIO(), width=40)
    report.print_console(rows, console, title="Leaderboard")
    text = console.file.getvalue()
    assert "…" not in text and "pix2pix+kl-with-a-long-row-label (no VGG loss)" in text
    assert max(len(line) for line in text.splitlines()) > 100
    assert "25.00*" in text and "* best in its column" in text


def test_console_in_a_terminal_uses_rich_tables(three):
    console = Console(file=io.StringIO(), width=200, force_terminal=True, color_system=None)
    report.print_console(three, console)
    text = console.file.getvalue()
    assert "┃" in text or "│" in text
    assert "25.00" in text and "25.00*" not in text


# ---------------------------------------------------------------- bench report -o

def test_write_output_creates_a_missing_folder_and_refuses_a_folder(tmp_path):
    target = tmp_path / "missing" / "deeper" / "x.html"
    report.write_output(target, "<p>x</p>")
    assert target.read_text() == "<p>x</p>" and list(target.parent.iterdir()) == [target]
    with pytest.raises(BenchError, match=r"^-o .*: is a folder; pass a file name"):
        report.write_output(tmp_path, "x")
    (tmp_path / "file").write_text("")
    with pytest.raises(BenchError, match="is a file, not a folder"):
        report.write_output(tmp_path / "file" / "x.md", "x")


def test_bench_report_output_paths(tmp_path, monkeypatch, capsys):
    from benchmark.cli import app as cli
    from benchmark.results.store import ResultsStore

    store = ResultsStore(tmp_path / "bench.sqlite")
    for rec in (record("a", 20.0, 40.0, run_id=1), record("b", 25.0, 60.0, run_id=2)):
        rec.id = None
        store.add_run(rec)
    root = ["--output-root", str(tmp_path)]
    out = tmp_path / "new" / "board.html"
    assert cli.main(["report", "--format", "html", "-o", str(out), *root]) == 0
    assert "<table>" in out.read_text()
    assert cli.main(["report", "--format", "md", "-o", str(tmp_path), *root]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: -o ") and "is a folder" in err[0]
    assert cli.main(["report", "--format", "csv", "--columns", "FID", *root]) == 0
    assert next(csv.reader(io.StringIO(capsys.readouterr().out)))[6:8] == ["FID", "FID best"]


# ---------------------------------------------------------------- the image grid

def test_grid_without_resize_or_gap_is_plain_concatenation():
    rng = np.random.default_rng(0)
    rows = [[rng.integers(0, 256, (5, 7, 3), dtype=np.uint8) for _ in range(3)] for _ in range(2)]
    expected = np.concatenate([np.concatenate(row, axis=1) for row in rows], axis=0)
    assert np.array_equal(compose(rows), expected)


def test_grid_groups_pairs_and_keeps_label_colours_with_nearest():
    label = np.zeros((4, 4, 3), np.uint8)
    label[:2] = (200, 10, 10)
    photo = np.full((4, 4, 3), 90, np.uint8)
    grid = compose([[label, photo, label, photo], [label, photo]], tile=8, gap=3, group=2, nearest={0, 2})
    assert grid.shape == (3 + 2 * (8 + 3), 3 + 2 * (2 * 8 + 3), 3)
    first = grid[3:11, 3:11].reshape(-1, 3)
    assert {tuple(c) for c in np.unique(first, axis=0)} == {(200, 10, 10), (0, 0, 0)}
    assert (grid[3:11, 11:19] == 90).all()  # the photo touches its label: no gap inside a pair
    assert (grid[3:11, 19:22] == 255).all() and (grid[14:22, 22:] == 255).all()  # gap; empty slot


def test_preview_grid_layout():
    from benchmark.cli.datasets import preview_grid

    pairs = [(np.full((6, 6, 3), 10 * i, np.uint8), np.full((6, 6, 3), 200, np.uint8)) for i in range(5)]
    grid = preview_grid(pairs, per_row=2, tile=8, gap=2)
    assert grid.shape == (2 + 3 * (8 + 2), 2 + 2 * (2 * 8 + 2), 3)
    assert (grid[12:20, 20:28] == 30).all()  # pair 3 is the second of row 2


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed (apt-get install chromium)")
def test_html_has_no_page_overflow_at_phone_width_in_a_browser(tmp_path):
    import sys
    from pathlib import Path

    script = Path(__file__).parent.parent / "benchmarks" / "html_check.py"
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"390 px: viewport 390 px, page scrollWidth 390 px", done.stdout), done.stdout
    assert (tmp_path / "leaderboard-390.png").is_file()
