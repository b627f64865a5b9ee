"""The package's imports go one way, down the layers, and form no cycle.

Layers, lowest first (docs/architecture.md): core <- geometry <- runtime <- runners <- plugins <-
pipeline <- video <- io <- cli, batch, train. A module may import its own layer and the layers
below it, never one above; and no two modules import each other, even through others. Every
``import`` statement counts, also those inside functions (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "faceanalytics"

LAYERS = ["core", "geometry", "runtime", "runners", "plugins", "pipeline", "video", "io", "top"]
TOP = {"cli", "batch", "train", "__main__", "__init__"}  # the entry points and the public namespace


def _module(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> int:
    parts = module.split(".")
    head = parts[1] if len(parts) > 1 else "__init__"
    if head in TOP:
        return LAYERS.index("top")
    return LAYERS.index(head)


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - node.level + 1]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                targets = [prefix] + [f"{prefix}.{a.name}" for a in node.names]
            else:
                continue
            for t in targets:
                if t in modules and t != name:
                    found.add(t)
        graph[name] = found
    return graph


def _is_parent_package(a: str, b: str) -> bool:
    return b.startswith(a + ".") or a.startswith(b + ".")


def test_every_module_belongs_to_a_layer():
    for module in _imports():
        if module == "faceanalytics":
            continue
        assert _layer(module) >= 0, module


def test_imports_never_climb_a_layer():
    upward = [
        f"{m} (layer {LAYERS[_layer(m)]}) imports {t} (layer {LAYERS[_layer(t)]})"
        for m, targets in _imports().items()
        if m != "faceanalytics"
        for t in targets
        if t != "faceanalytics" and _layer(t) > _layer(m)
    ]
    assert not upward, "\n".join(upward)


def test_there_is_no_import_cycle():
    graph = {m: {t for t in ts if not _is_parent_package(m, t)} for m, ts in _imports().items()}
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)


def test_the_checks_can_fail(tmp_path):
    """The graph builder sees relative, absolute and function-level imports."""
    graph = _imports()
    assert "faceanalytics.core.errors" in graph["faceanalytics.core.types"]
    assert any(t.startswith("faceanalytics.runtime") for t in graph["faceanalytics.runners.fpenet"])
    assert _layer("faceanalytics.io.draw") > _layer("faceanalytics.video.stream") > _layer("faceanalytics.pipeline")
