"""The training loop, owned by the harness: device, precision, seeds, data order,
checkpoints, loss history, sample grids and progress.

Model plugins only implement ``train_step``; nothing here knows a model by name.
"""

from __future__ import annotations

import csv
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from benchmark.api import StepContext, Trainable
from benchmark.data.dataset import BadFile
from benchmark.data.loading import loader, problems, resolve_num_workers
from benchmark.data.transforms import PairDataset, model_batch
from benchmark.parallel import workers as distributed
from benchmark.pipeline.during import BEST_CHECKPOINT, DuringTraining
from benchmark.pipeline.loggers import Loggers
from benchmark.planning.checkpoint import load_checkpoint, remove_checkpoint, save_checkpoint
from benchmark.planning.config import RunConfig
from benchmark.rundir.layout import RunDir
from benchmark.util.atomic import atomic_write
from benchmark.util.errors import TrainingDiverged, disk_full
from benchmark.util.imageio import colorize, to_uint8, write_png
from benchmark.util.progress import Reporter, format_losses

# ---------------------------------------------------------------- device and precision

FUSABLE = (torch.optim.Adam, torch.optim.AdamW)


def fused(optimizers: dict[str, torch.optim.Optimizer], setting: str,
          device: torch.device) -> dict[str, torch.optim.Optimizer]:
    """The trainable's optimisers, with every Adam/AdamW rebuilt as PyTorch's fused kernel when
    ``setting`` (the run's ``fused_optimizer``) is "on", or "auto" on CUDA: the same parameter
    groups and hyper-parameters; only the order of float operations changes. Called before the
    first step (and before a checkpoint restores the optimiser state), so no state is lost."""
    if setting == "off" or (setting == "auto" and device.type != "cuda"):
        return optimizers
    out = {}
    for name, opt in optimizers.items():
        if type(opt) in FUSABLE and not opt.state and not opt.defaults.get("fused"):
            groups = [{k: v for k, v in group.items() if k not in ("fused", "foreach")} for group in opt.param_groups]
            opt = type(opt)(groups, **{**opt.defaults, "fused": True, "foreach": None})
        out[name] = opt
    return out


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ---------------------------------------------------------------- loss history

