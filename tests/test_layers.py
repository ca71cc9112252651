"""The layers hold: no import cycle among cordmatch's top-level packages, the entry points (api, web, cli)
do not import one another, and the pure core imports no adapter.

The graph is read with an ``ast`` walk of ``src/cordmatch`` (every ``import cordmatch.X`` and
``from cordmatch.X import ...``, also inside functions), the method ARCHITECTURE.md describes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import cordmatch

ROOT = Path(cordmatch.__file__).resolve().parent
CORE = frozenset(
    {"hla", "matching", "probability", "selection", "outcomes", "bank", "coverage", "plausibility", "errors", "sourced"}
)
ENTRY_POINTS = frozenset({"api", "web", "cli"})  # siblings: cordmatch.server assembles api and web
# Known edges still to untangle, each removed by the work that moves the code (then delete its line here).
ALLOWED: set[tuple[str, str]] = set()


def top_level(path: Path) -> str:
    """The top-level package (or module) of cordmatch that ``path`` belongs to."""
    return path.relative_to(ROOT).parts[0].removesuffix(".py")


def imported(tree: ast.AST) -> Iterator[str]:
    """The top-level cordmatch packages that a module imports."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            base = node.module
            names = [f"{base}.{alias.name}" for alias in node.names] if base == "cordmatch" else [base]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "cordmatch" and len(parts) > 1:
                yield parts[1]


def import_graph() -> dict[str, set[str]]:
    """Top-level package -> the top-level packages it imports (itself excluded)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        source = top_level(path)
        if source in ("__init__", "__main__"):
            continue
        targets = graph.setdefault(source, set())
        targets.update(t for t in imported(ast.parse(path.read_text(encoding="utf-8"))) if t != source)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_walk_sees_the_packages() -> None:
    graph = import_graph()
    assert {"hla", "selection", "services", "api", "web", "cli"} <= set(graph)
    assert "hla" in graph["matching"] and "services" in graph["cli"]


def test_no_cycle_among_the_top_level_packages() -> None:
    graph = import_graph()
    kept = {src: {dst for dst in dsts if (src, dst) not in ALLOWED} for src, dsts in graph.items()}
    assert cycles(kept) == []


def test_the_entry_points_do_not_import_one_another() -> None:
    graph = import_graph()
    crossing = sorted(
        (src, dst) for src in ENTRY_POINTS for dst in graph.get(src, set()) & ENTRY_POINTS if (src, dst) not in ALLOWED
    )
    assert crossing == []


def test_the_use_cases_import_no_entry_point_and_no_simulator() -> None:
    graph = import_graph()
    assert sorted(graph["services"] & (ENTRY_POINTS | {"server", "sim"})) == []


def test_the_core_imports_no_adapter() -> None:
    graph = import_graph()
    wrong = {pkg: sorted(graph.get(pkg, set()) - CORE) for pkg in sorted(CORE)}
    assert {pkg: deps for pkg, deps in wrong.items() if deps} == {}


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
