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


def configure_backends(device: torch.device, threads: int | None = None) -> None:
    torch.set_num_threads(threads or max(1, (os.cpu_count() or 2) // 2))
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
