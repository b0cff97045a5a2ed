"""The shape of the code: one-way imports with no cycles, a small top level, thin pages.

pyproject.toml's import-linter contracts say which way imports point (``make test`` runs
``lint-imports``); this checks what a layers contract cannot see: cycles inside a subpackage.
"""
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that import each other, directly or not."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            groups.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return groups


def test_strongly_connected_finds_a_cycle_and_nothing_else():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert sorted(strongly_connected(graph)) == [["a", "b", "c"], ["d"]]


def test_no_import_cycle_among_core_modules_counting_imports_inside_functions():
    graph = grimp.build_graph("core")  # every import statement, at any depth of the file
    modules = {module for module in graph.modules if module.startswith("core")}
    edges = {module: graph.find_modules_directly_imported_by(module) & modules for module in modules}
    cycles = [group for group in strongly_connected(edges) if len(group) > 1]
    assert cycles == []


def test_core_top_level_is_small_and_subsystems_are_folders():
    modules = sorted(path.name for path in (ROOT / "core").glob("*.py") if path.name != "__init__.py")
    packages = sorted(path.name for path in (ROOT / "core").iterdir() if (path / "__init__.py").exists())
    assert len(modules) <= 8, modules
    assert len(packages) >= 3, packages


def test_core_imports_neither_streamlit_nor_plotly():
    graph = grimp.build_graph("core", include_external_packages=True)
    for library in ("streamlit", "plotly"):
        importers = graph.find_modules_that_directly_import(library) if library in graph.modules else set()
        assert importers == set(), f"{library} imported by {sorted(importers)}"


def test_pages_are_thin():
    lengths = {page.name: len(page.read_text().splitlines()) for page in (ROOT / "dashboard/app_pages").glob("*.py")}
    assert lengths and max(lengths.values()) <= 100, {name: n for name, n in lengths.items() if n > 100}
