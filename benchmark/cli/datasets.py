"""`bench datasets list|info|import|verify|preview`: see, get and check the data before a run.

Every action works through the dataset's registered :class:`~benchmark.data.dataset.Dataset`
(the same ``prepare``/``load``/``import_from`` that ``bench run`` uses), so a
dataset that verifies here loads the same way in a run. Dataset options are given
as ``--set NAME.KEY=VALUE`` (e.g. ``--set synthetic-facades.train_size=20``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from benchmark.api import Options
from benchmark.data.dataset import BadFiles, Dataset, Sample, require_nonempty
from benchmark.planning.config import validate_options
from benchmark.util.errors import BenchError, ConfigError, DataError
from benchmark.util.names import unknown
from benchmark.util.settings_text import parse_set

SPLITS = ("train", "test")
TILE = 128   # preview tile side in pixels
GAP = 4      # preview gap between pairs in pixels
PAIRS_PER_ROW = 4

USAGE = {
    "list": "bench datasets list [--data-root DIR]",
    "info": "bench datasets info NAME [--data-root DIR]",
    "import": "bench datasets import NAME PATH [PATH...] [--data-root DIR] [--skip-bad] [--max-unpacked-gb N]   "
              "(PATH: an archive or an unpacked folder; some datasets come as several archives)",
    "verify": "bench datasets verify NAME [--data-root DIR] [--set NAME.KEY=VALUE]",
    "preview": "bench datasets preview NAME [OUT.png] [--count N] [--data-root DIR] [--set NAME.KEY=VALUE]",
}


# ---------------------------------------------------------------- helpers

def _plugins():
    from benchmark.registry.plugins import default

    return default()


def _spec(args) -> Dataset:
    if not getattr(args, "name", None):
        raise BenchError(f"`bench datasets {args.action}` needs a dataset name; usage: {USAGE[args.action]} "
                         f"(`bench datasets list` shows the names)")
    return _plugins().datasets.get(args.name)


def _options(args, spec: Dataset) -> Options:
    """The dataset's options from ``--set NAME.KEY=VALUE``; a table naming nothing known is a typo."""
    tree = parse_set(list(getattr(args, "sets", None) or []))
    datasets = _plugins().datasets
    for key, value in tree.items():
        if not isinstance(value, dict):
            raise ConfigError(f"--set {key}={value!r}: dataset options are NAME.KEY=VALUE, "
                              f"e.g. --set {spec.name}.KEY=VALUE (`bench info {spec.name}` lists them)")
        if key not in datasets:
            raise ConfigError(unknown("dataset", key, datasets.names(),
                                      "dataset options are NAME.KEY=VALUE, e.g. --set synthetic-facades.size=64"))
    return validate_options(spec.Options, tree.get(spec.name, {}), spec.name)


def _paths(args) -> list[Path]:
    """The PATH arguments (several for import; an older caller may pass one path or None)."""
    value = getattr(args, "path", None)
    if value is None:
        return []
    return [Path(p) for p in value] if isinstance(value, (list, tuple)) else [Path(value)]


def _root(args) -> Path:
    return Path(getattr(args, "data_root", None) or "datasets")


def is_ready(spec: Dataset, root: Path) -> bool:
    return spec.source.kind == "generator" or spec.directory(root).exists()


def status_text(spec: Dataset, root: Path) -> str:
    return "ready" if is_ready(spec, root) else "not imported"


def _load_split(spec: Dataset, root: Path, split: str, options: Options, folder: Path) -> list[Sample]:
    """Every file decoded and checked: the first bad one stops with a DataError naming it."""
    return require_nonempty(spec.load(root, split, options, BadFiles(skip=False)), spec.name, split, folder)


def _expected_counts(spec: Dataset, options: Options) -> dict[str, int]:
    """Split sizes to check: an option ``<split>_size`` (generated sets) beats the card's count."""
    return {split: int(getattr(options, f"{split}_size", None) or spec.splits.get(split, 0)) for split in SPLITS}


def _prepare(spec: Dataset, root: Path, options: Options) -> Path:
    """Make the data available without downloading anything: verify and preview check what is there."""
    if spec.source.kind == "download" and not spec.directory(root).exists():
        raise DataError(spec.missing_message(spec.directory(root)))
    return spec.prepare(root, options)


