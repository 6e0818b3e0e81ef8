"""The model zoo: published checkpoints, registered by plugins like every other plugin object.

A plugin describes each published checkpoint with a :class:`ZooEntry` (the model and a
tag, the dataset it was trained on, its file as a :class:`benchmark.registry.weights.WeightSpec`,
where it is published, the licence, the options of the official code it implies and the
numbers its paper reports) and registers it through the ``register_zoo`` hook; the file's
spec is registered through ``register_weights`` too, so ``bench weights import`` takes it.

A row ``MODEL@TAG`` (``bench run --models spade@ade20k-official``) names an entry. It is
checked when the plan is built, before any data loads: an unknown entry, a missing file
(one line: the file, where it is published and the ``bench weights import`` command), a
damaged file or another dataset each stop the run at once. With its file imported, the row evaluates
it (the model plugin reads the official format, :mod:`benchmark.planning.foreign`) and its note shows the
paper's numbers beside the measured ones. An entry's ``eval_size`` is the size its paper measured
at: the row is evaluated at that size unless ``image_size`` or ``aspect_ratio`` is set, and where
the row is measured at another size its note says the paper's numbers are not comparable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.api import Size
from benchmark.registry import weights
from benchmark.registry.zoo_entry import SEPARATOR, ZooEntry
from benchmark.util.errors import ConfigError, WeightsError
from benchmark.util.names import unknown


def find(token: str, plugins) -> ZooEntry:
    if token not in plugins.zoo:
        raise ConfigError(unknown("published checkpoint", token, plugins.zoo.names(), "see `bench zoo list`"))
    return plugins.zoo.get(token)


def check_rows(models: list[str], dataset: str, plugins) -> dict[str, Path]:
    """Stop at once for a ``MODEL@TAG`` row whose entry is unknown, whose file is missing or damaged,
    or that names another dataset; return each such row's file (evaluated as its model's foreign
    checkpoint, :mod:`benchmark.planning.foreign`)."""
    found: dict[str, Path] = {}
    for token in models:
        if SEPARATOR not in token:
            continue
        entry = find(token, plugins)
        state = weights.status(entry.weights)
        if state == weights.MISSING:
            try:
                path = weights.resolve(entry.weights)  # downloads when online and the file has a direct URL
            except WeightsError:
                raise WeightsError(f"{token}: the published checkpoint {entry.weights.filename} is not in "
                                   f"{weights.cache_dir()}; {entry.obtain()}") from None
        elif state == weights.BAD_CHECKSUM:
            raise WeightsError(f"{token}: {weights.cached_path(entry.weights)} does not have the published "
                               f"sha256 {entry.weights.sha256}; {entry.obtain()}")
        else:
            path = weights.cached_path(entry.weights)
        if dataset != entry.dataset:
            raise ConfigError(f"{token} was trained on {entry.dataset}, not {dataset}; pass --dataset {entry.dataset}")
        found[token] = Path(path)
    return found


def published_numbers(label: str, dataset: str, plugins) -> dict | None:
    """The zoo entry's reported numbers when ``label`` names one (``MODEL@TAG``), to show "published"
    beside "measured"; a label naming the entry of another dataset is one line."""
    if label not in plugins.zoo:
        return None
    entry = plugins.zoo.get(label)
    if entry.dataset != dataset:
        raise ConfigError(f"--label {label!r} names the published checkpoint for {entry.dataset}, not {dataset}; "
                          f"pass --dataset {entry.dataset} or another label")
    return published_of(entry)


def published_of(entry: ZooEntry) -> dict:
    """What a row of ``entry`` records of its paper: the title, the numbers, the size they were measured
    at and the segmenter of its mIoU."""
    out: dict[str, Any] = {"paper": entry.paper, "values": dict(entry.reported)}
    if entry.at is not None:
        out["at"] = entry.at
    if entry.segmenter is not None:
        out["segmenter"] = entry.segmenter
    return out


def papers_segmenter(tokens: list[str], plugins) -> str | None:
    """The segmenter the papers of the zoo rows ``tokens`` measured their mIoU with (None: none says);
    rows whose papers used different ones cannot share a plan's segmenter: one line saying so."""
    named = {t: plugins.zoo.get(t).segmenter for t in tokens if t in plugins.zoo}
    used = sorted({s for s in named.values() if s})
    if len(used) > 1:
        rows = ", ".join(f"{t} ({s})" for t, s in named.items() if s)
        raise ConfigError(f"the papers of these rows measured mIoU with different segmenters: {rows}; run them "
                          f"apart, or choose one for all with --set eval.segmenter=NAME")
    return used[0] if used else None


def measured_at(published: dict | None, size: Size, segmenter: str | None = None) -> dict | None:
    """``published`` with the size the row itself is measured at (``measured_at``, ``WxH``) and the
    segmenter it is measured with (``measured_with``, when the plan has one)."""
    if published is None:
        return None
    out = {**published, "measured_at": size.text()}
    if segmenter is not None:
        out["measured_with"] = segmenter
    return out


def published_note(published: dict | None) -> str:
    """The leaderboard note's part for the paper's numbers (``published: FID 33.9, ...``); where the row
    is measured at another size than the paper's, it says they are not comparable, and it names the
    segmenter of the paper's mIoU (not comparable when the row's is another)."""
    if published is None:
        return ""
    reported = ", ".join(f"{k} {v:g}" for k, v in published["values"].items()) or "no numbers"
    at, ours = published.get("at"), published.get("measured_at")
    theirs, used = published.get("segmenter"), published.get("measured_with")
    by = f" (mIoU by {theirs})" if theirs else ""
    if at and ours and at != ours:
        return f"published at {at}, not comparable with this row's {ours}: {reported}{by}"
    if theirs and used and theirs != used:
        return f"published with segmenter {theirs}, not comparable with this row's {used}: {reported}"
    return f"published: {reported}{by}"


def run_size(entry: ZooEntry, explicit: dict[str, Any]) -> dict[str, Any]:
    """The run keys that evaluate a row of ``entry`` at its paper's size: none where the entry has no
    size or the user set ``image_size`` or ``aspect_ratio`` (``explicit``: the user's own run keys)."""
    if entry.eval_size is None or "image_size" in explicit or "aspect_ratio" in explicit:
        return {}
    height, width = entry.eval_size
    return {"image_size": height, "aspect_ratio": width / height}


def rows(plugins) -> list[dict[str, Any]]:
    """Every entry as plain data for `bench zoo list` (and its ``--json``)."""
    out = []
    for item in plugins.zoo:
        entry: ZooEntry = item.obj
        state = weights.status(entry.weights)
        out.append({"name": entry.name, "model": entry.model, "dataset": entry.dataset, "file": entry.weights.filename,
                    "weights": entry.weights.name, "status": state, "sha256": weights.recorded_sha256(entry.weights)
                    if state != weights.MISSING else entry.weights.sha256, "source": entry.source_url,
                    "member": entry.member, "licence": entry.licence, "paper": entry.paper,
                    "reported": dict(entry.reported), "options": dict(entry.options), "summary": entry.summary,
                    "eval_size": entry.at, "segmenter": entry.segmenter,
                    "measurements": [{"label": m.label, "source": m.source, "settings": dict(m.settings),
                                      "values": dict(m.values), "note": m.note} for m in entry.measurements],
                    "provider": item.provider})
    return out
