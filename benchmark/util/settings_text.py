"""Settings as users write them: ``--set KEY=VALUE`` (values are TOML literals) and TOML files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.util.errors import ConfigError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


def parse_value(text: str) -> Any:
    """A --set value: a TOML literal (50, 2e-4, true, [1, 2], "x") or else a plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_set(items: list[str]) -> dict[str, Any]:
    """['pix2pix.lambda_l1=50', 'seed=3'] -> nested dict."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set pix2pix.lambda_l1=50")
        set_path(out, key, parse_value(value.strip()))
    return out


def set_path(tree: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    # model labels may contain dots only in the value, never in the key: "a.b.c" = table a, table b, key c
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: '{part}' is a value, not a table")
    node[parts[-1]] = value


def load_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"--config {path}: file not found; pass the path of a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {path}: not valid TOML ({exc}); fix the file") from None
