"""bench: a plugin-based benchmark for conditional image synthesis.

The core harness knows no model, metric or dataset by name: plugins register
them through the hooks in :mod:`benchmark.hookspecs`. Everything a plugin author
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

from benchmark.hookspecs import hookimpl

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    **dict.fromkeys(("Options", "Preset", "TrainTransform", "TrainLength", "StepContext", "SetupContext",
                     "Trainable", "Model", "MetricResult", "EvalContext", "Metric", "Segmenter",
                     "SegmenterModel", "Direction", "Size", "DataFacts", "ForeignCheckpoint"), "benchmark.api"),
    **dict.fromkeys(("Progress", "ResolvedSegmenter"), "benchmark.context"),
    **dict.fromkeys(("RunDir", "ImageSet"), "benchmark.rundir"),
    **dict.fromkeys(("Dataset", "Source", "Sample", "BadFiles", "find_dir", "import_tree", "list_images",
                     "load_side_by_side", "load_image_label_folders", "read_image"), "benchmark.data"),
    **dict.fromkeys(("BenchError", "ConfigError", "DataError", "WeightsError"), "benchmark.errors"),
    **dict.fromkeys(("MetricValue", "RunRecord"), "benchmark.records"),
    **dict.fromkeys(("run", "score", "leaderboard"), "benchmark.pyapi"),
    "FolderScore": "benchmark.score_folders",
    "Leaderboard": "benchmark.report.leaderboard",
    "WeightSpec": "benchmark.weights",
    "ZooEntry": "benchmark.zoo",
}

__all__ = ["hookimpl", "__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'benchmark' has no attribute {name!r}")
