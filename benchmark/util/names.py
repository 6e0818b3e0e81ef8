"""Names: the rule a registered plugin name follows, and the closest names when the user types an
unknown one."""

from __future__ import annotations

import difflib
import re
from typing import Iterable

from benchmark.util.errors import PluginError


def closest_first(name: str, choices: Iterable[str]) -> list[str]:
    """All choices, the ones most similar to ``name`` first."""
    choices = sorted(set(choices))
    if not choices:
        return []
    close = difflib.get_close_matches(name, choices, n=len(choices), cutoff=0.0)
    return close + [c for c in choices if c not in close]


def unknown(kind: str, name: str, choices: Iterable[str], hint: str = "") -> str:
    """The one-line message for an unknown name, listing the available ones closest first."""
    listed = ", ".join(closest_first(name, choices)) or "(none registered)"
    msg = f"unknown {kind} '{name}'; available: {listed}"
    return f"{msg} ({hint})" if hint else msg


_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
NAME_RULE = "lower-case letters, digits, '-' and '_', starting with a letter or digit (no '.', '+', ':', '@', space)"


def check_name(name: object, what: str, provider: str) -> None:
    """Refuse a plugin, preset or weights name that ``--set`` or a row label could not carry."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise PluginError(f"{provider} registered the {what} {name!r}: a name must use {NAME_RULE}; "
                          f"rename it in {provider} (or uninstall that package)")
