"""Landmark indices live in one place, faceanalytics/core/schema.py; everything else asks it by name.

The check reads the package's source (no import) and looks for the shapes a hard-coded iBUG
index takes: ``p[36]``, ``p[[36, 45]]``, ``p[:68]``, ``p[48:68]``, ``range(48, 68)``,
``slice(48, 68)``, ``p[:68, 0]`` and index lists such as ``[36, 45, 48, 51]``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "faceanalytics"

#: Where indices are the subject: the schema itself, and the mean-face tables indexed by it.
OWNERS = {"core/schema.py", "geometry/face_templates.py"}

#: Modules another change is rewriting at the same time; their ``[:68]`` is to go the same way.
PENDING: set[str] = set()

# Indices with a meaning of their own in iBUG 68: eye and mouth corners, lip midpoints and the
# inner lips, nose tip and base, chin, and the first and last points of each region.
NAMED = {8, 30, 33, 36, 39, 42, 45, 48, 51, 54, 57, *range(60, 68)}
BOUNDS = {17, 22, 27, 31, 36, 42, 48, 60, 68}


def _int(node: ast.AST | None) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    return None


def _ints(node: ast.AST) -> list[int] | None:
    """The elements of a list or tuple made of integer literals only (``None`` otherwise)."""
    if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
        values = [_int(e) for e in node.elts]
        if all(v is not None for v in values):
            return values  # type: ignore[return-value]
    return None


def _index_list(values: list[int] | None) -> bool:
    """Two or more distinct literals, two of them named landmark indices: ``[36, 45, 48]``."""
    return bool(values) and len(values) >= 2 and sum(v in NAMED for v in values) >= 2 and len(set(values)) == len(values)


def _index_hit(index: ast.AST) -> str | None:
    """What in one subscript index (or one element of a tuple index) is a landmark index."""
    if _int(index) in NAMED:
        return f"[{_int(index)}]"
    if isinstance(index, ast.Slice) and (_int(index.lower) in BOUNDS or _int(index.upper) in BOUNDS):
        return "a slice of a landmark range"
    if (values := _ints(index)) and any(v in NAMED for v in values):
        return f"[{values}]"
    return None


def _findings(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        what = None
        if isinstance(node, ast.Subscript):
            parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            what = next((hit for part in parts if (hit := _index_hit(part))), None)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("range", "slice"):
            bounds = [_int(a) for a in node.args[:2]]
            if len(bounds) == 2 and bounds[0] is not None and bounds[1] in BOUNDS:
                what = f"{node.func.id}{tuple(bounds)}"
        elif isinstance(node, (ast.List, ast.Tuple)) and _index_list(_ints(node)):
            what = f"the index list {_ints(node)}"
        if what:
            found.append((node.lineno, what))
    return found


def test_no_landmark_index_literals_outside_the_schema():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in OWNERS | PENDING:
            continue
        for line, what in _findings(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            found.append(f"faceanalytics/{rel}:{line}: {what}")
    assert not found, "hard-coded landmark indices; name them in core/schema.py instead:\n" + "\n".join(found)


def test_the_check_finds_what_it_should():
    bad = """
p[36]
p[[36, 45]]
p[:68]
p[48:68]
range(48, 68)
slice(48, 68)
x = [36, 45, 48, 51]
q[..., 45, :]
q[:68, 0]
"""
    assert {line for line, _ in _findings(ast.parse(bad))} == set(range(2, 11))  # each line, once or more
    good = """
p[schema.left_eye_outer]
p[IBUG_SLICE]
shape[0]
x[:3]
range(0, 10)
(1, 2)
"""
    assert _findings(ast.parse(good)) == []
