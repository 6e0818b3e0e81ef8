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
import importlib.util

from benchmark.api.hookspecs import hookimpl
from benchmark.util.version import __version__

#: public name -> "module" (the name is defined there) or "module:attribute"; a module named
#: whole (``weights``, ``archive``) is importable as a namespace
_EXPORTS = {
    **dict.fromkeys(("Options", "Preset", "TrainTransform", "TrainLength", "StepContext", "SetupContext",
                     "Trainable", "Model", "MetricResult", "EvalContext", "Metric", "Segmenter",
                     "SegmenterModel", "Direction", "Size", "DataFacts", "ForeignCheckpoint", "Progress",
                     "ResolvedSegmenter", "Logger", "LogRun"), "benchmark.api"),
    **dict.fromkeys(("RunDir", "ImageSet"), "benchmark.rundir.layout"),
    **dict.fromkeys(("Dataset", "Source", "Sample", "BadFiles", "BadFile", "Problem", "IMAGE_SUFFIXES", "natural_key",
                     "label_problem", "list_images", "load_side_by_side", "read_image"), "benchmark.data.dataset"),
    **dict.fromkeys(("LazySplit", "stems_of"), "benchmark.data.split"),
    **dict.fromkeys(("Unpacked", "find_dir", "find_dirs", "import_sources", "import_dataset", "download_and_import"),
                    "benchmark.data.staging"),
    **dict.fromkeys(("download", "offline", "safe_extract", "sha256_file"), "benchmark.data.archive"),
    **dict.fromkeys(("BenchError", "ConfigError", "DataError", "WeightsError"), "benchmark.util.errors"),
    **dict.fromkeys(("atomic_write", "write_json", "write_text"), "benchmark.util.atomic"),
    **dict.fromkeys(("read_label", "read_rgb", "to_uint8", "write_png"), "benchmark.util.imageio"),
    **dict.fromkeys(("MetricValue", "RunRecord"), "benchmark.results.records"),
    **dict.fromkeys(("run", "score", "leaderboard", "reproduce"), "benchmark.workflow"),
    "Reporter": "benchmark.util.progress",
    "unknown": "benchmark.util.names",
    "explain": "benchmark.planning.config",
    "read_toml": "benchmark.util.settings_text",
    "load_checkpoint": "benchmark.planning.checkpoint",
    "installed_plugins": "benchmark.registry.plugins:default",
    "FolderScore": "benchmark.scoring.folders",
    "Leaderboard": "benchmark.report.leaderboard",
    "WeightSpec": "benchmark.registry.weight_spec",
    "ZooEntry": "benchmark.registry.zoo_entry",
    "Measurement": "benchmark.registry.zoo_entry",
    "weights": "benchmark.registry.weights:",
    "archive": "benchmark.data.archive:",
}

__all__ = ["hookimpl", "__version__", *_EXPORTS]

def __getattr__(name: str):
    if name in _EXPORTS:
        module, _, attribute = _EXPORTS[name].partition(":")
        if not _EXPORTS[name].endswith(":") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
            # ``score`` is a function and a subpackage: import the subpackage first, or importing it
            # later (the function does) would replace this attribute with the module
            importlib.import_module(f"{__name__}.{name}")
        found = importlib.import_module(module)
        value = found if _EXPORTS[name].endswith(":") else getattr(found, attribute or name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'benchmark' has no attribute {name!r}")
