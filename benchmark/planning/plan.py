"""The plan of a `bench run`: every setting resolved and validated before anything trains.

:func:`build_plan` turns the user's layers (defaults < profile < config file < flags) into
a :class:`RunPlan`: each model row with its options and run settings (training length
included), the dataset and its options, the metrics and their options, the segmenter
(looked up and validated once), the device and the precision. A plan is never changed
once built; each row's part is written to its run folder (``plan.json``) and
:func:`plan_from_run` builds the same plan again from it for `bench evaluate`.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from benchmark.api.context import ResolvedSegmenter
from benchmark.api import DataFacts, Metric, Options, Size
from benchmark.data.dataset import Dataset
from benchmark.registry import plugins as registry
from benchmark.registry import zoo
from benchmark.planning import foreign
from benchmark.planning.config import (
    Layers,
    Row,
    RunConfig,
    check_plugin_tables,
    merge,
    overlay_run,
    resolve_model,
    row_label,
    validate_options,
)
from benchmark.planning.device import resolve_device, resolve_precision
from benchmark.planning.during_plan import Best, choose_best, choose_metrics
from benchmark.rundir.layout import RunDir
from benchmark.util.errors import BenchError, ConfigError
from benchmark.util.names import unknown
from benchmark.util.version import __version__


def versions() -> dict[str, str]:
    out = {"bench": __version__, "torch": torch.__version__, "python": platform.python_version()}
    if torch.cuda.is_available():
        out["cuda"] = torch.version.cuda or ""
    return out


@dataclass(frozen=True)
class RunPlan:
    """One `bench run`, fully resolved. Build it with :func:`build_plan`."""

    config: RunConfig
    dataset: Dataset
    dataset_options: Options
    rows: tuple[Row, ...]
    metrics: tuple[tuple[Metric, Options], ...]
    segmenter: ResolvedSegmenter | None
    device: torch.device
    #: the autocast dtype; None: full fp32
    dtype: torch.dtype | None
    #: the loggers of ``loggers`` (benchmark.api.logger.Logger), in the order given
    loggers: tuple = ()
    #: the (metric, options) pairs measured every ``eval_every`` steps; empty without eval_every
    during: tuple = ()
    #: ``keep_best``: the column whose best step is kept, or None
    best: Best | None = None

    @property
    def precision(self) -> str:
        return str(self.dtype or "fp32")

    def image_size(self, row: Row) -> int:
        """The height a row trains and is evaluated at."""
        return self.size(row).height

    def size(self, row: Row) -> Size:
        """(height, width) a row trains and is evaluated at (see :func:`size_in`)."""
        return size_in(row.run, self.dataset)

    def model_size(self, row: Row) -> Size | int:
        """The size as the row's model receives it (see :func:`model_size`)."""
        return model_size(row, self.size(row))

    def needs_real_train(self, metrics: tuple | None = None) -> bool:
        """Only metrics that are not paired (distribution, segmentation, classifier) read the
        real training split, and only they have anything to say about the real-images row; those
        measuring the samples of each label map against each other ("samples") neither.
        ``metrics``: these (e.g. ``during``) instead of the run's."""
        return any(metric.kind not in ("paired", "samples") for metric, _ in (self.metrics if metrics is None else metrics))

    def evaluation(self) -> dict[str, Any]:
        """The metrics and segmenter with their validated options, as JSON."""
        seg = self.segmenter
        return {"metrics": {m.name: o.model_dump(mode="json") for m, o in self.metrics},
                "segmenter": None if seg is None else {"name": seg.name,
                                                       "options": seg.options.model_dump(mode="json")}}

    def row_plan(self, row: Row) -> dict[str, Any]:
        """A row's part of the plan, as written to its run folder's ``plan.json``."""
        weights = {"weights": row.foreign.to_dict()} if row.foreign is not None else {}
        return {"config_hash": row.config_hash(), "dataset": self.dataset.name, **row.to_dict(), **weights,
                "image_size": self.image_size(row), "resolution": self.size(row).text(), **self.evaluation(), "device": str(self.device),
                "precision": self.precision, "versions": versions()}

    def to_dict(self) -> dict[str, Any]:
        """The whole plan as JSON (what `bench run` will do)."""
        return {"dataset": self.dataset.name, "dataset_options": self.dataset_options.model_dump(mode="json"),
                "run": self.config.model_dump(mode="json"), "rows": [self.row_plan(r) for r in self.rows],
                **self.evaluation(), "device": str(self.device), "precision": self.precision}


