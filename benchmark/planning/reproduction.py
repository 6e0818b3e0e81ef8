"""What `bench zoo reproduce NAME` measures, and what it needs first.

A zoo entry lists the protocols its numbers were measured under (``ZooEntry.measurements``: its
paper's, then the re-measurements of public threads), each as bench settings. Here each becomes the
settings of one run, restricted to the metrics that run measures (a metric's own settings, and the
segmenter's for segmentation metrics); measurements whose restricted settings are the same share
one run. By default a run measures the metrics that give the numbers its measurements report. A setting this installation does not offer (an option value a metric does not accept, a
segmenter that is not installed) leaves the metrics it concerns unmeasured under that protocol,
with the reason, instead of measuring them under another protocol.

:func:`missing` lists everything that must be present before anything runs: the entry's file, the
files of every segmenter the protocols use, the files each metric needs under each protocol
(``Metric.check``), the dataset; one line each, saying what to download and import. Checking
never downloads (the weights cache is read as if offline).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from benchmark.registry.weight_spec import WeightSpec
from benchmark.registry.zoo_entry import Measurement, ZooEntry
from benchmark.planning.config import validate_options
from benchmark.registry import weights
from benchmark.util.errors import BenchError

SEGMENTER_KEY = "eval.segmenter"


@dataclass
class Protocol:
    """One run of a reproduction: its settings and the published measurements it answers."""

    settings: dict[str, Any]
    measurements: list[Measurement] = field(default_factory=list)
    #: metric plugin -> why it is not measured under this protocol
    unavailable: dict[str, str] = field(default_factory=dict)
    #: the metric plugins it measures
    metrics: list[str] = field(default_factory=list)

    def text(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(self.settings.items())) or "bench's defaults"


def segmentation_metrics(plugins, names: list[str]) -> list[str]:
    return [n for n in names if plugins.metrics.get(n).kind == "segmentation"]


def owners(key: str, plugins, names: list[str]) -> list[str]:
    """The metrics (of ``names``) a setting concerns: a metric's own table, the segmenter's for the
    segmentation metrics, anything else (the model's, the dataset's) all of them."""
    head = key.split(".", 1)[0]
    if head in plugins.metrics.names():
        return [head] if head in names else []
    if key == SEGMENTER_KEY or head in plugins.segmenters.names():
        return segmentation_metrics(plugins, names)
    return list(names)


def why_unavailable(key: str, value: Any, plugins) -> str | None:
    """Why this installation cannot measure under ``key=value`` (None: it can)."""
    head, _, option = key.partition(".")
    if key == SEGMENTER_KEY:
        return None if value in plugins.segmenters.names() else f"segmenter {value!r} is not installed"
    registry = plugins.metrics if head in plugins.metrics.names() else \
        plugins.segmenters if head in plugins.segmenters.names() else None
    if registry is None:
        return None
    try:
        validate_options(registry.get(head).Options, {option: value}, head)
    except BenchError as exc:
        return f"{key}={value} is not available in this installation ({exc})"
    return None


def column_owner(plugins) -> dict[str, str]:
    """Each leaderboard column (``FID``, ``mIoU``, ...) -> the metric plugin that measures it."""
    return {column: e.name for e in plugins.metrics for column in e.obj.columns}


def protocols(entry: ZooEntry, metric_names: list[str], plugins) -> list[Protocol]:
    """The runs that measure ``entry`` under each of its measurements' protocols: of ``metric_names``,
    the metrics that give the numbers each measurement reports."""
    owner = column_owner(plugins)
    out: list[Protocol] = []
    for measurement in entry.measurements:
        wanted = [n for n in metric_names if n in {owner.get(c) for c in measurement.values}]
        settings: dict[str, Any] = {}
        unavailable: dict[str, str] = {}
        for key, value in measurement.settings.items():
            concerned = owners(key, plugins, wanted)
            if not concerned:
                continue
            reason = why_unavailable(key, value, plugins)
            if reason:
                unavailable.update(dict.fromkeys(concerned, reason))
            else:
                settings[key] = value
        measured = [m for m in wanted if m not in unavailable]
        settings = {k: v for k, v in settings.items() if set(owners(k, plugins, measured))}
        # one run serves measurements of the same settings unless a metric one measures is unavailable to the other
        same = next((p for p in out if p.settings == settings and not set(p.unavailable) & set(measured)
                     and not set(unavailable) & set(p.metrics)), None)
        if same is None:
            same = Protocol(settings)
            out.append(same)
        same.measurements.append(measurement)
        same.unavailable.update(unavailable)
        same.metrics += [m for m in measured if m not in same.metrics]
    return out


def segmenter_of(protocol: Protocol, entry: ZooEntry, spec) -> str | None:
    return protocol.settings.get(SEGMENTER_KEY) or entry.segmenter or spec.default_segmenter


@contextmanager
def no_downloads() -> Iterator[None]:
    """Resolve weights as if offline: a missing file is reported, never fetched."""
    before = os.environ.get("BENCH_OFFLINE")
    os.environ["BENCH_OFFLINE"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("BENCH_OFFLINE", None)
        else:
            os.environ["BENCH_OFFLINE"] = before


def file_line(spec: WeightSpec) -> str:
    """What to do for one missing (or damaged) weights file."""
    where = f"download {spec.url}" if spec.url else f"get {spec.filename} ({spec.source})"
    return f"{spec.filename}: {where} and run `{weights.import_command(spec)}`"


def missing(entry: ZooEntry, runs: list[Protocol], plugins, data_root: Path, tables: dict[str, dict]) -> list[str]:
    """What must be downloaded and imported before ``runs`` can measure ``entry``: one line each."""
    lines = []
    if weights.status(entry.weights) != weights.PRESENT:
        lines.append(f"{entry.name}: {entry.weights.filename}: {entry.obtain()}")
    spec = plugins.datasets.get(entry.dataset)
    seen = set()
    for run in runs:
        name = segmenter_of(run, entry, spec)
        if not segmentation_metrics(plugins, run.metrics) or name in seen or name not in plugins.segmenters.names():
            continue
        seen.add(name)
        segmenter = plugins.segmenters.get(name)
        specs = getattr(segmenter, "specs", None)  # a segmenter of published files names them (WeightSpec)
        if isinstance(specs, tuple) and all(isinstance(s, WeightSpec) for s in specs):
            lines += [f"segmenter {name}: {file_line(s)}" for s in specs if weights.status(s) != weights.PRESENT]
            continue
        try:
            with no_downloads():
                segmenter.check(validate_options(segmenter.Options, tables.get(name, {}), name))
        except BenchError as exc:
            lines.append(f"segmenter {name}: {exc}")
    for run in runs:
        for name in run.metrics:
            metric = plugins.metrics.get(name)
            table = {**tables.get(name, {}), **{k.split(".", 1)[1]: v for k, v in run.settings.items()
                                                if k.split(".", 1)[0] == name}}
            try:
                with no_downloads():
                    metric.check(validate_options(metric.Options, table, name))
            except BenchError as exc:
                line = f"metric {name}: {exc}"
                if line not in lines:
                    lines.append(line)
    try:
        options = validate_options(spec.Options, tables.get(spec.name, {}), spec.name)
        with no_downloads():
            spec.configure(data_root, options)
            spec.prepare(data_root, options)
    except BenchError as exc:
        lines.append(f"dataset {spec.name}: {exc}")
    return lines
