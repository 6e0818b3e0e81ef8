"""Every command block of the README and of docs/ marked runnable runs as written.

A fenced ``bash`` block right after a ``<!-- runnable -->`` line is run with ``bash -e`` in a
fresh folder per file (the blocks of one file in order, so a later block may use what an earlier
one made), with the installed `bench` first on PATH and no network. Blocks without the marker
are documentation only (a GPU cluster, a download, minutes of training). A failing block fails
with its command and output.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MARKER = "<!-- runnable -->"
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"^" + re.escape(MARKER) + r"\s*\n```(?:bash|sh|console)?\n(.*?)^```", re.M | re.S)


def runnable_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


def test_every_marker_is_followed_by_a_block():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert text.count(MARKER) == len(runnable_blocks(page)), f"{page}: a {MARKER} line not before a ```bash block"


def test_the_readme_and_docs_have_runnable_blocks():
    assert runnable_blocks(REPO / "README.md"), "the README marks no block runnable"
    assert sum(len(runnable_blocks(p)) for p in PAGES) >= 4


@pytest.mark.parametrize("page", [p for p in PAGES if runnable_blocks(p)], ids=lambda p: p.name)
def test_runnable_blocks_run(page, tmp_path):
    env = {**os.environ, "BENCH_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for number, block in enumerate(runnable_blocks(page), start=1):
        done = subprocess.run(["bash", "-e", "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=900)
        assert done.returncode == 0, (f"{page.name} block {number} failed (exit {done.returncode}):\n{block}\n"
                                      f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}")