def _counts_line(samples: dict[str, list[Sample]]) -> str:
    return ", ".join(f"{len(samples[s])} {s}" for s in SPLITS)


def checksum_note(spec: Dataset, digest: str | None) -> str | None:
    """Where an imported archive's sha256 stands: the published one, a known copy, or unknown."""
    if not digest:
        return None
    if spec.source.sha256 and digest == spec.source.sha256.lower():
        return f"archive sha256 {digest}: the published archive"
    if digest in spec.source.known_sha256:
        return f"archive sha256 {digest}: known copy ({spec.source.known_sha256[digest]})"
    return (f"archive sha256 {digest}: unknown (neither the published archive nor a known copy); "
            f"results may not be comparable with published numbers")


def _console() -> Console:
    return Console(highlight=False)


# ---------------------------------------------------------------- actions

def cmd_list(args) -> int:
    root = _root(args)
    table = Table(title=f"datasets (data root: {root})", title_justify="left")
    table.add_column("name", no_wrap=True)
    for col in ("classes", "splits", "source", "status"):
        table.add_column(col)
    for entry in _plugins().datasets:
        spec: Dataset = entry.obj
        splits = ", ".join(f"{k} {v}" if v else k for k, v in spec.splits.items()) or "-"
        # a spec without fixed split sizes (the user's own data) takes its classes from the data
        classes = str(spec.num_classes) if any(spec.splits.values()) else "from its card"
        table.add_row(spec.name, classes, splits, spec.source.kind, status_text(spec, root))
    _console().print(table, markup=False)
    for entry in _plugins().datasets:   # one plain line each, so nothing is cut by the terminal's width
        spec = entry.obj
        if spec.downloads:
            where = f" from {spec.source.url}" if spec.source.url else ""
            print(f"{spec.name}: get {' + '.join(spec.downloads)}{where}; licence: {spec.license}")
    return 0


