"""What a metric (and a segmenter) may read: :class:`EvalContext`, with typed fields for what the
harness knows, the segmenter it resolved for this run and a small progress protocol."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Literal, Protocol, Sequence

import torch

from benchmark.rundir.layout import ImageSet, RunDir
from benchmark.util.errors import BenchError

if TYPE_CHECKING:
    from benchmark.api.contract import Options, Segmenter


class Progress(Protocol):
    """A progress display for long work (:class:`benchmark.util.progress.Reporter` is one)."""

    def log(self, message: str) -> None: ...

    def start(self, label: str, total: int, done: int = 0) -> None: ...

    def update(self, done: int, info: str = "") -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class ResolvedSegmenter:
    """The segmenter of a run (``eval.segmenter``, else the dataset's default), looked up and its
    options validated once, when the plan is built."""

    segmenter: "Segmenter"
    options: "Options"

    @property
    def name(self) -> str:
        return self.segmenter.name


@dataclass
class EvalContext:
    """Everything a metric may read. Folders hold one PNG per test image, same stems.

    ``train_images`` is the real training split at the evaluation resolution
    (``.real`` photos, ``.label_ids`` class ids), for metrics that compare against it
    or train on it (a segmenter, a classifier). ``reference`` is set for the "real
    images" row: ``fake_dir`` then holds the real test photos, so paired metrics have
    nothing to measure and distribution metrics compare the real test split against
    the real training split. ``run`` is the run folder (None in bare unit tests): keep
    per-run detail in ``run.side_file(NAME)``.
    """

    fake_dir: Path
    real_dir: Path
    label_dir: Path  # class ids as 8-bit PNG
    class_names: list[str]
    ignore_index: int | None
    device: torch.device
    cache_dir: Path
    batch_size: int = 16
    train_images: ImageSet | None = None
    reference: bool = False
    #: the evaluation height in pixels (and the side of a square run)
    image_size: int | None = None
    #: the evaluation width; None: the same as ``image_size``
    image_width: int | None = None
    seed: int = 0
    run: RunDir | None = None
    dataset: str = ""
    palette: Sequence[Sequence[int]] | None = None
    #: the real images distribution metrics compare against (``eval.real_split``)
    real_split: Literal["test", "train"] = "test"
    #: smoke, quick or paper; None where unknown (evaluation networks then use their quick length)
    profile: str | None = None
    #: the segmenter for mIoU; None where the dataset names none and none was chosen
    segmenter: ResolvedSegmenter | None = None
    #: progress for long work such as training an evaluation network; None: silent
    progress: Progress | None = None
    #: the test label maps at the dataset's own resolution (same stems), for scoring options that
    #: resize them otherwise (``miou.label_resize``); None where the evaluation has none (folders)
    native_label_dir: Path | None = None
    #: set by the harness when the data-parallel workers evaluate together (``bench run
    #: --nproc-per-node N``): every worker runs each metric whose ``sharded`` is true with its own
    #: context, and the helpers below split and join the work; otherwise they are no-ops
    parallel: bool = False

    # ------------------------------------------------------------ work shared by the workers

    @property
    def main(self) -> bool:
        """Whether this process reports (and writes side files): False only on the other workers."""
        from benchmark.parallel import workers as distributed

        return not (self.parallel and distributed.is_follower())

    def shard(self, items: Sequence, batch_size: int | None = None) -> list:
        """This worker's share of ``items``: a contiguous run of the whole batches (of ``batch_size``,
        default ``self.batch_size``) one process would make; iterate over it in batches of that size
        so that every network sees one process's batches. All of ``items`` in one process."""
        if not self.parallel:
            return list(items)
        from benchmark.parallel import sharded as distributed_eval

        return distributed_eval.shard(items, batch_size or self.batch_size)

    def gather(self, rows):
        """The rows (tensor or numpy array, along dim 0) of every worker's share, concatenated in
        worker order: with :meth:`shard`, the rows one process would have, in its order, on every
        worker (sum a per-share matrix with ``ctx.gather(m[None]).sum(0)``)."""
        if not self.parallel:
            return rows
        from benchmark.parallel import sharded as distributed_eval

        return distributed_eval.gather(rows)

    def all_workers(self, flag: bool) -> bool:
        """``flag`` agreed by every worker (True only when true on all): decide a cache hit with it, so
        that no worker skips a :meth:`gather` the others make."""
        if not self.parallel:
            return bool(flag)
        from benchmark.parallel import sharded as distributed_eval

        return distributed_eval.all_workers(flag)

    def main_first(self):
        """A context manager: the reporting process runs the block first (e.g. training and caching an
        evaluation network), the other workers after it (reading the cache)."""
        if not self.parallel:
            import contextlib

            return contextlib.nullcontext()
        from benchmark.parallel import sharded as distributed_eval

        return distributed_eval.main_first()

    def stems(self) -> list[str]:
        return sorted(p.stem for p in self.fake_dir.glob("*.png"))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def distribution_real_dir(self) -> Path:
        """The real photos that distribution metrics (FID, KID) compare ``fake_dir`` against.

        The real test split by default; the real training split when ``eval.real_split``
        is ``train``, and always for the "real images" row (test against train).
        """
        if self.reference or self.real_split == "train":
            if self.train_images is None:
                raise BenchError("the real training split is not available to this metric; "
                                 "run it through `bench run` or `bench evaluate`")
            return self.train_images.real
        return self.real_dir

    def image_classes(self, label_dir: Path | None = None) -> dict[str, list[int]]:
        """Image-level class ids per stem: ``classes.json`` beside ``label_dir`` when the dataset
        provides image-level labels, else the classes present in each label map (ignore index excluded)."""
        from benchmark.util.imageio import image_classes

        return image_classes(label_dir or self.label_dir, self.num_classes, self.ignore_index)

    def pairs(self, batch_size: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(fake, real) batches as float tensors in [0, 1], N,3,H,W, on the device."""
        from benchmark.util.imageio import read_rgb

        stems = self.stems()
        bs = batch_size or self.batch_size
        for i in range(0, len(stems), bs):
            chunk = stems[i:i + bs]
            fake = torch.stack([read_rgb(self.fake_dir / f"{s}.png") for s in chunk])
            real = torch.stack([read_rgb(self.real_dir / f"{s}.png") for s in chunk])
            yield fake.to(self.device), real.to(self.device)
