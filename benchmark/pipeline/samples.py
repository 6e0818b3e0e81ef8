"""Several generated images per label map, for the metrics that measure diversity.

A metric asks for K images per test label map (:meth:`benchmark.api.Metric.samples_per_map`);
the evaluation of a row whose model samples (:meth:`benchmark.api.Model.multi_modal`) then
writes the largest K asked into the run folder (``images/fake`` is sample 0, ``images/samples/NN``
the others, in the same sharded pass as the row's images), and the metric reads them through
``EvalContext.sample_dirs``. A row whose model does not sample gets no folders and a reason,
which the metric puts in its empty cell's note.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmark.rundir.layout import ImageSet


@dataclass(frozen=True)
class Samples:
    """How many images per label map a row's evaluation generates, and why only one when so."""

    count: int = 1
    reason: str = ""

    def dirs(self, images: ImageSet) -> tuple:
        """The K sample folders of ``images`` (empty when one image per map is all there is)."""
        return tuple(images.sample(k) for k in range(self.count)) if self.count > 1 else ()

    def context(self, images: ImageSet) -> dict[str, Any]:
        """The :class:`~benchmark.api.EvalContext` fields these samples fill."""
        fields: dict[str, Any] = {"sample_dirs": self.dirs(images)}
        if self.reason:
            fields["no_samples"] = self.reason
        return fields


def wanted(metrics, profile: str | None) -> int:
    """The most images per label map any of ``metrics`` (pairs of metric and options) asks for."""
    return max([1, *(metric.samples_per_map(options, profile) for metric, options in metrics)])


def for_row(row, metrics, profile: str | None) -> Samples:
    """The samples of ``row`` (a :class:`~benchmark.planning.config.Row`) under the run's metrics."""
    count = wanted(metrics, profile)
    if count <= 1:
        return Samples()
    if not row.plugin.multi_modal(row.options):
        return Samples(1, f"{row.label} does not sample: one image per label map (a deterministic generator)")
    return Samples(count)


REFERENCE = Samples(1, "the real images: one photo per label map")
