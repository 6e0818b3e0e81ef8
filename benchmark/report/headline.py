"""Which columns a dataset's paper tables lead with: its declared headline columns and the ones
printed in percent (``Dataset.headline_columns`` / ``percent_columns``), looked up by name."""

from __future__ import annotations

from collections.abc import Iterable

Headlines = dict[str, tuple[tuple[str, ...], tuple[str, ...]]]


def dataset_headlines(datasets: Iterable[str]) -> Headlines:
    """dataset name -> (headline columns, percent columns) for every registered dataset among
    ``datasets``; a dataset that is not installed (results copied from elsewhere) has none."""
    from benchmark.registry.plugins import default

    registry = default().datasets
    found: Headlines = {}
    for name in set(datasets):
        if name in registry:
            spec = registry.get(name)
            found[name] = (tuple(getattr(spec, "headline_columns", ())), tuple(getattr(spec, "percent_columns", ())))
    return found
