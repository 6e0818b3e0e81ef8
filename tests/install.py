"""Install an example plugin package from outside the tree into a folder of its own.

``pip install --target`` from a copy of the package (setuptools writes build/ and
*.egg-info next to the sources), no network, no build isolation: the installed
setuptools builds it. The global environment is never touched; put the folder on
``PYTHONPATH`` of the ``bench`` subprocesses that should see the plugin.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def pip_target(python: str, src: Path, target: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--quiet", "--target", str(target), str(src)],
        capture_output=True, text=True, env={**os.environ, "PIP_NO_INPUT": "1"}, timeout=300, check=False)


def install_example(name: str, tmp: Path) -> Path:
    """Install ``examples/NAME`` into ``tmp/site`` and return that folder."""
    src = tmp / "src"
    shutil.copytree(EXAMPLES / name, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp / "site"
    proc = pip_target(sys.executable, src, target)
    base = getattr(sys, "_base_executable", sys.executable)
    if proc.returncode != 0 and "invalid command 'bdist_wheel'" in proc.stdout + proc.stderr and base != sys.executable:
        # A virtualenv made by `python -m venv` carries its own old setuptools (no bdist_wheel,
        # and wheel>=0.46 no longer adds it): build with the base interpreter's setuptools. The
        # installed files are plain Python and metadata, read by this interpreter all the same.
        shutil.rmtree(target, ignore_errors=True)
        proc = pip_target(base, src, target)
    assert proc.returncode == 0, f"pip install of {name} failed:\n{proc.stdout}\n{proc.stderr}"
    return target
