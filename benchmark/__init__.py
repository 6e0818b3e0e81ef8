"""bench: a plugin-based benchmark for conditional image synthesis.

The core harness knows no model, metric or dataset by name: plugins register
them through the hooks in :mod:`benchmark.api.hookspecs`. Everything a plugin author
needs is importable from here::

    from benchmark import hookimpl, Model, Metric, Dataset, Options, Preset

The Python API, the same records the CLI prints::

    records = benchmark.run(models=["pix2pix"], dataset="facades", profile="quick")
    row = benchmark.score("my_images/", dataset="facades", label="my-method")
    table = benchmark.leaderboard("facades")

The names are loaded on first use, so ``import benchmark`` stays cheap.
"""

from __future__ import annotations

import importlib

from benchmark.api.hookspecs import hookimpl
from benchmark.util.version import __version__

#: public name -> the module that defines it
_EXPORTS = {
    **dict.fromkeys(("Options", "Preset", "TrainTransform", "TrainLength", "StepContext", "SetupContext",
                     "Trainable", "Model", "MetricResult", "EvalContext", "Metric", "Segmenter",
                     "SegmenterModel", "Direction", "Size", "DataFacts", "ForeignCheckpoint"), "benchmark.api.contract"),
    **dict.fromkeys(("Progress", "ResolvedSegmenter"), "benchmark.api.context"),
    **dict.fromkeys(("RunDir", "ImageSet"), "benchmark.rundir.layout"),
    **dict.fromkeys(("Dataset", "Source", "Sample", "BadFiles", "find_dir", "import_tree", "list_images",
                     "load_side_by_side", "load_image_label_folders", "read_image"), "benchmark.data.dataset"),
    **dict.fromkeys(("BenchError", "ConfigError", "DataError", "WeightsError"), "benchmark.util.errors"),
    **dict.fromkeys(("MetricValue", "RunRecord"), "benchmark.results.records"),
    **dict.fromkeys(("run", "score", "leaderboard"), "benchmark.workflow"),
    "FolderScore": "benchmark.score.folders",
    "Leaderboard": "benchmark.report.leaderboard",
    "WeightSpec": "benchmark.registry.weights",
    "ZooEntry": "benchmark.registry.zoo",
}

__all__ = ["hookimpl", "__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'benchmark' has no attribute {name!r}")
