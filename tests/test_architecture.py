"""The core's import graph: no circles, and every import goes down the declared layers.

:data:`LAYERS` is the one place where the order of the core's subpackages is declared
(docs/architecture.md draws it). A module may import modules of its own subpackage and of any
lower layer, never of its own layer's other subpackages or of a higher one. Imports inside
functions count the same as top-level ones; ``if TYPE_CHECKING:`` blocks do not (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "benchmark"

#: lowest first; the root ``benchmark`` (the public surface) sits above all of them
LAYERS = [
    ["util"],
    ["results", "parallel", "rundir"],
    ["api"],
    ["data"],
    ["registry"],
    ["planning"],
    ["pipeline"],
    ["report", "scoring", "sweep"],
    ["workflow"],
    ["cli"],
    ["testing"],
]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, modules: set[str]):
    """(imported module, line) of every ``benchmark`` import that runs, at any depth."""
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            todo.extend(node.orelse)
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                node.module.split(".")[0] == "benchmark":
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                yield (full if full in modules else node.module), node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "benchmark":
                    yield alias.name, node.lineno
        todo.extend(ast.iter_child_nodes(node))


def import_graph(core: Path = CORE) -> dict[str, dict[str, int]]:
    """module -> {imported module: line}, for every module of the core."""
    files = {}
    for path in sorted(core.rglob("*.py")):
        parts = path.relative_to(core.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        files[name] = path
    graph = {}
    for name, path in files.items():
        edges = {}
        for target, line in _imports(ast.parse(path.read_text(), str(path)), set(files)):
            if target != name:
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def circles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def group_of(module: str) -> str:
    """The subpackage (or top-level module) a core module belongs to; "" for the root package."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_of(group: str) -> int:
    if group in ("", "__main__"):
        return len(LAYERS)  # the public surface and `python -m benchmark`
    for i, names in enumerate(LAYERS):
        if group in names:
            return i
    raise AssertionError(f"benchmark.{group} is in no layer; add it to LAYERS in {__file__}")


def climbing(graph: dict[str, dict[str, int]]) -> list[str]:
    """Each import that goes up a layer or sideways into another subpackage of the same layer."""
    bad = []
    for module, edges in sorted(graph.items()):
        mine = group_of(module)
        for target, line in sorted(edges.items()):
            theirs = group_of(target)
            if theirs == mine:
                continue
            if layer_of(theirs) >= layer_of(mine):
                bad.append(f"{module} (line {line}) imports {target}: layer {layer_of(mine)} -> {layer_of(theirs)}")
    return bad


def test_the_core_has_no_import_circle():
    assert circles(import_graph()) == []


def test_every_import_goes_down_the_layers():
    assert climbing(import_graph()) == []


def test_every_subpackage_is_in_a_layer():
    groups = {group_of(m) for m in import_graph()} - {"", "__main__"}
    for group in groups:
        layer_of(group)


def test_a_planted_circle_is_found(tmp_path):
    core = tmp_path / "benchmark"
    (core / "util").mkdir(parents=True)
    (core / "__init__.py").write_text("")
    (core / "util" / "__init__.py").write_text("")
    (core / "util" / "a.py").write_text("from benchmark.util import b\n")
    (core / "util" / "b.py").write_text("def f():\n    from benchmark.util.a import x\n")
    assert circles(import_graph(core)) == [["benchmark.util.a", "benchmark.util.b"]]


def test_a_planted_climb_is_found_and_type_checking_imports_are_not(tmp_path):
    core = tmp_path / "benchmark"
    for pkg in ("util", "cli"):
        (core / pkg).mkdir(parents=True)
        (core / pkg / "__init__.py").write_text("")
    (core / "__init__.py").write_text("")
    (core / "cli" / "app.py").write_text("x = 1\n")
    (core / "util" / "low.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from benchmark.cli.app import x\n"
        "def f():\n    from benchmark.cli import app\n")
    assert climbing(import_graph(core)) == ["benchmark.util.low (line 5) imports benchmark.cli.app: layer 0 -> 9"]


@pytest.mark.parametrize("layer", [n for names in LAYERS for n in names])
def test_each_declared_layer_exists(layer):
    assert (CORE / layer).is_dir() or (CORE / f"{layer}.py").is_file()
