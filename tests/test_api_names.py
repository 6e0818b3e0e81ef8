"""``benchmark.run`` and ``benchmark.score`` are the Python API's functions, whatever was imported before
them: no subpackage or module of the core carries the name of an exported function or class (importing a
subpackage sets it on its parent, which would hide the export of the same name)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import benchmark

CORE = Path(benchmark.__file__).parent
FIRST_IMPORTS = ["benchmark.planning.config", "benchmark.scoring.images", "benchmark.cli.app", "benchmark"]


def test_no_exported_name_is_also_a_subpackage_or_module():
    children = {p.name for p in CORE.iterdir() if (p / "__init__.py").is_file()} | {p.stem for p in CORE.glob("*.py")}
    assert {name for name in benchmark._EXPORTS if name in children} == set()


@pytest.mark.parametrize("first", FIRST_IMPORTS)
def test_the_functions_stay_after_any_import(first):
    code = (f"import importlib; importlib.import_module({first!r}); "
            "import benchmark, benchmark.planning.plan, benchmark.scoring.folders; from benchmark import run, score; "
            "print(benchmark.run is run, benchmark.score is score, run.__module__, score.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "benchmark.workflow", "benchmark.workflow"]
