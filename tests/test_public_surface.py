"""Plugins use the public surface only: ``benchmark``, ``benchmark.api`` and ``benchmark.testing``.

The built-in plugins and the example packages are written as a third party would write them, so an
author who copies one never learns to depend on the core's internals (which may move)."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import benchmark

REPO = Path(__file__).resolve().parents[1]
PUBLIC = {"benchmark", "benchmark.api", "benchmark.testing"}
CODE_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _sources():
    for root in ("plugins", "examples"):
        for path in sorted((REPO / root).rglob("*")):
            if "build" in path.parts or not path.is_file():
                continue
            if path.suffix == ".py":
                yield path, path.read_text()
            elif path.suffix == ".md":
                for block in CODE_BLOCK.findall(path.read_text()):
                    yield path, block


def deep_imports(sources) -> list[str]:
    """Each import of a core module outside the public surface, and each public name that
    ``benchmark`` does not export."""
    bad = []
    for path, text in sources:
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue  # a shell or partial snippet in a README
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "benchmark":
                if node.module not in PUBLIC:
                    bad.append(f"{path.relative_to(REPO) if path.is_absolute() else path}: from {node.module}")
                else:
                    module = importlib.import_module(node.module)
                    bad += [f"{path}: {node.module} has no {a.name}" for a in node.names
                            if not hasattr(module, a.name)]
            elif isinstance(node, ast.Import):
                bad += [f"{path}: import {a.name}" for a in node.names
                        if a.name.split(".")[0] == "benchmark" and a.name not in PUBLIC]
    return bad


def test_plugins_and_examples_import_only_the_public_surface():
    assert deep_imports(_sources()) == []


def test_a_deep_import_is_caught():
    planted = [(Path("plugins/x.py"), "from benchmark.util.atomic import atomic_write\nimport benchmark.planning.plan\n"
                                      "from benchmark import no_such_name\n")]
    assert len(deep_imports(planted)) == 3


@pytest.mark.parametrize("name", benchmark.__all__)
def test_every_public_name_resolves(name):
    assert getattr(benchmark, name) is not None
