"""Suggesting the closest names when the user types an unknown one."""

from __future__ import annotations

import difflib
from typing import Iterable


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
