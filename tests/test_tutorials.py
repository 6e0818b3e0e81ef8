"""The tutorials' code is the examples' real code.

In an example's README, a fenced block right after a ``<!-- file: PATH -->`` line is an
excerpt of that file (PATH relative to the example's folder) and must appear in it verbatim.
In the model tutorial every Python block must be such an excerpt.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MODEL_TUTORIAL = EXAMPLES / "bench-example-model" / "README.md"
BLOCK = re.compile(r"^(?:<!-- file: (?P<path>\S+) -->\n)?```(?P<lang>[\w+-]*)\n(?P<code>.*?)^```$", re.M | re.S)


def blocks(readme: str) -> list[tuple[str | None, str, str]]:
    """(file or None, language, code) of each fenced block, in order."""
    return [(m["path"], m["lang"], m["code"]) for m in BLOCK.finditer(readme)]


def stale_excerpts(readme: str, folder: Path) -> list[str]:
    """What is wrong with the README's file excerpts: a missing file, or code not in it verbatim."""
    problems = []
    for path, _, code in blocks(readme):
        if path is None:
            continue
        source = folder / path
        if not source.is_file():
            problems.append(f"{path}: no such file in {folder.name}")
        elif code not in source.read_text():
            problems.append(f"{path}: this block is not in the file verbatim:\n{code}")
    return problems


def test_the_block_parser_pairs_markers_with_their_blocks():
    text = ("intro\n<!-- file: a.py -->\n```python\nx = 1\n```\n\n```bash\nls\n```\n"
            "<!-- file: b.toml -->\n```toml\n[a]\n```\n")
    assert blocks(text) == [("a.py", "python", "x = 1\n"), (None, "bash", "ls\n"), ("b.toml", "toml", "[a]\n")]


def test_an_edited_excerpt_is_caught(tmp_path):
    (tmp_path / "m.py").write_text("def f():\n    return 1\n")
    good = "<!-- file: m.py -->\n```python\ndef f():\n    return 1\n```\n"
    assert stale_excerpts(good, tmp_path) == []
    assert len(stale_excerpts(good.replace("return 1", "return 2"), tmp_path)) == 1
    assert len(stale_excerpts(good.replace("m.py", "n.py"), tmp_path)) == 1


@pytest.mark.parametrize("readme", sorted(EXAMPLES.glob("*/README.md")), ids=lambda p: p.parent.name)
def test_every_file_excerpt_is_in_its_file(readme):
    assert stale_excerpts(readme.read_text(), readme.parent) == []


def test_every_python_block_of_the_model_tutorial_is_a_file_excerpt():
    found = blocks(MODEL_TUTORIAL.read_text())
    python = [(path, code) for path, lang, code in found if lang == "python"]
    assert len(python) >= 6, found
    unmarked = [code for path, code in python if path is None]
    assert not unmarked, "python blocks without a <!-- file: PATH --> line:\n" + "\n".join(unmarked)
    # the tutorial shows each module of the package
    shown = {path for path, _ in python}
    package = MODEL_TUTORIAL.parent / "bench_example_model"
    modules = {f"bench_example_model/{p.name}" for p in package.glob("*.py") if p.name != "__init__.py"}
    assert modules <= shown, modules - shown
