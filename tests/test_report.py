"""Leaderboards built from hand-made records: ranking, protocol groups, formats, HTML."""

from __future__ import annotations

import base64
import csv
import io
import json
import re

import pytest
from PIL import Image
from rich.console import Console

from benchmark import report
from benchmark.util.errors import BenchError
from benchmark.results.records import MetricValue, RunRecord

RUN_PROTOCOL = {"images": 106, "resolution": 64, "real_split": "test"}
PSNR_PROTOCOL = {"images": 106, "resolution": 64}
FID_PROTOCOL = {"images": 106, "features": "inception pool3"}
SPLIT = "rows measured under different protocols are shown in separate tables and not ranked against each other"


@pytest.fixture(autouse=True)
def no_headline_columns(monkeypatch):
    """These hand-made records test ranking and formats: every column shown, as for a dataset that
    declares no headline columns (tests/test_paper_tables.py tests the headline view)."""
    from benchmark.report import headline

    monkeypatch.setattr(report, "dataset_headlines", lambda names: {})
    monkeypatch.setattr(headline, "dataset_headlines", lambda names: {})


def record(label: str, psnr: float | None, fid: float | None, *, run_id: int, created: str = "",
           status: str = "ok", protocol: dict | None = None, psnr_protocol: dict | None = None,
           note: str = "", run_dir: str = "/does/not/exist", dataset: str = "facades") -> RunRecord:
    metrics = {
        "PSNR": MetricValue(psnr, "up", psnr_protocol or PSNR_PROTOCOL,
                            "" if psnr is not None else "PSNR crashed"),
        "FID": MetricValue(fid, "down", FID_PROTOCOL, "" if fid is not None else "needs 2048 images"),
    }
    return RunRecord(
        label=label, model="pix2pix", preset="default", dataset=dataset, profile="smoke", seed=0,
        options={}, config={}, protocol=protocol or RUN_PROTOCOL, versions={}, device="cpu",
        wall_time_s=1.0, status=status, reason=None if status == "ok" else "loss became NaN",
        run_dir=str(run_dir), note=note, metrics=metrics,
        created=created or f"2024-01-01T00:00:{run_id:02d}+00:00", id=run_id,
    )


@pytest.fixture
def three():
    # PSNR (up): b is best.  FID (down): c is best.
    return [
        record("a", 20.0, 40.0, run_id=1),
        record("b", 25.0, 60.0, run_id=2),
        record("c", 22.0, 30.0, run_id=3),
    ]


