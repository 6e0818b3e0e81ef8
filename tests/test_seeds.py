"""Seeds: the `seeds` run key, one run per (row, seed), reuse of finished seeds, and the
leaderboard over seeds (mean ± std (n), per-seed values, ties, different n) in every format."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from rich.console import Console

from benchmark import report
from benchmark.results.aggregate import seed_groups
from benchmark.report.console import plain_text
from benchmark.report.leaderboard import build_leaderboard
from benchmark.planning.seeds import normalize_seeds, parse_seeds
from benchmark.testing import TINY_DATA, one_error_line
from tests.test_report import record, no_headline_columns  # noqa: F401 (an autouse fixture)


def test_seeds_count_and_list():
    assert parse_seeds("3") == [0, 1, 2]
    assert parse_seeds("0,4,7") == [0, 4, 7]
    assert parse_seeds("5,") == [5]
    assert normalize_seeds(2) == [0, 1] and normalize_seeds([3, 1]) == [3, 1] and normalize_seeds(None) is None
    for bad in ("0", "1,1", "a", "", "-1,2"):
        with pytest.raises(ValueError):
            parse_seeds(bad)


@pytest.mark.parametrize("value, words", [("1,1", "listed twice"), ("x", "not a count"), ("0", "1..1000")])
def test_bad_seeds_are_one_line(value, words, tmp_path, capsys):
    from benchmark.cli.app import main

    code = main(["run", "--models", "pix2pix", "--dataset", "synthetic-facades", "--seeds", value,
                 "--output-root", str(tmp_path)])
    line = one_error_line(code, capsys.readouterr().err)
    assert "'seeds'" in line and words in line


def seeded(label, seed, psnr, fid, run_id, steps=2):
    r = record(label, psnr, fid, run_id=run_id)
    r.seed, r.config = seed, {"run": {"steps": steps, "seed": seed, "output_root": f"/x/{run_id}"}}
    return r


@pytest.fixture
def runs():
    # a: seeds 0,1,2 -> PSNR 20, 22, 24 (mean 22, sample std 2); FID 40 each (std 0).
    #    An older seed-1 run (PSNR 99) is replaced by the newer one; an older seed-3 run trained
    #    with other settings (steps 5) is not mixed in.
    # b: seeds 0,1 -> PSNR 25, 27 (mean 26 = best, std sqrt 2); FID 50, 70 (mean 60, std 14.142)
    # c: one seed -> PSNR 25 (inside b's 26 ± 1.414: tied), FID 30 (best)
    return [seeded("a", 3, 1.0, 1.0, 1, steps=5), seeded("a", 1, 99.0, 40.0, 2),
            seeded("a", 0, 20.0, 40.0, 3), seeded("a", 1, 22.0, 40.0, 4), seeded("a", 2, 24.0, 40.0, 5),
            seeded("b", 0, 25.0, 50.0, 6), seeded("b", 1, 27.0, 70.0, 7), seeded("c", 0, 25.0, 30.0, 8)]


def test_seed_groups_take_the_newest_run_per_seed_of_the_newest_config(runs):
    groups = seed_groups(runs)
    assert {key[1]: [r.id for r in g] for key, g in groups.items()} == {"a": [3, 4, 5], "b": [6, 7], "c": [8]}


def test_cells_are_mean_std_n_with_best_and_ties(runs):
    board = build_leaderboard(runs).tables[0]
    cells = {r.label: dict(zip(board.metrics, board.cells(r))) for r in board.records}
    assert cells["a"]["PSNR"].text == "22.00 ± 2.00 (n=3)"
    assert cells["b"]["PSNR"].text == "26.00 ± 1.41 (n=2)" and cells["b"]["PSNR"].best
    assert cells["c"]["PSNR"].text == "25.00 (n=1)" and cells["c"]["PSNR"].tied
    assert not cells["a"]["PSNR"].tied  # [20, 24] does not reach b's [24.59, 27.41]
    assert cells["c"]["FID"].best and cells["a"]["FID"].text == "40.00 ± 0.00 (n=3)"
    assert not cells["a"]["FID"].tied  # 40 is outside c's point 30
    assert not cells["b"]["FID"].tied  # [45.86, 74.14] does not hold 30
    assert board.n_differs


def test_every_format_carries_the_spread(runs):
    data = json.loads(report.render(runs, "json"))
    table = data["tables"][0]
    rows = {row["label"]: row for row in table["rows"]}
    assert data["schema_version"] == 2 and table["n_differs"] is True and "overlaps" in table["tie_rule"]
    assert rows["a"]["values"]["PSNR"] == 22.0 and rows["a"]["std"]["PSNR"] == 2.0
    assert rows["a"]["per_seed"]["PSNR"] == [20.0, 22.0, 24.0] and rows["a"]["seeds"] == [0, 1, 2]
    assert rows["a"]["n"] == 3 and rows["a"]["runs"] == [3, 4, 5] and rows["a"]["run"] == 5
    assert math.isclose(rows["b"]["std"]["PSNR"], math.sqrt(2)) and rows["b"]["best"] == ["PSNR"]
    assert rows["c"]["tied"] == ["PSNR"] and rows["c"]["std"]["PSNR"] is None and rows["c"]["best"] == ["FID"]

    table_csv = list(csv.DictReader(io.StringIO(report.render(runs, "csv"))))
    by = {row["label"]: row for row in table_csv}
    assert by["a"]["PSNR"] == "22.0" and by["a"]["PSNR std"] == "2.0" and by["a"]["PSNR n"] == "3"
    assert by["a"]["PSNR per seed"] == "20.0;22.0;24.0" and by["a"]["seed"] == "0;1;2" and by["a"]["n"] == "3"
    assert by["c"]["PSNR tied"] == "true" and by["b"]["PSNR best"] == "true"

    md = report.render(runs, "md")
    assert " **26.00 ± 1.41 (n=2)** |" in md and " _25.00 (n=1)_ |" in md
    assert "rows differ in the number of seeds (a n=3, b n=2, c n=1)" in md
    tex = report.render(runs, "tex")
    assert "\\textbf{26} & \\textbf{.00 $\\pm$ 1.41 (n=2)}" in tex and "\\underline{25} & \\underline{.00 (n=1)}" in tex
    html = report.render(runs, "html")
    assert "<strong>26.00 ± 1.41 (n=2)</strong>" in html and '<em title="tied with the best">25.00 (n=1)</em>' in html
    text = plain_text(build_leaderboard(runs))
    assert "26.00 ± 1.41 (n=2)*" in text and "25.00 (n=1)~" in text and "~ tied with the best" in text
    console = Console(record=True, width=250, force_terminal=True)
    report.print_console(runs, console)
    shown = console.export_text()
    assert "26.00 ± 1.41 (n=2)" in shown and "underlined: tied with the best" in shown


def test_single_seed_tables_read_as_before(runs):
    single = [r for r in runs if r.id in (5, 7, 8)]
    md = report.render(single, "md")
    assert "±" not in md and "(n=" not in md and "tied" not in md
    assert "per seed" not in report.render(single, "csv")


def test_seeds_run_then_more_seeds_trains_only_the_missing_one(tmp_path, capsys):
    from benchmark.cli.app import main

    args = ["run", "--models", "pix2pix,pix2pix+kl", "--dataset", "synthetic-facades", "--profile", "smoke",
            "--steps", "2", "--metrics", "psnr,ssim", *TINY_DATA, "--data-root", str(tmp_path / "data"),
            "--output-root", str(tmp_path / "out")]
    assert main([*args, "--seeds", "2"]) == 0
    first = capsys.readouterr()
    assert "± " in first.out and "(n=2)" in first.out
    assert main([*args, "--seeds", "3"]) == 0
    second = capsys.readouterr()
    assert second.err.replace("\n", " ").count("reusing the finished run") == 4, second.err  # seeds 0, 1 of 2 rows
    assert second.err.count("train pix2pix: 2/2") == 1 and second.err.count("train pix2pix+kl: 2/2") == 1
    runs_made = sorted((tmp_path / "out" / "runs").glob("*-pix2pix*"))
    assert len(runs_made) == 6  # every (row, seed) once, none trained twice
    data = json.loads((tmp_path / "out" / "synthetic-facades" / "leaderboard.json").read_text())
    rows = {row["label"]: row for row in data["tables"][0]["rows"] if not row["reference"]}
    assert {label: (row["n"], row["seeds"]) for label, row in rows.items()} == {
        "pix2pix": (3, [0, 1, 2]), "pix2pix+kl": (3, [0, 1, 2])}
    assert all(len(row["per_seed"]["PSNR"]) == 3 and row["std"]["PSNR"] > 0 for row in rows.values())
    for row in rows.values():  # each seed's 95% bootstrap interval over the 8 test images holds its mean
        assert all(lo < v < hi for (lo, hi), v in zip(row["ci"]["SSIM"], row["per_seed"]["SSIM"]))
    for fmt, mark in (("md", "(n=3)"), ("tex", "(n=3)"), ("html", "(n=3)"), ("csv", "PSNR per seed")):
        assert main(["report", "--format", fmt, "--output-root", str(tmp_path / "out")]) == 0
        assert mark in capsys.readouterr().out, fmt
