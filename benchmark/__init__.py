"""bench: a plugin-based benchmark for conditional image synthesis.

The core harness knows no model, metric or dataset by name: plugins register
them through the hooks in :mod:`benchmark.hookspecs`.
"""

from benchmark.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["hookimpl", "__version__"]
