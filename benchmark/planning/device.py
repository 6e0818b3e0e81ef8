"""Which device and autocast precision a run uses, resolved from the run's ``device`` and
``precision`` settings before anything trains."""

from __future__ import annotations

import os

import torch

from benchmark.util.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"invalid value for 'device': {name!r}: no CUDA device is available here; "
                              f"use --device cpu or auto")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"invalid value for 'device': {name!r}: only {torch.cuda.device_count()} "
                              f"CUDA device(s); use cuda:0..cuda:{torch.cuda.device_count() - 1}")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("invalid value for 'device': 'mps': MPS is not available here; use --device cpu or auto")
    return torch.device(name)


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype (None = fp32). ``auto``: bf16 on CUDA when supported, else fp32."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and precision == "fp16":
        raise ConfigError("invalid value for 'precision': 'fp16': fp16 autocast needs a GPU; use fp32 or bf16 on CPU")
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]


#: torch's own default number of CPU threads, read before anything changes it: one per physical core
#: (or ``OMP_NUM_THREADS`` where set)
TORCH_DEFAULT_THREADS = torch.get_num_threads()


def default_threads(num_workers: int = 0) -> int:
    """CPU threads for torch when ``threads`` is not set: every physical core (torch's own default),
    shared by the data-parallel workers of this node (``LOCAL_WORLD_SIZE``), less one per
    data-loading worker process (each a process of its own on a core); at least 1."""
    local_workers = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    return max(1, TORCH_DEFAULT_THREADS // local_workers - num_workers)


def configure_backends(device: torch.device, threads: int | None = None, num_workers: int = 0) -> None:
    """Threads (``threads``, else :func:`default_threads`) and the CUDA math settings of a run."""
    torch.set_num_threads(threads or default_threads(num_workers))
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
