"""What a pretrained file is: :class:`WeightSpec`, the check of a registered spec and the command
that imports a file downloaded by hand. Resolving, importing and the cache: :mod:`.weights`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from benchmark.util.errors import PluginError

SHA256 = re.compile(r"[0-9a-f]{64}")
_HEX = re.compile(r"[0-9a-f]{4,63}")

#: ``check(state_dict)`` returns None for the expected network, else a short reason
StateDictCheck = Callable[[dict], "str | None"]


@dataclass(frozen=True)
class WeightSpec:
    """A pretrained file: where it lives in the cache, its checksum, where it comes from."""

    name: str  # e.g. "vgg19-imagenet"
    filename: str  # file name in the cache
    sha256: str | None  # None: checked by structure at import, checksum recorded
    url: str | None  # where it is downloaded from when online
    summary: str = ""
    source: str = ""  # provenance / licence text shown by `bench weights list`
    hash_prefix: str | None = None  # the first hex digits of the sha256 that the published file name carries
    check: StateDictCheck | None = None  # structure check of an unpinned file's state dict at import


def validate(spec: WeightSpec, provider: str = "a plugin") -> None:
    """Refuse a malformed spec with one line naming the package that registered it."""
    if not isinstance(spec, WeightSpec):
        raise PluginError(f"{provider} registered weights {spec!r} that are not a WeightSpec; register one")
    if not spec.name or not spec.filename:
        raise PluginError(f"{provider}: weights spec {spec.name!r}: name and filename must not be empty; fill them in")
    if spec.filename in (".", "..") or "/" in spec.filename or "\\" in spec.filename:
        raise PluginError(f"{provider}: weights {spec.name!r}: filename {spec.filename!r} must be a plain file "
                          f"name; drop the directories")
    if spec.sha256 is not None and not SHA256.fullmatch(spec.sha256):
        raise PluginError(f"{provider}: weights {spec.name!r}: sha256 {spec.sha256!r} is not 64 lower-case hex "
                          f"digits; fix it or set None")
    if spec.hash_prefix is not None and not (_HEX.fullmatch(spec.hash_prefix) and spec.hash_prefix in spec.filename):
        raise PluginError(f"{provider}: weights {spec.name!r}: hash_prefix {spec.hash_prefix!r} must be lower-case "
                          f"hex digits found in the file name {spec.filename!r}; fix it or set None")


def command_to_import(spec: WeightSpec, file: str = "FILE") -> str:
    """The command that puts a file downloaded by hand into the cache."""
    return f"bench weights import {spec.name} {file}"