def build_plan(layers: Layers, plugins: registry.Plugins | None = None, checkpoint: Path | None = None) -> RunPlan:
    """Resolve and validate everything a `bench run` will use; raise ConfigError on the first problem.
    ``checkpoint``: the file ``--checkpoint`` evaluates (one row); a checkpoint of another code base
    sets the row's options and label here (:mod:`benchmark.planning.foreign`), as a zoo row's file does."""
    plugins = plugins or registry.default()
    cfg = layers.run_config()
    published = zoo.check_rows(cfg.models, cfg.dataset, plugins)  # MODEL@TAG rows: stop at once if unusable
    if checkpoint is not None and len(cfg.models) != 1:
        raise ConfigError("--checkpoint evaluates one model: pass exactly one row with --models")
    spec: Dataset = plugins.datasets.get(cfg.dataset)
    known = set(plugins.models.names()) | set(plugins.metrics.names()) | set(plugins.datasets.names())
    known |= {row_label(e.obj, p) for e in plugins.models for p in e.obj.presets}
    known |= set(plugins.segmenters.names())
    check_plugin_tables(layers, known)
    dataset_options = validate_options(spec.Options, layers.plugins.get(spec.name, {}), spec.name)
    rows = tuple(resolve_row(token, layers, plugins, dataset_options, published, checkpoint) for token in cfg.models)
    labels = [row.label for row in rows]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"invalid value for 'models': {cfg.models}: a row is listed twice; list each once")
    spec.configure(cfg.data_root, dataset_options)
    palette = getattr(spec, "palette", None)
    facts = DataFacts(spec.name, spec.num_classes, spec.ignore_index, bool(spec.has_instances),
                      bool(spec.dontcare_label), tuple(tuple(int(c) for c in rgb) for rgb in palette) if palette else None)
    rows = tuple(replace(row, options=row.plugin.for_dataset(row.options, facts)) for row in rows)
    sizes = [size_in(row.run, spec) for row in rows]
    metrics = resolve_metrics(cfg.eval.metrics, layers, plugins.metrics)
    segmenter = resolve_segmenter(cfg, spec, metrics, layers, plugins, zoo.papers_segmenter(list(published), plugins))
    rows = tuple(at_size(row, size, segmenter) for row, size in zip(rows, sizes))
    for row, size in zip(rows, sizes):
        row.plugin.check(row.options, model_size(row, size), spec.num_classes)
        if row.foreign is None and checkpoint is None:
            row.plugin.check_training(row.options)  # e.g. a loss's weight file: evaluation needs none
    device = resolve_device(cfg.device)
    return RunPlan(cfg, spec, dataset_options, rows, metrics, segmenter, device,
                   resolve_precision(cfg.precision, device), resolve_loggers(cfg.loggers, plugins),
                   *resolve_during(cfg, metrics))


def resolve_during(cfg: RunConfig, metrics: tuple) -> tuple[tuple, Best | None]:
    """``eval_every``'s metrics and ``keep_best``'s column, checked before any training."""
    if cfg.eval_every is None:
        for key in ("keep_best", "eval_metrics"):
            if getattr(cfg, key) is not None:
                raise ConfigError(f"{key} needs eval_every: add --set eval_every=STEPS")
        return (), None
    during = choose_metrics(cfg.eval_metrics, metrics, cfg.keep_best)
    return during, choose_best(cfg.keep_best, during)


def resolve_loggers(names: list[str], plugins: registry.Plugins) -> tuple:
    """The registered loggers of ``--set loggers=[...]``; an unknown name is one line before any training."""
    for name in names:
        if name not in plugins.loggers:
            raise ConfigError(unknown("logger (loggers)", name, plugins.loggers.names(), "see `bench list loggers`"))
    return tuple(plugins.loggers.get(name) for name in dict.fromkeys(names))


def resolve_row(token: str, layers: Layers, plugins: registry.Plugins, dataset_options: Options,
                published: dict[str, Path], checkpoint: Path | None) -> Row:
    """A row as :func:`resolve_model` gives it; a zoo row, or the row of ``--checkpoint`` with a file of
    another code base, with the options that file implies (:func:`benchmark.planning.foreign.apply`)."""
    if token in published:
        entry = plugins.zoo.get(token)
        row = resolve_model(entry.model, layers, plugins.models, dataset_options)
        found = foreign.read(published[token], row.plugin)
        if found is None:
            raise ConfigError(f"{token}: {published[token]} is a bench checkpoint, not the published file; import "
                              f"the published one: {entry.obtain()}")
        found = replace(found, zoo=token, published=zoo.published_of(entry), quantization=entry.quantization)
        row = replace(row, run=row.run.model_copy(update=zoo.run_size(entry, layers.run)))  # the paper's size
        return foreign.apply(row, found, layers, token, entry.model_options)
    row = resolve_model(token, layers, plugins.models, dataset_options)
    if checkpoint is None:
        return row
    found = foreign.read(checkpoint, row.plugin)
    return row if found is None else foreign.apply(row, found, layers, token)


