"""Settings as users write them: ``--set KEY=VALUE`` (values are TOML literals) and TOML files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.util.errors import BenchError, ConfigError

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
    """A ``--config`` file: every way it cannot be read is one line naming ``--config`` and the file."""
    return read_toml(path, what="--config ", fix="pass the path of a TOML file")


def read_toml(path: Path, *, what: str = "", fix: str = "pass the path of a TOML file",
              error: type[BenchError] = ConfigError) -> dict[str, Any]:
    """A TOML file's tables; a missing file, a folder, unreadable bytes, text that is not UTF-8 or
    not TOML is one ``error`` line starting with ``what`` and the path (``fix`` ends the lines of a
    file that is not there to read)."""
    path = Path(path)
    try:
        if path.is_dir():  # Windows reports opening a folder as PermissionError
            raise IsADirectoryError(path)
        with open(path, "rb") as fh:
            return tomllib.loads(fh.read().decode("utf-8"))
    except FileNotFoundError:
        problem = f"file not found; {fix}"
    except IsADirectoryError:
        problem = f"a folder, not a TOML file; {fix}"
    except PermissionError:
        problem = "permission denied; make the file readable"
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); save it as UTF-8"
    except tomllib.TOMLDecodeError as exc:
        problem = f"not valid TOML ({exc}); fix the file"
    except OSError as exc:
        problem = f"cannot be read ({exc.strerror or exc}); {fix}"
    raise error(f"{what}{path}: {problem}")
