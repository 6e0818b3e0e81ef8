"""The protocol of a leaderboard table as text: every statement (console, JSON, HTML), one line
(CSV and headers), the run's plain values, and the short form a paper prints under its table."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmark.report.leaderboard import Board

_MISSING = object()


def protocol_lines(board: Board) -> list[str]:
    """The protocol, one statement per line: the dataset, the run protocol, then the settings
    of each group of metric columns that differ from the run protocol (stated once per group)."""
    lines = [f"dataset: {board.dataset}",
             f"run: {_pairs(board.protocol)}" if board.protocol else "run: protocol not recorded"]
    columns_of: dict[str, list[str]] = {}  # columns of one metric share its protocol: say it once
    for name in board.metrics:
        own = {
            k: v for k, v in board.metric_protocols.get(name, {}).items()
            if board.protocol.get(k, _MISSING) != v
        }
        if own:
            columns_of.setdefault(_pairs(own), []).append(name)
    return lines + [f"{', '.join(names)}: {text}" for text, names in columns_of.items()]


def protocol_text(board: Board) -> str:
    """The protocol on one line, e.g. "dataset facades; images=106, resolution=64; PSNR: window=..."."""
    first, run, *metrics = protocol_lines(board)
    return "; ".join([first.replace(": ", " ", 1), run.removeprefix("run: "), *metrics])


#: the settings of a metric a paper's reader checks first (the FID implementation, the segmenter)
PAPER_KEYS = ("library", "implementation", "segmenter", "classifier")
_KEY_WORDS = {"segmenter": "segmenter ", "classifier": "classifier "}
_UNPRINTABLE = re.compile(r"\s*\(?\b(?:sha256|weights)\b[\s:=]*[0-9a-f]{8,}\)?|\s*https?://\S+|\s*`[^`]*`")


def paper_protocol(board: Board) -> list[str]:
    """The protocol as a paper prints it under the table, at most three statements: the images
    and resolution, then the implementation of each shown column group that records one. No
    checksums, URLs or commands (the JSON keeps them)."""
    protocol = board.protocol
    resolution = protocol.get("resolution")
    size = f"{resolution}x{resolution}" if isinstance(resolution, int) else resolution
    first = " ".join(str(part) for part in (protocol.get("images"), "test images of", board.dataset) if part)
    lines = [first + (f" at {size} px" if size else "")]
    said: dict[str, list[str]] = {}
    for name in board.metrics:
        mine = board.metric_protocols.get(name, {})
        text = ", ".join(f"{_KEY_WORDS.get(k, '')}{_unprintable(str(mine[k]))}" for k in PAPER_KEYS
                         if mine.get(k) not in (None, ""))
        if text:
            said.setdefault(text, []).append(name)
    groups = [f"{', '.join(names)}: {text}" for text, names in said.items()]
    return lines + (["; ".join(groups)] if groups else [])


def _unprintable(text: str) -> str:
    return _UNPRINTABLE.sub("", text).strip(" ,;")


def _pairs(mapping: dict) -> str:
    return ", ".join(f"{k}={_plain(v)}" for k, v in mapping.items())


def _plain(value: Any) -> str:
    return json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)
