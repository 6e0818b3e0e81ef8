"""The hard rule: the core (benchmark/) never imports a plugin package, not even inside a function.

The AST of every module under benchmark/ is scanned for ``import X`` and ``from X import ...``
whose top-level package is the built-ins' import name or their folder's name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "benchmark"
FORBIDDEN = {"bench_plugins", "plugins"}


def plugin_imports(source: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """(line, module) of each import of a forbidden package anywhere in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        found += [(node.lineno, m) for m in modules if m.split(".")[0] in FORBIDDEN]
    return found


@pytest.mark.parametrize("source", [
    "import bench_plugins",
    "import os, plugins.models as m",
    "from bench_plugins.models.pix2pix import Pix2Pix",
    "def f():\n    from plugins import metrics\n",
    "class A:\n    def g(self):\n        if True:\n            import bench_plugins.metrics.fid\n",
])
def test_the_scan_finds_plugin_imports_wherever_they_are(source):
    assert plugin_imports(source)


@pytest.mark.parametrize("source", [
    "import benchmark.registry.plugins", "from benchmark import registry", "from . import plugins",
    "import pluggy", "from benchmark.plugins_util import x", "x = 'import bench_plugins'",
])
def test_the_scan_leaves_other_imports_alone(source):
    assert plugin_imports(source) == []


def test_the_core_imports_no_plugin():
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 10, files
    offenders = [f"{path.relative_to(CORE.parent)}:{line}: imports {module}"
                 for path in files for line, module in plugin_imports(path.read_text(), str(path))]
    assert not offenders, "benchmark/ must not import the plugins:\n" + "\n".join(offenders)
