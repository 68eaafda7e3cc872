"""The modules of src/gradcode import each other without a cycle.

The graph is read from the source with `ast`: every import statement counts, at module level or
inside a function (a lazy import still ties the two modules together); relative imports are
resolved; ``from package import name`` points at the submodule when ``name`` is one (importing
a submodule runs its package's ``__init__`` too, but that edge is Python's, not the module's). Lazy registry
entries ("module:attribute" strings) are plugins, not imports, and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ALLOWED: set[frozenset[str]] = set()  # pairs of modules allowed to import each other: none


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """module -> the gradcode modules its import statements name."""
    files = {module_name(p): p for p in sorted((src / "gradcode").rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                module = _absolute(package, node.level, node.module)
                for alias in node.names:  # a submodule, or a name the module defines
                    sub = f"{module}.{alias.name}"
                    targets.add(sub if sub in files else module)
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def _absolute(package: str, level: int, module: str | None) -> str:
    """The absolute name of ``from {'.' * level}{module} import ...`` inside `package`."""
    if not level:
        return module or ""
    parts = package.split(".")
    return ".".join(parts[: len(parts) - level + 1] + ([module] if module else []))


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_graph_resolves_relative_and_lazy_imports():
    graph = import_graph()
    assert "gradcode.codes.base" in graph["gradcode.codes"]  # from .base import ...
    assert "gradcode.registry" in graph["gradcode.delays"]  # from .registry import ...
    assert "gradcode.runtime.mpi_launch" in graph["gradcode.cli.train"]  # inside a function


def test_no_import_cycle():
    graph = import_graph()
    for pair in ALLOWED:
        a, b = sorted(pair)
        graph[a].discard(b)
        graph[b].discard(a)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_data_sits_below_models():
    graph = import_graph()
    upward = {
        (m, t) for m in graph if m.startswith("gradcode.data") for t in graph[m] if "models" in t
    }
    assert not upward, f"data imports models: {sorted(upward)}"
