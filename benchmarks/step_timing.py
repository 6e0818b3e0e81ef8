"""The timing loop of the training-step benchmarks (step_speed.py, spade_step.py), written once.

A row (a model family with one of its presets) is built with a profile's run size, batch and options on
12 classes (facades) at a square size, the options of its embedded models (spade-pis's SPADE) filled
from those models' presets and profiles as the harness does; the losses that need a weights file are
turned off (``lambda_vgg=0``) unless a VGG19 file is given. One warm-up step, then the mean seconds of
``steps`` timed steps on random block label maps, CUDA synchronised around them; the process's CPU
time per step beside the wall time (on a loaded machine the wall time grows, the CPU time much less).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F

from benchmark.api import StepContext
from benchmark.registry.plugins import default

CLASSES = 12


def label_batch(n: int, size: int, device: torch.device, classes: int = CLASSES) -> dict[str, torch.Tensor]:
    """``n`` random label maps of 16x16-pixel blocks (one block for sizes under 16), their one-hot maps,
    random photos in [-1, 1], indices and image-level class labels (every class present)."""
    label = torch.randint(0, classes, (n, max(1, size // 16), max(1, size // 16)), device=device)
    label = label.repeat_interleave(size // label.shape[1], 1).repeat_interleave(size // label.shape[2], 2)
    return {"label": label, "onehot": F.one_hot(label, classes).permute(0, 3, 1, 2).float(),
            "image": torch.rand(n, 3, size, size, device=device) * 2 - 1, "index": torch.arange(n, device=device),
            "classes": torch.ones(n, classes, device=device)}


def profile_options(plugin, preset: str, profile: str, vgg_file: Path | None) -> dict:
    """The row's options as the harness fills them for ``profile``, with the VGG loss off or on ``vgg_file``."""
    opts = {**plugin.presets[preset].options, **plugin.profiles[profile]["options"]}
    for field, name in plugin.embeds.items():
        inner = default().registry("models").get(name)
        opts[field] = {**inner.presets[inner.default_preset].options, **inner.profiles[profile]["options"],
                       **opts.get(field, {})}
        opts[field] = vgg_setting(inner, opts[field], vgg_file)
    return vgg_setting(plugin, opts, vgg_file)


def vgg_setting(plugin, opts: dict, vgg_file: Path | None) -> dict:
    fields = plugin.Options.model_fields
    if "lambda_vgg" not in fields:
        if "vgg_weights" in fields:  # a network built on VGG19 but not trained through it (spade-pis' encoders)
            return {**opts, "vgg_weights": str(vgg_file or small_vgg())}
        return opts
    if vgg_file is None:
        return {**opts, "lambda_vgg": 0.0}
    if "vgg_weights" in fields and opts.get("lambda_vgg", fields["lambda_vgg"].default):
        return {**opts, "vgg_weights": str(vgg_file)}
    return opts


def small_vgg() -> Path:
    """A random VGG19 of width 4 (written once), for a network that needs one to be built but not to train."""
    global _SMALL_VGG
    if _SMALL_VGG is None:
        from bench_plugins.models import vgg19

        _SMALL_VGG = vgg19.write_random_file(Path(tempfile.mkdtemp()) / "vgg19-small.pth", width=4)
    return _SMALL_VGG


_SMALL_VGG: Path | None = None


class StepTime(NamedTuple):
    seconds: float  # wall time per step
    cpu_seconds: float  # this process's CPU time per step (all threads): less moved by other processes' load
    batch: int
    size: int


def seconds_per_step(plugin, preset: str, profile: str, device: torch.device, dtype, steps: int,
                     batch_size: int | None = None, vgg_file: Path | None = None) -> StepTime:
    """Mean wall and CPU seconds per training step, batch size and side in pixels of one row at one
    profile's size."""
    options = plugin.Options(**profile_options(plugin, preset, profile, vgg_file))
    size = plugin.profiles[profile]["run"]["image_size"]
    bs = batch_size or plugin.train_length(options, profile).batch_size
    torch.manual_seed(0)
    model = plugin.build(options, CLASSES, size).to(device)
    model.configure_optimizers()
    batch = label_batch(bs, size, device)
    ctx = StepContext(device=device, dtype=dtype, step=0, total_steps=10)
    if not model.train_step(batch, ctx):  # warm-up (and a loss network's load)
        raise RuntimeError("its training step does nothing under these options (nothing to time)")
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        model.train_step(batch, ctx)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return StepTime((time.perf_counter() - t0) / steps, (time.process_time() - c0) / steps, bs, size)


def targets() -> list[tuple[torch.device, torch.dtype | None, str]]:
    """The CPU in fp32, and CUDA with bf16 autocast when present."""
    out = [(torch.device("cpu"), None, "fp32")]
    if torch.cuda.is_available():
        out.append((torch.device("cuda"), torch.bfloat16, "bf16 autocast"))
    return out