def cmd_info(args) -> int:
    spec = _spec(args)
    root = _root(args)
    table = Table(title=f"dataset {spec.name}", title_justify="left", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in spec.card().items():
        table.add_row(key, value if isinstance(value, str) else json.dumps(value))
    table.add_row("instructions", spec.source.instructions or "-")
    if spec.source.known_sha256:
        table.add_row("known copies", "; ".join(f"{k}: {v}" for k, v in spec.source.known_sha256.items()))
    table.add_row("location", str(spec.directory(root)))
    table.add_row("status", status_text(spec, root))
    for name, field in spec.Options.model_fields.items():
        default = field.get_default(call_default_factory=True)
        table.add_row(f"--set {spec.name}.{name}", f"default {json.dumps(default, default=str)}"
                      + (f": {field.description}" if field.description else ""))
    _console().print(table, markup=False)
    return 0


def cmd_import(args) -> int:
    """The staged import: unpack or copy into a staging folder, read every file there, and only then
    replace the old copy."""
    from benchmark.data.staging import import_dataset
    from benchmark.data.unpack_limit import unpack_limit

    spec = _spec(args)
    paths = _paths(args)
    if not paths:
        raise BenchError(f"`bench datasets import {spec.name}` needs the archive or folder; usage: {USAGE['import']}")
    root = _root(args)
    options = _options(args, spec)
    samples: dict[str, list[Sample]] = {}

    def check(stage: Path) -> None:
        new = spec.directory(stage)
        skipped = _drop_bad_files(spec, stage, options) if getattr(args, "skip_bad", False) else []
        samples.update({split: _load_split(spec, stage, split, options, new) for split in SPLITS})
        if skipped:
            _note_skipped(new, skipped, paths[0])

    with unpack_limit(_max_unpacked(args, spec)):
        dest = import_dataset(spec, paths, root, check)
    print(f"imported {spec.name}: {_counts_line(samples)} images -> {dest}")
    return 0


def _max_unpacked(args, spec: Dataset) -> int | None:
    """The unpack limit in bytes: --max-unpacked-gb, else the card's declared size (plus a margin)."""
    gb = getattr(args, "max_unpacked_gb", None)
    if gb is not None:
        if gb <= 0:
            raise ConfigError(f"--max-unpacked-gb {gb}: must be a positive size in GB, e.g. --max-unpacked-gb 5")
        return int(gb * 1e9)
    declared = spec.source.unpacked_bytes
    return int(declared * 1.25) if declared else None


def _drop_bad_files(spec: Dataset, stage: Path, options: Options) -> list[tuple[str, str]]:
    """--skip-bad: delete the files the loader reports from the staging copy, until it reports none
    (a dropped label leaves its image without one); returns (relative path, problem) of each."""
    new = spec.directory(stage)
    dropped: list[tuple[str, str]] = []
    for _ in range(4):
        bad = BadFiles(skip=True)
        for split in SPLITS:
            spec.load(stage, split, options, bad)
        if not bad.items:
            break
        for path, problem in bad.items:
            if path.resolve().is_relative_to(new.resolve()) and path.is_file():
                path.unlink()
                dropped.append((path.relative_to(new).as_posix(), problem))
    return dropped


def _note_skipped(new: Path, skipped: list[tuple[str, str]], src: Path) -> None:
    manifest_path = new / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    manifest["skipped"] = [{"file": f, "problem": why} for f, why in skipped]
    manifest_path.write_text(json.dumps(manifest, indent=2))
    first = ", ".join(f"{f} ({why})" for f, why in skipped[:3])
    print(f"warning: skipped {len(skipped)} bad file(s) of {src}: {first}{' ...' if len(skipped) > 3 else ''} "
          f"(listed in {new.name}/MANIFEST.json)", file=sys.stderr)


def cmd_verify(args) -> int:
    spec = _spec(args)
    root = _root(args)
    options = _options(args, spec)
    folder = _prepare(spec, root, options)
    samples = {split: _load_split(spec, root, split, options, folder) for split in SPLITS}
    for split, expected in _expected_counts(spec, options).items():
        if expected and len(samples[split]) != expected:
            raise DataError(f"{folder}: split '{split}' has {len(samples[split])} images, expected {expected}; "
                            f"the copy is incomplete, re-import it with `bench datasets import {spec.name} PATH`")
    print(f"OK {spec.name}: {_counts_line(samples)} images, every file readable and consistent ({folder})")
    for key, value in spec.protocol().items():   # what each row's protocol will record about this data
        print(f"protocol {key}: {value}")
    manifest = folder / "MANIFEST.json"
    if manifest.is_file():
        try:
            digest = json.loads(manifest.read_text()).get("sha256")
        except (OSError, json.JSONDecodeError, AttributeError):
            digest = None
        note = checksum_note(spec, digest)
        if note:
            print(note)
    return 0


def preview_grid(pairs: list[tuple[np.ndarray, np.ndarray]], per_row: int = PAIRS_PER_ROW,
                 tile: int = TILE, gap: int = GAP) -> np.ndarray:
    """(coloured label, photo) pairs -> one white-backed RGB grid, each tile ``tile`` px square."""
    from benchmark.util.grid import compose

    flat = [image for pair in pairs for image in pair]
    width = 2 * min(per_row, len(pairs))
    rows = [flat[i:i + width] for i in range(0, len(flat), width)]
    return compose(rows, tile=tile, gap=gap, group=2, nearest=range(0, width, 2))


def cmd_preview(args) -> int:
    from benchmark.util.imageio import colorize, write_png

    spec = _spec(args)
    count = getattr(args, "count", 8)
    if count is None or count < 1:
        raise ConfigError(f"--count {count}: must be at least 1, e.g. --count 8")
    root = _root(args)
    options = _options(args, spec)
    folder = _prepare(spec, root, options)
    samples = _load_split(spec, root, "train", options, folder)[:count]
    pairs = [(colorize(s.label, spec.palette, spec.ignore_index), s.image) for s in samples]
    paths = _paths(args)
    if len(paths) > 1:
        raise BenchError(f"`bench datasets preview` writes one PNG, got {len(paths)} paths; usage: {USAGE['preview']}")
    out = paths[0] if paths else spec.directory(root) / "preview.png"
    write_png(out, preview_grid(pairs))
    print(f"wrote {out} ({len(pairs)} pairs: label | photo)")
    return 0


ACTIONS = {"list": cmd_list, "info": cmd_info, "import": cmd_import, "verify": cmd_verify, "preview": cmd_preview}


def dispatch(args) -> int:
    action = getattr(args, "action", None)
    if action not in ACTIONS:
        raise BenchError(unknown("datasets action", str(action), ACTIONS, "usage: bench datasets ACTION [NAME]"))
    return ACTIONS[action](args)