class LossHistory:
    """The loss history file: one row per step; on resume, rows after the checkpoint are dropped."""

    def __init__(self, path: Path):
        self.path = path
        self.rows: list[dict[str, float]] = []

    def restore(self, up_to_step: int) -> None:
        if self.path.exists():
            with open(self.path, newline="") as fh:
                self.rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)
                             if int(float(row["step"])) <= up_to_step]
        self.flush()

    def add(self, step: int, epoch: int, losses: dict[str, float]) -> None:
        self.rows.append({"step": step, "epoch": epoch, **losses})

    def flush(self) -> None:
        if not self.rows:
            self.path.unlink(missing_ok=True)
            return
        names = list(dict.fromkeys(k for row in self.rows for k in row))
        try:
            with atomic_write(self.path, newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=names)
                writer.writeheader()
                for row in self.rows:
                    writer.writerow({k: (int(v) if k in ("step", "epoch") else repr(v)) for k, v in row.items()})
        except OSError as exc:
            raise disk_full(exc, self.path.parent) or exc

    def last(self) -> dict[str, float]:
        return {k: v for k, v in self.rows[-1].items() if k not in ("step", "epoch")} if self.rows else {}

    def plot(self, out: Path, title: str) -> None:
        if not self.rows:
            return
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        steps = [r["step"] for r in self.rows]
        fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
        window = max(1, len(steps) // 50)
        for name in [k for k in self.rows[0] if k not in ("step", "epoch")]:
            values = np.array([r.get(name, np.nan) for r in self.rows], dtype=float)
            smooth = np.convolve(values, np.ones(window) / window, mode="valid")
            ax.plot(steps[window - 1:], smooth, label=name, linewidth=1)
        ax.set_xlabel("step")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        with atomic_write(out, binary=True, durable=False) as fh:
            fig.savefig(fh, format="png")
        plt.close(fig)


# ---------------------------------------------------------------- the loop

@dataclass
class TrainResult:
    steps: int
    final_losses: dict[str, float]
    seconds: float
    images_per_second: float
    resumed_from: int | None = None
    #: (file, problem) of every bad file skipped while training (``--skip-bad``), on every worker
    skipped: list[tuple[str, str]] = field(default_factory=list)


class EpochOrder:
    """The batches the training loader takes in the current epoch, as ``(epoch, index)`` keys: set
    before each pass, read by the one loader whose workers live for the whole training. Made as
    they are taken (this worker's shard of each global batch of the permutation), not held."""

    def __init__(self, batch_size: int):
        self.batch_size = batch_size
        self.epoch, self.first, self.stop = 0, 0, 0
        self.order = torch.zeros(0, dtype=torch.int64)

    def set(self, epoch: int, order: torch.Tensor, first: int, stop: int) -> None:
        self.epoch, self.order, self.first, self.stop = epoch, order, first, stop

    def __iter__(self):
        bs = self.batch_size
        for b in range(self.first, self.stop):
            yield [(self.epoch, i) for i in distributed.shard(self.order[b * bs:(b + 1) * bs].tolist())]

    def __len__(self) -> int:
        return self.stop - self.first


class Trainer:
    def __init__(self, trainable: Trainable, train_set: PairDataset, run: RunConfig, run_dir: RunDir, *,
                 device: torch.device, dtype: torch.dtype | None, num_classes: int, ignore_index: int | None,
                 palette, sample_set: PairDataset | None, reporter: Reporter, label: str,
                 loggers: Loggers | None = None, during: DuringTraining | None = None, skip_bad: bool = False):
        self.model = trainable
        self.data = train_set
        self.run = run
        self.dir = run_dir
        self.device = device
        self.dtype = dtype
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.palette = palette
        self.sample_set = sample_set
        self.reporter = reporter
        self.label = label
        self.batch_size = min(run.batch_size or 1, len(train_set))
        #: under data parallelism each rank takes an equal share of every global batch
        self.rank_batch = distributed.per_rank_batch(self.batch_size, label)
        self.main = not distributed.is_follower()
        self.steps_per_epoch = max(1, len(train_set) // self.batch_size)
        self.total_steps = run.steps or (run.epochs or 1) * self.steps_per_epoch
        self.history = LossHistory(run_dir.losses)
        self.skip_bad = skip_bad
        self.num_workers = resolve_num_workers(run.num_workers, device.type)
        self.order = EpochOrder(self.batch_size)
        self.loader: DataLoader | None = None
        #: bad files skipped so far (file -> problem)
        self.skipped: dict[str, str] = {}
        self.loggers = loggers if loggers is not None else Loggers()
        #: evaluation during training (eval_every), on the main process only
        self.during = during if self.main else None

    def batch_to_device(self, batch) -> dict[str, torch.Tensor]:
        return model_batch(batch, self.device, self.num_classes, self.ignore_index)

    def epoch_batches(self, epoch: int, first: int) -> DataLoader:
        """The loader, set to take epoch ``epoch``'s batches from batch ``first`` on: this worker's
        shard of each global batch of the epoch's permutation. Each pass over it draws once from
        torch's random state, as a new loader per epoch did, so the models' draws stay the same."""
        order = torch.randperm(len(self.data), generator=torch.Generator().manual_seed(self.run.seed * 100_003 + epoch))
        self.order.set(epoch, order, first, self.steps_per_epoch)
        self.data.set_epoch(epoch)
        if self.loader is None:
            self.loader = loader(self.data, self.order, num_workers=self.num_workers, pin=self.device.type == "cuda",
                                 skip_bad=self.skip_bad, substitute=True)
        elif self.loader.persistent_workers:  # a pass of live workers draws no seed: draw it here
            torch.empty((), dtype=torch.int64).random_()
        return self.loader

    def checked(self, batch: dict) -> dict:
        """The batch's tensors; a bad file stops the run with its line, or (--skip-bad) is counted."""
        batch, skipped = problems(batch)
        for path, problem in skipped:
            if path not in self.skipped:
                self.skipped[path] = problem
                self.reporter.warn(f"skipped {path} ({problem}); the next readable training image takes its place")
        return batch

    def state(self, step: int, ctx: StepContext) -> dict:
        opt_names = {id(o): n for n, o in self.model.optimizers.items()}
        state = {
            "step": step,
            "model": self.model.state_dict(),
            "optimizers": {n: o.state_dict() for n, o in self.model.optimizers.items()},
            "scalers": {opt_names[k]: s.state_dict() for k, s in ctx.scalers.items()},
            "torch_rng": torch.get_rng_state(),
        }
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def save(self, step: int, ctx: StepContext) -> None:
        if not self.main:
            return
        self.history.flush()
        save_checkpoint(self.state(step, ctx), self.dir.checkpoint(step))
        for old in self.dir.checkpoints()[: -self.run.keep_checkpoints]:
            remove_checkpoint(old)

    def restore(self, path: Path, ctx: StepContext) -> int:
        state = load_checkpoint(path)
        self.model.load_state_dict(state["model"])
        for name, opt in self.model.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        for name, scaler_state in state.get("scalers", {}).items():
            opt = self.model.optimizers[name]
            ctx.scalers[id(opt)] = torch.amp.GradScaler(self.device.type)
            ctx.scalers[id(opt)].load_state_dict(scaler_state)
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        if self.main:
            self.history.restore(state["step"])
            if self.during is not None:
                self.during.restore(int(state["step"]))
        else:
            self.history.rows = [r for r in self.history.rows if r["step"] <= state["step"]]
        return int(state["step"])

    def evaluate_during(self, step: int, ctx: StepContext) -> None:
        """``eval_every``: measure the subset with the model in eval mode and the RNG state untouched (the
        training goes on exactly as without it), log the values, keep the best checkpoint."""
        was_training = self.model.training
        self.model.eval()
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            values, improved = self.during.run(step)
        self.model.train(was_training)
        self.loggers.metrics(step, values)
        shown = " ".join(f"{k}={v:.4g}" for k, v in values.items() if v is not None)
        self.reporter.log(f"  {self.label} step {step}: {shown or 'no values'}" + (" (best so far)" if improved else ""))
        if improved:
            save_checkpoint(self.state(step, ctx), self.dir.checkpoint_dir / BEST_CHECKPOINT)

    def sample_steps(self) -> set[int]:
        n = self.run.samples
        return {max(1, round(self.total_steps * (i + 1) / n)) for i in range(n)} if n else set()

    @torch.no_grad()
    def save_samples(self, step: int) -> None:
        if not self.main or self.sample_set is None or len(self.sample_set) == 0:
            return
        items = []
        for i in range(min(4, len(self.sample_set))):
            try:
                items.append(self.sample_set[i])
            except BadFile:
                if not self.skip_bad:
                    raise
        if not items:
            return
        batch = self.batch_to_device(items)
        was_training = self.model.training
        self.model.eval()
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            with StepContext(device=self.device, dtype=self.dtype).autocast():
                fake = self.model.generate(batch)
        self.model.train(was_training)
        labels = [colorize(lab.cpu().numpy(), self.palette, self.ignore_index) for lab in batch["label"]]
        from benchmark.util.grid import compose

        rows = [[lab, real, fk] for lab, real, fk in zip(labels, to_uint8(batch["image"]), to_uint8(fake))]
        grid = compose(rows)
        write_png(self.dir.sample(step), grid)
        self.loggers.image(step, "samples", grid)

    def fit(self, resume_from: Path | None = None) -> TrainResult:
        self.model.train()
        ctx = StepContext(device=self.device, dtype=self.dtype, total_steps=self.total_steps,
                          shards=self.batch_size // self.rank_batch,
                          total_epochs=math.ceil(self.total_steps / self.steps_per_epoch))
        step = self.restore(resume_from, ctx) if resume_from else 0
        resumed = step if resume_from else None
        if not resume_from and self.main:
            self.history.restore(0)
        parallel = distributed.Parallel(self.model, self.model.optimizers)
        samples_at = self.sample_steps()
        t0 = time.perf_counter()
        self.reporter.start(f"train {self.label}", self.total_steps, step)
        try:
            while step < self.total_steps:
                epoch, first = divmod(step, self.steps_per_epoch)
                for batch in self.epoch_batches(epoch, first):
                    ctx.step, ctx.epoch = step, epoch
                    losses = self.model.train_step(self.batch_to_device(self.checked(batch)), ctx)
                    values = distributed.mean_losses({k: float(v) for k, v in losses.items()})
                    bad = [k for k, v in values.items() if not math.isfinite(v)]
                    step += 1
                    if bad:
                        if self.main:
                            self.history.flush()
                        raise TrainingDiverged(f"loss {bad[0]} became {values[bad[0]]} at step {step}")
                    self.history.add(step, epoch, values)
                    if self.main:
                        self.loggers.losses(step, values)
                    with parallel.plain():
                        if step % self.run.checkpoint_every == 0 or step == self.total_steps:
                            self.save(step, ctx)
                        if step in samples_at:
                            self.save_samples(step)
                        if self.during is not None and self.during.due(step, self.total_steps):
                            self.evaluate_during(step, ctx)
                    rate = self.reporter.rate(self.batch_size)
                    self.reporter.update(step, f"epoch {epoch + 1} {rate:.1f} img/s {format_losses(values)}")
                    if step >= self.total_steps:
                        break
            distributed.check_same_weights(self.model, self.label)
            skipped = sorted(set(distributed.union(sorted(self.skipped.items()))))
        finally:
            self.loader = None  # its worker processes end with it
            parallel.unwrap()
            self.reporter.stop()
            if self.main:
                self.history.flush()
                self.history.plot(self.dir.loss_curve, self.label)
        seconds = time.perf_counter() - t0
        done = step - (resumed or 0)
        return TrainResult(step, self.history.last(), seconds, done * self.batch_size / max(seconds, 1e-9), resumed,
                           skipped)
