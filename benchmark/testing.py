"""Helpers for testing a bench plugin, with pytest or any other runner.

- :data:`TINY_DATA` / :data:`TINY_TABLES`: a synthetic-facades variant that generates in a
  fraction of a second (as ``--set`` flags, or as the tables of an in-process run).
- :func:`run_cli`: ``bench ARGS`` in a fresh process, as a user would run it.
- :func:`call_cli`: the same command and result in this process (no interpreter or torch start-up:
  use it unless the test is about the process: signals, exit of a real process, data-parallel
  workers, plugins installed during the test).
- :func:`one_error_line`: assert a command failed with one clear ``error: `` line and no traceback.
- :func:`untrained_and_trained` and :func:`assert_learned`: a model clearly beats its untrained self.
- :func:`build`: a plugin manager from given plugin modules (with or without the installed ones).

Nothing here imports a plugin or a test runner at import time.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import signal
import subprocess
import sys
import traceback
import warnings
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


def call_cli(*args: Any, env: Mapping[str, str] | None = None,
             cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    """Run ``bench ARGS`` in this process, with :func:`run_cli`'s arguments and result.

    The command's stdout and stderr are captured, an uncaught exception becomes exit code 1 with
    its traceback on stderr and ``SystemExit`` its code, as in a fresh process. ``env`` and
    ``cwd`` apply for the call only; the process's SIGTERM handler, torch thread count, random
    generators and warning filters are put back afterwards. The installed plugins are loaded once
    per process, so a plugin installed during the test is only seen by :func:`run_cli`.
    """
    import numpy as np
    import torch

    from benchmark.cli import main

    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    saved_env = {key: os.environ.get(key) for key in (env or {})}
    saved_cwd = os.getcwd()
    saved_sigterm = signal.getsignal(signal.SIGTERM)
    saved_threads = torch.get_num_threads()
    saved_rng = random.getstate(), np.random.get_state(), torch.get_rng_state()
    os.environ.update(env or {})
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.resetwarnings()  # a fresh interpreter's filters: shown once per place, deprecations hidden
            warnings.simplefilter("default")
            for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
                warnings.simplefilter("ignore", category)
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                if not isinstance(exc.code, (int, type(None))):
                    print(exc.code, file=sys.stderr)
            except Exception:  # noqa: BLE001 (a fresh process would print it and exit 1)
                traceback.print_exc()
                code = 1
    finally:
        os.chdir(saved_cwd)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if saved_sigterm is not None:
            signal.signal(signal.SIGTERM, saved_sigterm)
        torch.set_num_threads(saved_threads)
        random.setstate(saved_rng[0])
        np.random.set_state(saved_rng[1])
        torch.set_rng_state(saved_rng[2])
    return subprocess.CompletedProcess(["bench", *argv], code, out.getvalue(), err.getvalue())


def one_error_line(result: subprocess.CompletedProcess | int, stderr: str | None = None, *,
                   exit_code: int | None = None, progress_prefix: str | None = None) -> str:
    """Assert that a command failed with one clear line and no traceback; return that line.

    ``result`` is a :func:`run_cli` or :func:`call_cli` result, or an exit code with ``stderr`` beside it (for
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
    from benchmark.planning.config import Layers
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