def md_rows(text: str) -> dict[str, list[str]]:
    """Markdown table rows by their first cell (the model column)."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|--"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells
    return rows


def json_rows(text: str) -> dict[str, dict]:
    """JSON rows by label."""
    data = json.loads(text)
    return {row["label"]: row for table in data["tables"] for row in table["rows"]}


def test_format_value_rule():
    assert report.format_value(27.12345) == "27.12"
    assert report.format_value(-12.5) == "-12.50"
    assert report.format_value(0.812345) == "0.8123"
    assert report.format_value(9.99999) == "10.0000"  # |v| < 10 before rounding: four decimals
    assert report.format_value(None) == "—"


def test_md_marks_best_for_up_and_down(three):
    rows = md_rows(report.render(three, "md"))
    assert rows["Model"] == ["Model", "Input", "PSNR ↑", "FID ↓", "Profile", "Seed", "Run"]
    assert rows["a"] == ["a", "label-map", "20.00", "40.00", "smoke", "0", "1"]
    assert rows["b"] == ["b", "label-map", "**25.00**", "60.00", "smoke", "0", "2"]
    assert rows["c"] == ["c", "label-map", "22.00", "**30.00**", "smoke", "0", "3"]


def test_ties_are_all_marked():
    rows = md_rows(report.render([record("a", 20.0, 5.0, run_id=1), record("b", 22.0, 6.0, run_id=2),
                                  record("c", 22.0, 7.0, run_id=3)], "md"))
    assert rows["b"][2] == rows["c"][2] == "**22.00**" and rows["a"][2] == "20.00"
    assert rows["a"][3] == "**5.0000**" and rows["b"][3] == "6.0000"


def test_a_column_where_every_row_reads_the_same_is_flagged_not_crowned():
    text = report.render([record("a", 20.0, 5.0, run_id=1), record("b", 20.0, 6.0, run_id=2)], "md")
    rows = md_rows(text)
    assert rows["a"][2] == rows["b"][2] == "20.00"  # nothing bold
    assert rows["a"][3] == "**5.0000**"
    assert "PSNR cannot separate these rows (every row reads 20.00): not ranked" in text
    data = json.loads(report.render([record("a", 20.0, 5.0, run_id=1), record("b", 20.0, 6.0, run_id=2)], "json"))
    assert data["tables"][0]["not_separating"] == {"PSNR": "20.00"}
    assert [r["best"] for r in data["tables"][0]["rows"]] == [["FID"], []]


def test_json_carries_best_flags_and_raw_values(three):
    data = json.loads(report.render(three, "json"))
    assert len(data["tables"]) == 1
    table = data["tables"][0]
    assert [(m["name"], m["direction"], m["header"]) for m in table["metrics"]] == [
        ("PSNR", "up", "PSNR ↑"), ("FID", "down", "FID ↓")]
    assert table["protocol"] == {"run": RUN_PROTOCOL, "metrics": {"PSNR": PSNR_PROTOCOL, "FID": FID_PROTOCOL}}
    rows = json_rows(report.render(three, "json"))
    assert rows["a"]["best"] == [] and rows["b"]["best"] == ["PSNR"] and rows["c"]["best"] == ["FID"]
    assert rows["b"]["values"]["PSNR"] == 25.0 and rows["c"]["run"] == 3
    assert data["failed"] == [] and data["note"] == ""


def test_csv_carries_best_flags(three):
    rows = {r["label"]: r for r in csv.DictReader(io.StringIO(report.render(three, "csv")))}
    assert {k: rows[k]["PSNR best"] for k in "abc"} == {"a": "false", "b": "true", "c": "false"}
    assert {k: rows[k]["FID best"] for k in "abc"} == {"a": "false", "b": "false", "c": "true"}
    assert float(rows["b"]["PSNR"]) == 25.0
    assert rows["a"]["run"] == "1" and rows["a"]["profile"] == "smoke" and rows["a"]["table"] == "1"


def test_tex_bold_arrows_and_escaping(three):
    three[0].label = "a_1"
    tex = report.render(three, "tex")
    assert "\\toprule" in tex and "\\bottomrule" in tex
    assert "PSNR $\\uparrow$" in tex and "FID $\\downarrow$" in tex
    lines = {line.split("&")[0].strip(): line for line in tex.splitlines() if "&" in line}
    assert "\\textbf{25} & \\textbf{.00}" in lines["b"] and "\\textbf" not in lines["a\\_1"]
    assert "\\textbf{30} & \\textbf{.00}" in lines["c"]
    assert "Protocol: 106 test images of facades at 64x64 px." in tex


def test_only_latest_ok_run_per_label_is_shown():
    records = [
        record("a", 30.0, 10.0, run_id=1, created="2024-01-01T00:00:00+00:00"),
        record("a", 21.0, 50.0, run_id=2, created="2024-01-02T00:00:00+00:00"),
        record("b", 20.0, 60.0, run_id=3, created="2024-01-01T12:00:00+00:00"),
    ]
    rows = md_rows(report.render(records, "md"))
    assert set(rows) == {"Model", "a", "b"}
    assert rows["a"][2] == "**21.00**" and rows["a"][6] == "2"


def test_different_run_protocols_give_separate_tables():
    records = [
        record("a", 20.0, 40.0, run_id=1),
        record("b", 25.0, 60.0, run_id=2),
        record("c", 22.0, 30.0, run_id=3, protocol={**RUN_PROTOCOL, "images": 50}),
    ]
    data = json.loads(report.render(records, "json"))
    assert data["note"] == SPLIT
    assert [[row["label"] for row in t["rows"]] for t in data["tables"]] == [["a", "b"], ["c"]]
    assert data["tables"][1]["protocol"]["run"]["images"] == 50
    rows = json_rows(report.render(records, "json"))
    # c has the best FID overall, but a is only ranked against b.
    assert rows["a"]["best"] == ["FID"] and rows["b"]["best"] == ["PSNR"]
    assert rows["c"]["best"] == ["PSNR", "FID"]
    md = report.render(records, "md")
    assert SPLIT in md and "images=50" in md and md.count("| Model") == 2
    assert SPLIT in report.render(records, "html")


def test_different_metric_protocols_give_separate_tables():
    records = [
        record("a", 20.0, 40.0, run_id=1),
        record("b", 25.0, 60.0, run_id=2, psnr_protocol={"images": 106, "resolution": 256}),
    ]
    data = json.loads(report.render(records, "json"))
    assert len(data["tables"]) == 2 and data["note"] == SPLIT
    assert "resolution=256" in data["tables"][1]["protocol_text"]


def test_columns_of_one_metric_state_their_protocol_once():
    seg = {"metric": "miou", "segmenter": "trained U-Net"}
    rec = record("a", 20.0, 40.0, run_id=1)
    rec.metrics["mIoU"] = MetricValue(0.5, "up", seg)
    rec.metrics["pixel acc"] = MetricValue(0.8, "up", seg)
    text = json.loads(report.render([rec], "json"))["tables"][0]["protocol_text"]
    assert text.count("segmenter=trained U-Net") == 1
    assert "mIoU, pixel acc: metric=miou, segmenter=trained U-Net" in text
    assert "PSNR: images=106, resolution=64" not in text  # the run protocol is not repeated


def test_one_protocol_means_one_table_and_no_note(three):
    md = report.render(three, "md")
    assert SPLIT not in md and md.count("| Model") == 1
    assert "images=106, resolution=64, real_split=test" in md
    assert "features=inception pool3" in md


def test_missing_value_shows_dash_and_note():
    records = [record("a", 20.0, None, run_id=1), record("b", 25.0, 60.0, run_id=2, note="no VGG loss")]
    md = report.render(records, "md")
    rows = md_rows(md)
    assert rows["a"][3] == "— [1]" and rows["b (no VGG loss)"][3] == "**60.00**"
    assert "[1] needs 2048 images" in md
    html = report.render(records, "html")
    assert "—<sup>1</sup>" in html and "<li>needs 2048 images</li>" in html
    row = json_rows(report.render(records, "json"))["a"]
    assert row["values"]["FID"] is None and row["notes"] == {"FID": "needs 2048 images"}
    csv_rows = {r["label"]: r for r in csv.DictReader(io.StringIO(report.render(records, "csv")))}
    assert csv_rows["a"]["FID"] == "" and "needs 2048 images" in csv_rows["a"]["notes"]
    assert "---" in report.render(records, "tex")


def test_failed_runs_listed_and_not_ranked():
    records = [
        record("a", 20.0, 40.0, run_id=1),
        record("d", 99.0, 1.0, run_id=2, status="failed"),
        record("e", 99.0, 1.0, run_id=3, status="failed", created="2023-01-01T00:00:00+00:00"),
        record("e", 21.0, 41.0, run_id=4),  # e succeeded after failing: not listed as failed
    ]
    md = report.render(records, "md")
    assert "failed: d — loss became NaN" in md
    assert "failed: e" not in md
    assert set(md_rows(md)) == {"Model", "a", "e"}
    assert "failed: d — loss became NaN" in report.render(records, "html")
    data = json.loads(report.render(records, "json"))
    assert [f["label"] for f in data["failed"]] == ["d"]
    assert json_rows(report.render(records, "json"))["e"]["best"] == ["PSNR"]


def test_unknown_format():
    with pytest.raises(BenchError, match="md, csv, json, tex, html"):
        report.render([], "xlsx")


def _png(path, colour, mode="RGB", size=(8, 8)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)


def make_run_dirs(tmp_path, colours: dict[str, tuple], stems: list[str]):
    dirs = {}
    for label, colour in colours.items():
        run = tmp_path / label
        for stem in stems:
            _png(run / "images" / "fake" / f"{stem}.png", colour)
            _png(run / "images" / "real" / f"{stem}.png", (255, 255, 255))
            _png(run / "images" / "label" / f"{stem}.png", 1, mode="L")
        dirs[label] = run
    return dirs


def embedded_images(html: str) -> list[Image.Image]:
    found = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    return [Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB") for data in found]


def assert_self_contained(html: str):
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.IGNORECASE)
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower()


def test_html_is_self_contained_with_grid_and_loss_curves(tmp_path):
    stems = [f"{i:03d}" for i in range(8)]
    dirs = make_run_dirs(tmp_path, {"a": (255, 0, 0), "b": (0, 0, 255)}, stems)
    _png(dirs["b"] / "images" / "fake" / "999.png", (0, 255, 0))  # only in b: never shown
    _png(dirs["a"] / "loss_curve.png", (10, 20, 30), size=(40, 30))
    records = [record("a", 20.0, 40.0, run_id=1, run_dir=dirs["a"]),
               record("b", 25.0, 60.0, run_id=2, run_dir=dirs["b"])]

    html = report.render(records, "html", title="Facades <smoke>")

    assert_self_contained(html)
    assert "data:image/png;base64," in html
    assert "<title>Facades &lt;smoke&gt;</title>" in html
    grid, curve = embedded_images(html)
    tile, gap, header = report.GRID_TILE, 2, 16
    assert grid.size == (4 * (tile + gap) + gap, header + 6 * (tile + gap) + gap)  # 6 rows of 8
    centre = lambda col, row: (gap + col * (tile + gap) + tile // 2,
                               header + gap + row * (tile + gap) + tile // 2)
    assert grid.getpixel(centre(1, 0)) == (255, 255, 255)  # real
    assert grid.getpixel(centre(2, 5)) == (255, 0, 0)  # a's fake
    assert grid.getpixel(centre(3, 5)) == (0, 0, 255)  # b's fake
    label_pixel = grid.getpixel(centre(0, 0))
    assert label_pixel != (1, 1, 1) and max(label_pixel) > 100  # class ids are false-coloured
    assert curve.size == (40, 30) and curve.getpixel((0, 0)) == (10, 20, 30)
    assert "columns label, real, a, b" in html


def test_html_without_images_skips_grid_with_note(three):
    html = report.render(three, "html")
    assert_self_contained(html)
    assert "sample grid skipped" in html and "/does/not/exist/images/label" in html
    assert "No loss curves" in html
    assert "<strong>25.00</strong>" in html and "<strong>30.00</strong>" in html


def test_sample_grid_needs_common_stems(tmp_path):
    dirs = make_run_dirs(tmp_path, {"a": (255, 0, 0)}, ["001"])
    make_run_dirs(tmp_path, {"b": (0, 0, 255)}, ["002"])
    records = [record("a", 1.0, 1.0, run_id=1, run_dir=dirs["a"]),
               record("b", 1.0, 1.0, run_id=2, run_dir=tmp_path / "b")]
    png, note = report.sample_grid(records)
    assert png is None and "no test image is present in every run" in note


def test_write_leaderboards(tmp_path, three, monkeypatch):
    from benchmark.report import data

    monkeypatch.setattr(data, "generated_now", lambda: "2026-01-01T00:00:00+00:00")  # written and rendered apart
    out = tmp_path / "published"
    paths = report.write_leaderboards(three, out, formats=("md", "csv", "json", "tex", "html"))
    assert [p.name for p in paths] == [f"leaderboard.{e}" for e in ("md", "csv", "json", "tex", "html")]
    for path, fmt in zip(paths, ("md", "csv", "json", "tex")):
        assert path.read_text(encoding="utf-8") == report.render(three, fmt)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths)  # no temp files left


def test_write_leaderboards_rejects_unknown_format_before_writing(tmp_path, three):
    with pytest.raises(BenchError, match="'pdf'"):
        report.write_leaderboards(three, tmp_path / "out", formats=("md", "pdf"))
    assert not (tmp_path / "out" / "leaderboard.md").exists()


def test_print_console(three):
    console = Console(record=True, width=200, color_system=None)
    failed = record("d", 1.0, 1.0, run_id=9, status="failed")
    report.print_console(three + [failed], console, title="Facades")
    text = console.export_text()
    assert "PSNR ↑" in text and "FID ↓" in text and "25.00" in text
    assert "failed: d — loss became NaN" in text
    assert "Protocol: dataset facades" in text


def test_print_console_does_not_parse_markup_in_labels():
    console = Console(record=True, width=200, color_system=None)
    report.print_console([record("[bold]x", 1.0, None, run_id=1)], console)
    text = console.export_text()
    assert "[bold]x" in text and "needs 2048 images" in text


def test_report_of_a_store_without_finished_runs_is_one_line(tmp_path):
    from benchmark.util.names import closest_first
    from benchmark.results.store import ResultsStore
    from benchmark.testing import call_cli, one_error_line

    assert closest_first("x", []) == []
    ResultsStore(tmp_path / "bench.sqlite")  # created by a run that has not finished a row yet
    line = one_error_line(call_cli("report", "--dataset", "synthetic-facades", "--output-root", tmp_path))
    assert str(tmp_path / "bench.sqlite") in line and "no finished runs yet" in line, line
