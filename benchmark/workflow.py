"""The Python API: ``benchmark.run``, ``benchmark.score`` and ``benchmark.leaderboard``.

They do what ``bench run``, ``bench score`` and ``bench report`` do and return the
typed records those commands print: a list of :class:`benchmark.results.records.RunRecord`,
a ``RunRecord`` (or a :class:`benchmark.scoring.folders.FolderScore` for two folders),
and the :class:`benchmark.report.leaderboard.Leaderboard` table model. Options are
the CLI's: run keys as keyword arguments (``steps=2``, ``seed=3``, ``image_size=64``,
``output_root="out"``, ``eval={"max_images": 8}``), plugin tables as keyword
arguments holding a dict (``pix2pix={"lambda_l1": 50}``) or in ``tables``
(``{"synthetic-facades": {"test_size": 8}}``), a TOML file as ``config``; they combine
as on the command line and are validated the same way (a bad one raises
:class:`benchmark.util.errors.ConfigError` with the CLI's message).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.util.errors import BenchError, ConfigError


def _layers(config: str | Path | None, tables: dict | None, keys: dict[str, Any]):
    from benchmark.planning.config import Layers
    from benchmark.util.settings_text import load_toml

    if "models" in keys and isinstance(keys["models"], str):
        keys["models"] = [m.strip() for m in keys["models"].split(",") if m.strip()]
    metrics = keys.pop("metrics", None)
    if metrics is not None:
        names = [m.strip() for m in metrics.split(",")] if isinstance(metrics, str) else list(metrics)
        keys["eval"] = {**keys.get("eval", {}), "metrics": names}
    file_tree = load_toml(Path(config)) if config else {}
    return Layers.from_sources(file_tree, {k: dict(v) for k, v in (tables or {}).items()},
                               {k: v for k, v in keys.items() if v is not None})


def _reporter(quiet: bool):
    from benchmark.util.progress import Reporter

    return Reporter(quiet=quiet)


def publish_files(output_root: Path, dataset: str) -> list[Path]:
    """Write ``OUTPUT_ROOT/DATASET/leaderboard.{md,csv,json}`` from the store, as `bench run` does."""
    from benchmark.report import write_leaderboards
    from benchmark.results.store import ResultsStore

    store = ResultsStore(Path(output_root) / "bench.sqlite")
    return write_leaderboards(store.latest(dataset) + store.runs(dataset, status="failed"),
                              Path(output_root) / dataset)


def run(models: list[str] | str | None = None, dataset: str | None = None, profile: str | None = None, *,
        tables: dict[str, dict] | None = None, config: str | Path | None = None, resume: bool | Path = False,
        checkpoint: str | Path | None = None, train_only: bool = False, quiet: bool = True, plugins=None,
        **keys: Any) -> list:
    """Train (or load) and evaluate each model row, store the results and write the dataset's
    leaderboard files, as `bench run`; returns one :class:`RunRecord` per row."""
    from benchmark.planning.plan import build_plan

    layers = _layers(config, tables, {"models": models, "dataset": dataset, "profile": profile, **keys})
    plan = build_plan(layers, plugins, Path(checkpoint) if checkpoint else None)
    return run_plan(plan, _reporter(quiet), resume=resume, checkpoint=checkpoint, train_only=train_only)


def run_plan(plan, reporter, *, resume: bool | Path = False, checkpoint: str | Path | None = None,
             train_only: bool = False, write_leaderboard: bool = True) -> list:
    """Carry out a built plan (what :func:`run` and `bench run` share): every row trained or loaded,
    evaluated and stored, then the leaderboard files written by the process that writes (not by
    the other workers of a data-parallel run, and not for ``train_only``)."""
    from benchmark.parallel import workers as distributed
    from benchmark.pipeline.execute import Execution

    bench = Execution(plan, reporter)
    records = bench.run(resume=resume, checkpoint=Path(checkpoint) if checkpoint else None, train_only=train_only)
    distributed.finish()  # the workers of a data-parallel run leave together
    if write_leaderboard and not train_only and not distributed.is_follower():
        publish_files(plan.config.output_root, plan.dataset.name)
    return records


def score(images: str | Path | None = None, *, dataset: str | None = None, label: str | None = None,
          real: str | Path | None = None, fake: str | Path | None = None, metrics: list[str] | str | None = None,
          profile: str | None = None, resize: bool = False, tables: dict[str, dict] | None = None,
          config: str | Path | None = None, quiet: bool = True, plugins=None, **keys: Any):
    """Score images generated outside bench.

    With ``dataset``, ``images`` (one image per test stem) and ``label``: a leaderboard row
    evaluated under the protocol of trained rows, stored, the leaderboard files written;
    returns its :class:`RunRecord`. With ``real`` and ``fake`` (and no dataset): the
    ``metrics`` of the two folders; returns a :class:`FolderScore`.
    """
    from benchmark.registry import plugins as registry

    plugins = plugins or registry.default()
    if real is not None or fake is not None:
        if dataset is not None or images is not None:
            raise ConfigError("score: pass either --dataset with --images, or --real with --fake, not both")
        if real is None or fake is None:
            raise ConfigError("score: the two-folder form needs both --real DIR and --fake DIR")
        return _score_two_folders(Path(fake), Path(real), metrics, tables, config, quiet, plugins, keys)
    if dataset is None or images is None:
        raise ConfigError("score: pass --dataset D --images DIR --label NAME (a leaderboard row), "
                          "or --real DIR --fake DIR (two folders)")
    from benchmark.scoring.images import (
        ScoreRequest,
        check_label,
        published_numbers,
        score_images,
        score_plan,
    )

    name = check_label(label, plugins)
    layers = _layers(config, tables, {"models": [name], "dataset": dataset, "profile": profile,
                                      "metrics": metrics, **keys})
    plan = score_plan(layers, plugins)
    request = ScoreRequest(Path(images), name, resize, published_numbers(name, plan.dataset.name, plugins))
    record = score_images(plan, request, _reporter(quiet))
    publish_files(plan.config.output_root, plan.dataset.name)
    return record


_FOLDER_KEYS = {"output_root", "device", "seed", "threads", "eval"}


def _score_two_folders(fake, real, metrics, tables, config, quiet, plugins, keys):
    from benchmark.planning.config import merge
    from benchmark.scoring.folders import score_folders
    from benchmark.util.settings_text import load_toml

    tree = merge(load_toml(Path(config)) if config else {}, {k: dict(v) for k, v in (tables or {}).items()})
    plugin_tables = {k: v for k, v in tree.items() if isinstance(v, dict) and k not in _FOLDER_KEYS}
    settings = {**{k: v for k, v in tree.items() if k in _FOLDER_KEYS}, **{k: v for k, v in keys.items()
                                                                            if v is not None}}
    unknown = sorted(set(settings) - _FOLDER_KEYS)
    if unknown:
        raise ConfigError(f"unknown option {unknown[0]!r} for two folders; allowed: {', '.join(sorted(_FOLDER_KEYS))}")
    eval_keys = dict(settings.pop("eval", {}) or {})
    if metrics is None:
        metrics = eval_keys.get("metrics")
    names = [m.strip() for m in metrics.split(",") if m.strip()] if isinstance(metrics, str) else list(metrics or [])
    return score_folders(fake, real, names, output_root=Path(settings.get("output_root", "results")),
                         device=str(settings.get("device", "auto")), batch_size=int(eval_keys.get("batch_size", 16)),
                         seed=int(settings.get("seed", 0)), threads=settings.get("threads"), tables=plugin_tables,
                         reporter=_reporter(quiet), plugins=plugins)


def leaderboard(dataset: str | None = None, *, output_root: str | Path = "results",
                columns: list[str] | None = None, failed: bool = False):
    """The leaderboard `bench report` prints: the latest successful run of every row of ``dataset``
    (every dataset when None), grouped by protocol, best values marked (a ``Leaderboard``)."""
    from benchmark.report import build_leaderboard

    records = report_records(dataset, output_root, failed)
    return build_leaderboard(records, title="Leaderboard", columns=columns)


def report_records(dataset: str | None, output_root: str | Path, failed: bool = False) -> list:
    """The stored records a leaderboard is built from (`bench report` and :func:`leaderboard`): the
    newest successful run of every row of ``dataset`` (every dataset when None), and the failed ones
    when ``failed``; one clear line when there is nothing to show."""
    from benchmark.results.store import ResultsStore
    from benchmark.util.names import unknown

    path = Path(output_root) / "bench.sqlite"
    if not path.exists():
        raise BenchError(f"{path}: no results yet; run `bench run` first or pass --output-root")
    store = ResultsStore(path)
    known = store.datasets()
    if not known:
        raise BenchError(f"{path}: no finished runs yet; wait for `bench run` to finish a row, "
                         f"or pass the --output-root of another run")
    if dataset is not None and dataset not in known:
        raise BenchError(unknown("dataset in the results", dataset, known))
    datasets = [dataset] if dataset else known
    return [r for ds in datasets for r in store.latest(ds) + (store.runs(ds, status="failed") if failed else [])]


class FilesMissing(BenchError):
    """What `bench zoo reproduce` needs first: ``lines``, one per file or dataset to download and import."""

    def __init__(self, name: str, lines: list[str]):
        self.lines = lines
        super().__init__(f"{name} cannot be reproduced yet: {len(lines)} thing(s) to download and import first")


def reproduce(name: str, *, metrics: list[str] | str | None = None, tables: dict[str, dict] | None = None,
              config: str | Path | None = None, quiet: bool = True, plugins=None, reporter=None,
              **keys: Any) -> list[dict]:
    """Measure the zoo entry ``name`` under each protocol its paper and the known re-measurements used
    (`bench zoo reproduce`): one run per protocol (each stored and in its run folder), then the
    published numbers beside the measured ones, written as ``reproduce-NAME.md``/``.csv``/``.json`` in
    ``OUTPUT_ROOT/DATASET``; returns those lines (:mod:`benchmark.report.side_by_side`). When a file or the dataset
    is missing nothing runs and :class:`FilesMissing` lists what to download and import."""
    from benchmark.registry import plugins as registry
    from benchmark.registry import zoo
    from benchmark.report import side_by_side
    from benchmark.planning import reproduction
    from benchmark.planning.config import Layers
    from benchmark.planning.plan import build_plan

    plugins = plugins or registry.default()
    entry = zoo.find(name, plugins)
    if not entry.measurements:
        raise ConfigError(f"{name} has no published numbers to reproduce ({entry.summary or 'its paper reports none'}); "
                          f"evaluate it with `bench run --models {name} --dataset {entry.dataset}`")
    base = _layers(config, tables, {"models": [name], "dataset": entry.dataset, "metrics": metrics, **keys})
    cfg = base.run_config()
    owner = reproduction.column_owner(plugins)
    reported = sorted({owner[c] for m in entry.measurements for c in m.values if c in owner})
    names = list(cfg.eval.metrics) if cfg.eval.metrics is not None else reported
    runs = reproduction.protocols(entry, names, plugins)
    lacking = reproduction.missing(entry, runs, plugins, cfg.data_root, base.plugins)
    if lacking:
        raise FilesMissing(name, lacking)
    results = []
    for run in runs:
        if not run.metrics:
            results.append((run, None))
            continue
        run_keys = {**base.run, "eval": {**base.run.get("eval", {}), "metrics": run.metrics}}
        plugin_tables = {k: dict(v) for k, v in base.plugins.items()}
        for key, value in run.settings.items():
            head, _, option = key.partition(".")
            if head == "eval":
                run_keys["eval"][option] = value
            else:
                plugin_tables.setdefault(head, {})[option] = value
        plan = build_plan(Layers(base.profile_name, run_keys, plugin_tables), plugins)
        # the protocols' rows share a label: each run is stored, the side-by-side table is their leaderboard
        (record,) = run_plan(plan, reporter or _reporter(quiet), write_leaderboard=False)
        results.append((run, record))
    lines = side_by_side.comparison(entry, results, owner)
    side_by_side.write(entry, lines, Path(cfg.output_root) / entry.dataset)
    return lines
