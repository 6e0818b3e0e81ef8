"""Helpers for testing a bench plugin, with pytest or any other runner.

- :data:`TINY_DATA` / :data:`TINY_TABLES`: a synthetic-facades variant that generates in a
  fraction of a second (as ``--set`` flags, or as the tables of an in-process run).
- :func:`run_cli`: ``bench ARGS`` in a fresh process, as a user would run it.
- :func:`one_error_line`: assert a command failed with one clear ``error: `` line and no traceback.
- :func:`untrained_and_trained` and :func:`assert_learned`: a model clearly beats its untrained self.
- :func:`build`: a plugin manager from given plugin modules (with or without the installed ones).

Nothing here imports a plugin or a test runner at import time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmark.registry.plugins import build  # noqa: F401  (a plugin manager with extra plugins, for tests)

#: the tiny synthetic-facades variant, as plugin tables ({dataset: {option: value}})
TINY_TABLES: dict[str, dict[str, Any]] = {"synthetic-facades": {"train_size": 24, "test_size": 8, "size": 64}}

#: the same variant as ``bench`` flags: ``run_cli("run", "--profile", "smoke", *TINY_DATA, ...)``
TINY_DATA: list[str] = [arg for name, table in TINY_TABLES.items() for key, value in table.items()
                        for arg in ("--set", f"{name}.{key}={value}")]


def run_cli(*args: Any, env: Mapping[str, str] | None = None, timeout: float = 600,
            cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    """Run ``bench ARGS`` in a fresh Python process (``sys.executable -m benchmark.cli``).

    Returns the completed process with text ``stdout`` and ``stderr``. One CPU thread by
    default (``OMP_NUM_THREADS=1``); ``env`` adds to or overrides the current environment.
    """
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "benchmark.cli", *map(str, args)], check=False,
                          capture_output=True, text=True, env=full_env, timeout=timeout, cwd=cwd)


def one_error_line(result: subprocess.CompletedProcess | int, stderr: str | None = None, *,
                   exit_code: int | None = None, progress_prefix: str | None = None) -> str:
    """Assert that a command failed with one clear line and no traceback; return that line.

    ``result`` is a :func:`run_cli` result, or an exit code with ``stderr`` beside it (for
    ``benchmark.cli.app.main`` called in-process). ``exit_code``: the exact code expected (any
    non-zero one by default). ``progress_prefix``: lines starting with it may come before the
    error line (progress of a long import); by default the error line must be the only one.
    """
    if isinstance(result, int):
        code, err, out = result, stderr or "", ""
    else:
        code, out = result.returncode, result.stdout or ""
        err = (result.stderr if stderr is None else stderr) or ""
    context = f"{out}\n{err}".strip()
    if exit_code is None:
        assert code != 0, f"the command succeeded, expected an error:\n{context}"
    else:
        assert code == exit_code, f"exit code {code}, expected {exit_code}:\n{context}"
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines, "the command failed without saying why (nothing on stderr)"
    before = lines[:-1]
    if progress_prefix is not None:
        assert all(ln.startswith(progress_prefix) for ln in before), err
    else:
        assert not before, f"expected one error line, got {len(lines)}:\n{err}"
    assert lines[-1].startswith("error: "), lines[-1]
    return lines[-1]


def untrained_and_trained(settings: Mapping[str, Any], out: Path, tables: Mapping[str, dict] | None = None,
                          plugins=None):
    """The metrics of a model before training, and the record of its trained run.

    ``settings`` are run keys as ``bench run`` flags set them (exactly one row in ``models``;
    ``profile``, ``steps``, ``data_root``, ``output_root``, ``eval``, ...), ``tables`` the
    plugin tables as ``--set NAME.KEY=VALUE`` sets them (e.g. :data:`TINY_TABLES`), ``plugins``
    a registry from :func:`benchmark.registry.plugins.build` (default: the installed plugins).
    The untrained model is built with the run's seed and evaluated on the same test split
    into ``out / "untrained"``; then the run trains and evaluates as ``bench run`` does.
    Returns ``(before, trained)``: ``{column: MetricValue}`` and a ``RunRecord``.
    """
    from benchmark.pipeline.execute import Execution
    from benchmark.run.config import Layers
    from benchmark.rundir.layout import RunDir
    from benchmark.util.progress import Reporter

    layers = Layers.from_sources({}, dict(tables or {}), dict(settings))
    bench = Execution.from_layers(layers, Reporter(quiet=True), plugins)
    assert len(bench.plan.rows) == 1, f"one model row, got {[row.label for row in bench.plan.rows]}"
    (row,) = bench.plan.rows
    data = bench.load_dataset()
    untrained = bench.build(row)
    before = bench.evaluate_model(untrained, row, data, RunDir(Path(out) / "untrained"))
    (trained,) = bench.run()
    return before, trained


def assert_learned(before: Mapping[str, Any], after: Mapping[str, Any], margins: Mapping[str, float]) -> None:
    """Assert each metric column moved the right way by more than its margin.

    ``before``/``after`` map columns to ``MetricValue`` (``value``, ``direction``);
    ``margins`` maps the columns to check to the least improvement, in the column's units:
    ``assert_learned(before, trained.metrics, {"PSNR": 2.0, "SSIM": 0.25})``.
    """
    for column, margin in margins.items():
        assert column in before and column in after, f"{column!r} missing: {sorted(before)} / {sorted(after)}"
        old, new = before[column], after[column]
        assert old.value is not None and new.value is not None, (column, old, new)
        if new.direction == "down":
            assert new.value < old.value - margin, f"{column}: {old.value} -> {new.value}, want -{margin}"
        else:
            assert new.value > old.value + margin, f"{column}: {old.value} -> {new.value}, want +{margin}"
