"""`bench score --real DIR --fake DIR --metrics fid,kid,ssim`: two folders, no dataset.

Works like the established two-folder FID tools: distribution metrics (FID, KID, IS)
read every image of each folder as it is (any size; FID and KID by clean-fid's "clean"
protocol, so the FID equals clean-fid's ``compute_fid(fake, real)``); paired metrics
(PSNR, SSIM, ...) pair the files by stem and need the same stems and sizes in both
folders (images that are not PNG are decoded once into PNG copies under the cache).
Metrics that need label maps or a trained network of a dataset (mIoU, classifier
accuracy) need ``--dataset``; asking for one here is one clear line. Without
``--metrics``, FID alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.api.context import EvalContext
from benchmark.data.dataset import read_image
from benchmark.pipeline.evaluate import compute_metrics
from benchmark.registry import plugins as registry
from benchmark.results.records import MetricValue
from benchmark.planning.config import validate_options
from benchmark.planning.device import configure_backends, resolve_device
from benchmark.scoring.images import check_readable, image_files
from benchmark.util.errors import ConfigError, DataError
from benchmark.util.imageio import write_png
from benchmark.util.progress import Reporter

#: the metric kinds that need nothing but the two folders
FOLDER_KINDS = ("distribution", "paired")
#: what two folders are scored with when no metric is named (as the two-folder FID tools)
DEFAULT_METRICS = ("fid",)


@dataclass
class FolderScore:
    """The numbers of one two-folder comparison: ``{column: MetricValue}`` and the folders."""

    fake: str
    real: str
    metrics: dict[str, MetricValue] = field(default_factory=dict)

    def values(self) -> dict[str, float | None]:
        return {name: m.value for name, m in self.metrics.items()}

    def to_dict(self) -> dict[str, Any]:
        return {"fake": self.fake, "real": self.real,
                "metrics": {name: {"value": m.value, "direction": m.direction, "protocol": m.protocol,
                                   "note": m.note} for name, m in self.metrics.items()}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)


def resolve_folder_metrics(names: list[str], tables: dict[str, dict], plugins: registry.Plugins):
    out = []
    for name in names:
        metric = plugins.metrics.get(name)
        if metric.kind not in FOLDER_KINDS:
            raise ConfigError(f"--metrics {name}: a {metric.kind} metric needs the dataset's label maps; "
                              f"score against a dataset with `bench score --dataset D --images DIR --label NAME`")
        out.append((metric, validate_options(metric.Options, tables.get(name, {}), name)))
    return out


def paired_pngs(fake: Path, real: Path, cache_dir: Path) -> tuple[Path, Path]:
    """Folders of PNGs with the same stems and sizes for paired metrics: the given ones when they
    already are, else PNG copies (kept under ``cache_dir``, keyed by the files' content)."""
    fakes, reals = image_files(fake, "--fake"), image_files(real, "--real")
    missing = sorted(set(fakes) - set(reals))
    extra = sorted(set(reals) - set(fakes))
    if missing or extra:
        which, folder, stems = ("--real", real, missing) if missing else ("--fake", fake, extra)
        raise DataError(f"{which} {folder}: no image for {len(stems)} stem(s) of the other folder "
                        f"({', '.join(stems[:3])}{', ...' if len(stems) > 3 else ''}); paired metrics compare "
                        f"<stem> in --fake with <stem> in --real: give both folders the same stems")
    arrays: dict[Path, Any] = {}
    for stem in sorted(fakes):
        f, r = read_image(fakes[stem], "RGB"), read_image(reals[stem], "RGB")
        if f.shape != r.shape:
            raise DataError(f"--fake {fakes[stem]}: {f.shape[1]}x{f.shape[0]} pixels but --real {reals[stem].name} "
                            f"is {r.shape[1]}x{r.shape[0]}; paired metrics compare pixel by pixel: resize "
                            f"the generated images to the real ones' size")
        arrays[fakes[stem]], arrays[reals[stem]] = f, r
    if all(p.suffix.lower() == ".png" for p in arrays):
        return fake, real
    digest = hashlib.sha256()
    for path in arrays:
        digest.update(f"{path.resolve()}:{path.stat().st_size}:{path.stat().st_mtime_ns}".encode())
    root = Path(cache_dir) / "score-png" / digest.hexdigest()[:16]
    for side, files in (("fake", fakes), ("real", reals)):
        for stem, path in files.items():
            target = root / side / f"{stem}.png"
            if not target.is_file():
                write_png(target, arrays[path])
    return root / "fake", root / "real"


def score_folders(fake: Path, real: Path, metrics: list[str], *, output_root: Path = Path("results"),
                  device: str = "auto", batch_size: int = 16, seed: int = 0, threads: int | None = None,
                  tables: dict[str, dict] | None = None, reporter: Reporter | None = None,
                  plugins: registry.Plugins | None = None) -> FolderScore:
    """The chosen metrics of ``fake`` against ``real`` (see the module docstring)."""
    plugins = plugins or registry.default()
    reporter = reporter or Reporter(quiet=True)
    chosen = resolve_folder_metrics(list(metrics) or list(DEFAULT_METRICS), tables or {}, plugins)
    fake, real = Path(fake), Path(real)
    for option, folder in (("--fake", fake), ("--real", real)):
        image_files(folder, option)  # a missing or empty folder is one line, before any work
    for option, folder in (("--fake", fake), ("--real", real)):
        check_readable(image_files(folder, option), option)
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", device):
        raise ConfigError(f"--device {device!r}: allowed: auto, cpu, mps, cuda, cuda:N")
    torch_device = resolve_device(device)
    configure_backends(torch_device, threads)
    cache = Path(output_root) / "cache"
    cache.mkdir(parents=True, exist_ok=True)

    def context(f: Path, r: Path) -> EvalContext:
        return EvalContext(fake_dir=f, real_dir=r, label_dir=f.parent / "label_ids", class_names=[],
                           ignore_index=None, device=torch_device, cache_dir=cache, batch_size=batch_size,
                           seed=seed, real_split="test", progress=reporter)

    values: dict[str, MetricValue] = {}
    distribution = [(m, o) for m, o in chosen if m.kind == "distribution"]
    paired = [(m, o) for m, o in chosen if m.kind == "paired"]
    if distribution:
        values.update(compute_metrics(distribution, context(fake, real), reporter))
    if paired:
        pf, pr = paired_pngs(fake, real, cache)
        values.update(compute_metrics(paired, context(pf, pr), reporter))
    order = [c for m, _ in chosen for c in m.columns]
    return FolderScore(str(fake), str(real), {c: values[c] for c in order if c in values})
