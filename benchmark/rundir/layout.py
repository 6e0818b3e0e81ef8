"""The layout of a run folder, in one place.

Train, evaluate, report and the metrics ask a :class:`RunDir` (or the
:class:`ImageSet` it hands out) for paths; no other module spells a run-folder
path. A run folder holds::

    plan.json  status.json                 the run's resolved plan; running / ok / failed / interrupted
    record.json                            the finished run's record, written before status says ok
    losses.csv  loss_curve.png             loss history
    checkpoints/step_00000250.pt           the last checkpoints (written atomically)
    samples/step_00000250.png              label | real | fake grids made during training
    images/{fake,real,label,label_ids}/    the evaluated test split as PNG (+ images/classes.json)
    images/samples/01/ ...                 more samples per label map, for diversity metrics
    error.log                              the traceback of a crash
    job.json  job.out  job.err             a sweep job's spec, submissions (executor, job id, logs), output
    <metric side files>                    e.g. miou.json: per-class detail a metric keeps
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmark.util.atomic import write_json
from benchmark.util.errors import BenchError

PLAN_FILE = "plan.json"
STATUS_FILE = "status.json"
RECORD_FILE = "record.json"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", text)


@dataclass(frozen=True)
class ImageSet:
    """A folder of one split as PNG, one file per image with the same stem in each sub-folder:
    ``fake/`` (generated), ``real/`` (photos at the evaluation resolution), ``label/`` (coloured
    label maps, for people), ``label_ids/`` (class ids, for metrics) and ``classes.json``
    (image-level class ids per stem)."""

    root: Path

    @property
    def fake(self) -> Path:
        return self.root / "fake"

    @property
    def real(self) -> Path:
        return self.root / "real"

    @property
    def label(self) -> Path:
        return self.root / "label"

    @property
    def label_ids(self) -> Path:
        return self.root / "label_ids"

    @property
    def complete_marker(self) -> Path:
        return self.root / "COMPLETE"

    def folders(self) -> tuple[Path, ...]:
        return self.fake, self.real, self.label, self.label_ids

    @property
    def samples_root(self) -> Path:
        """``samples/``: the other samples of a model that samples, one sub-folder per sample number."""
        return self.root / "samples"

    def sample(self, k: int) -> Path:
        """The ``k``-th generated image of every label map: ``fake/`` for 0, ``samples/NN/`` after it."""
        return self.fake if k == 0 else self.samples_root / f"{k:02d}"


@dataclass(frozen=True)
class RunDir:
    """One run folder (``OUTPUT_ROOT/runs/<time>-<dataset>-<row>``)."""

    root: Path

    # ---------------------------------------------------------------- finding and making

    @staticmethod
    def runs_root(output_root: Path) -> Path:
        return Path(output_root) / "runs"

    @property
    def output_root(self) -> Path | None:
        """The results folder this run folder sits in (``OUTPUT_ROOT/runs/RUN``), where it is now
        (also after it was moved or copied); None for a folder outside that layout."""
        return self.root.parent.parent if self.root.parent.name == "runs" else None

    @classmethod
    def create(cls, output_root: Path, dataset: str, label: str) -> "RunDir":
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
        path = cls.runs_root(output_root) / f"{stamp}-{slug(dataset)}-{slug(label)}"
        path.mkdir(parents=True)
        return cls(path)

    @classmethod
    def of_row(cls, output_root: Path, dataset: str, label: str) -> list["RunDir"]:
        """Every run folder of one dataset and row, newest first."""
        found = cls.runs_root(output_root).glob(f"*-{slug(dataset)}-{slug(label)}")
        return [cls(p) for p in sorted(found, reverse=True)]

    @classmethod
    def open(cls, path: Path) -> "RunDir":
        """An existing run folder, or one clear error saying what ``path`` is instead."""
        path = Path(path)
        if not path.exists():
            raise BenchError(f"{path}: no such folder; pass a run folder (results/runs/...)")
        if not path.is_dir():
            raise BenchError(f"{path}: not a folder; pass a run folder (results/runs/...)")
        run = cls(path)
        if not run.plan_file.is_file():
            raise BenchError(f"{path}: not a run folder (no {PLAN_FILE}); pass a folder under results/runs/")
        return run

    # ---------------------------------------------------------------- files

    @property
    def plan_file(self) -> Path:
        return self.root / PLAN_FILE

    @property
    def status_file(self) -> Path:
        return self.root / STATUS_FILE

    @property
    def record_file(self) -> Path:
        return self.root / RECORD_FILE

    @property
    def losses(self) -> Path:
        return self.root / "losses.csv"

    @property
    def loss_curve(self) -> Path:
        return self.root / "loss_curve.png"

    @property
    def eval_curve_csv(self) -> Path:
        """``eval_every``'s measurements: one row per evaluated step."""
        return self.root / "eval_curve.csv"

    @property
    def eval_curve(self) -> Path:
        return self.root / "eval_curve.png"

    @property
    def error_log(self) -> Path:
        return self.root / "error.log"

    @property
    def job_file(self) -> Path:
        """A sweep job's spec and submissions (see :mod:`benchmark.sweep.jobs`)."""
        return self.root / "job.json"

    def job_log(self, stream: str) -> Path:
        """``job.out`` / ``job.err``: what a sweep job printed (local executor)."""
        return self.root / f"job.{stream}"

    @property
    def submitit_dir(self) -> Path:
        """Where submitit keeps a job's pickles and logs (``--executor slurm``)."""
        return self.root / "submitit"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    @property
    def checkpoint_dir(self) -> Path:
        return self.root / "checkpoints"

    def checkpoint(self, step: int) -> Path:
        return self.checkpoint_dir / f"step_{step:08d}.pt"

    def checkpoints(self) -> list[Path]:
        """Kept checkpoints, oldest first."""
        return sorted(self.checkpoint_dir.glob("step_*.pt"))

    @property
    def sample_dir(self) -> Path:
        return self.root / "samples"

    def sample(self, step: int) -> Path:
        return self.sample_dir / f"step_{step:08d}.png"

    def samples(self) -> list[Path]:
        return sorted(self.sample_dir.glob("step_*.png"))

    @property
    def images(self) -> ImageSet:
        return ImageSet(self.root / "images")

    def side_file(self, name: str) -> Path:
        """A file a metric keeps beside its number (e.g. ``miou.json``)."""
        if "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"side file names are plain file names, got {name!r}")
        return self.root / name

    # ---------------------------------------------------------------- plan and status

    def read_json(self, path: Path) -> dict[str, Any]:
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise BenchError(f"{path}: not found; is {self.root} a run folder (results/runs/...)?") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BenchError(f"{path}: not valid JSON ({exc}); the run folder is damaged") from None

    def write_plan(self, plan: dict[str, Any]) -> None:
        write_json(self.plan_file, plan)

    def read_plan(self) -> dict[str, Any]:
        return self.read_json(self.plan_file)

    def write_status(self, status: str, **details: Any) -> None:
        write_json(self.status_file, {"status": status, **details})

    def write_record(self, record: dict[str, Any], status: dict[str, Any]) -> None:
        """The finished run's record and the status it ends with, kept so that a process killed
        before the results store or status file caught up can be completed by ``--resume``."""
        write_json(self.record_file, {"record": record, "status": status})

    def read_record(self) -> dict[str, Any] | None:
        """``{"record": ..., "status": ...}`` of a finished run, or None (not finished, or unreadable)."""
        try:
            data = json.loads(self.record_file.read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) and "record" in data and "status" in data else None

    def read_status(self) -> dict[str, Any]:
        """The status file, or ``{}`` where there is none or it cannot be read."""
        try:
            return json.loads(self.status_file.read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            return {}
