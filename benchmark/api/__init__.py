"""The plugin contract: everything a model, metric, dataset or segmenter plugin implements or receives.

``from benchmark.api import Model, Metric, Options`` is the documented import path (the same names
are importable from :mod:`benchmark`). One module per idea: :mod:`.contract` (options, models,
trainables, metrics), :mod:`.segmenter`, :mod:`.context` (what a metric may read while it measures) and
:mod:`.hookspecs` (the hooks a plugin implements) and :mod:`.logger` (what a logger receives).
"""

from benchmark.api.context import EvalContext, Progress, ResolvedSegmenter
from benchmark.api.contract import (
    DataFacts,
    Direction,
    ForeignCheckpoint,
    Metric,
    MetricResult,
    Model,
    Options,
    Preset,
    SetupContext,
    Size,
    StepContext,
    Trainable,
    TrainLength,
    TrainTransform,
)
from benchmark.api.hookspecs import hookimpl
from benchmark.api.segmenter import Segmenter, SegmenterModel
from benchmark.api.logger import Logger, LogRun

__all__ = [
    "DataFacts", "Direction", "EvalContext", "ForeignCheckpoint", "Metric", "MetricResult", "Model", "Options",
    "Logger", "LogRun", "Preset", "Progress", "ResolvedSegmenter", "Segmenter", "SegmenterModel", "SetupContext", "Size",
    "StepContext", "Trainable", "TrainLength", "TrainTransform", "hookimpl",
]