def at_size(row: Row, size: Size, segmenter: ResolvedSegmenter | None = None) -> Row:
    """A row of published weights with the size (and segmenter) it is measured with beside its paper's
    (see :mod:`benchmark.registry.zoo`)."""
    if row.foreign is None or row.foreign.published is None:
        return row
    published = zoo.measured_at(row.foreign.published, size, segmenter.name if segmenter else None)
    return replace(row, foreign=replace(row.foreign, published=published))


def size_in(run: RunConfig, dataset: Dataset) -> Size:
    """(height, width) of a run on ``dataset``: ``image_size`` (else the dataset's native height) high,
    ``aspect_ratio`` (the run's, else the dataset's) times as wide."""
    height = run.image_size or dataset.native_size[0]
    return Size(height, max(1, round(height * (run.aspect_ratio or dataset.aspect_ratio))))


def model_size(row: Row, size: Size) -> Size | int:
    """What a model's ``check``/``build``/``train_transform`` receive: the :class:`Size` where the
    model declares ``non_square``, else the side of a square (other sizes: one clear line)."""
    if row.plugin.non_square:
        return size
    if not size.square:
        raise ConfigError(f"{row.plugin.name} trains square images only, and this run is {size.text()} "
                          f"(aspect ratio {size.width / size.height:g}); add --set aspect_ratio=1 to train it "
                          f"on squares")
    return size.height


def resolve_metrics(names: list[str] | None, layers: Layers, metrics) -> tuple[tuple[Metric, Options], ...]:
    chosen = names if names is not None else metrics.names()
    out = []
    for name in chosen:
        metric = metrics.get(name)
        out.append((metric, validate_options(metric.Options, layers.plugins.get(name, {}), name)))
    return tuple(out)


def resolve_segmenter(cfg: RunConfig, spec: Dataset, metrics, layers: Layers, plugins,
                      papers: str | None = None) -> ResolvedSegmenter | None:
    """``eval.segmenter`` (else ``papers``: the one the papers of the plan's zoo rows measured with,
    else the dataset's default) with its validated options, checked before any training whenever it
    is set explicitly or a segmentation metric will use it."""
    name = cfg.eval.segmenter or papers or spec.default_segmenter
    used = cfg.eval.segmenter is not None or any(m.kind == "segmentation" for m, _ in metrics)
    if name is None or not used:
        return None
    if name not in plugins.segmenters:
        where = ("eval.segmenter" if cfg.eval.segmenter else "the segmenter of the zoo rows' papers" if papers
                 else f"the default segmenter of {spec.name}")
        raise ConfigError(unknown(f"segmenter ({where})", name, plugins.segmenters.names(),
                                  "see `bench list segmenters`; choose one with --set eval.segmenter=NAME"))
    segmenter = plugins.segmenters.get(name)
    options = validate_options(segmenter.Options, layers.plugins.get(name, {}), name)
    segmenter.check(options)  # e.g. its weight file is missing: stop before any training
    return ResolvedSegmenter(segmenter, options)


def plan_from_run(run: RunDir, layers: Layers, plugins: registry.Plugins | None = None) -> RunPlan:
    """The one-row plan a run folder's ``plan.json`` records, with the user's layers on top
    (e.g. ``--set 'eval.metrics=["psnr"]'``), validated like a new plan."""
    stored = run.read_plan()
    try:
        label, dataset, stored_run = stored["label"], stored["dataset"], dict(stored["run"])
    except (KeyError, TypeError):
        raise BenchError(f"{run.plan_file}: not a model run's plan (no label, dataset or run); "
                         f"pass the folder of a trained model row") from None
    stored_run.update(dataset=dataset, models=[label])
    if run.output_root is not None:  # the results folder the run is in now, also when it was moved or copied
        stored_run["output_root"] = str(run.output_root)
    tables: dict[str, dict[str, Any]] = {label: stored.get("options", {}),
                                         dataset: stored.get("dataset_options", {}),
                                         **stored.get("metrics", {})}
    seg = stored.get("segmenter")
    if seg:
        tables[seg["name"]] = seg.get("options", {})
    for key, table in layers.plugins.items():
        tables[key] = merge(tables.get(key, {}), table)
    run_keys = overlay_run(stored_run, layers.run)
    run_keys.update(dataset=dataset, models=[label])
    return build_plan(Layers(str(run_keys.get("profile", "quick")), run_keys, tables), plugins)
