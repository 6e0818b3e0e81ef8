"""The Python API: the example of docs/plugins.md (linked from the README) runs as written, and the functions return typed records
and refuse bad options with the CLI's messages."""

from __future__ import annotations

import re

import pytest

import benchmark
from benchmark.util.errors import BenchError, ConfigError
from benchmark.results.records import RunRecord
from benchmark.testing import TINY_TABLES
from tests.conftest import REPO


def readme_example() -> str:
    text = (REPO / "docs" / "plugins.md").read_text()
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the Python API section has one python code block"
    return blocks[0]


def test_the_readme_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # its datasets/ and results/ go here
    exec(compile(readme_example(), "docs/plugins.md (Python API)", "exec"), {"__name__": "readme"})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("pix2pix ok ")
    assert float(lines[0].split()[-1]) > 5  # a PSNR in dB
    assert (tmp_path / "results" / "synthetic-facades" / "leaderboard.md").is_file()
    table = benchmark.leaderboard("synthetic-facades", output_root=tmp_path / "results")
    (board,) = table.tables
    assert [r.label for r in board.records] == ["pix2pix", "pix2pix images"]
    assert all(isinstance(r, RunRecord) for r in board.records)


def test_bad_options_are_the_clis_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown option 'stepz'"):
        benchmark.run(models=["pix2pix"], dataset="synthetic-facades", stepz=2)
    with pytest.raises(ConfigError, match="invalid value for 'profile'"):
        benchmark.run(models=["pix2pix"], dataset="synthetic-facades", profile="fast", tables=TINY_TABLES)
    with pytest.raises(ConfigError, match="either --dataset with --images, or --real with --fake"):
        benchmark.score(tmp_path, dataset="synthetic-facades", real=tmp_path, fake=tmp_path)
    with pytest.raises(BenchError, match="no results yet"):
        benchmark.leaderboard("synthetic-facades", output_root=tmp_path / "nothing")
