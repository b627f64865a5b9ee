"""The library changes nothing that belongs to the whole process, and uses other libraries' public
APIs only (docs/reliability.md, "Concurrency").

Read from the package's source (no import): the process's file descriptors, umask and environment,
onnxruntime's global logger, and private names (``_x``) of modules faceanalytics did not write.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "faceanalytics"

#: Calls that change state shared by every thread of the process.
PROCESS_WIDE = {
    "os.umask": "the umask",
    "os.dup2": "a file descriptor",
    "os.putenv": "the environment",
    "os.unsetenv": "the environment",
    "os.environ.setdefault": "the environment",
    "os.environ.update": "the environment",
    "os.environ.pop": "the environment",
    "ort.set_default_logger_severity": "onnxruntime's global logger",
    "onnxruntime.set_default_logger_severity": "onnxruntime's global logger",
    "ort.set_default_logger_verbosity": "onnxruntime's global logger",
    "onnxruntime.set_default_logger_verbosity": "onnxruntime's global logger",
    "cv2.utils.logging.setLogLevel": "OpenCV's global logger",
}

#: Where setting the environment is the module's job: processes of their own, a command's main(),
#: and the environment a parent hands to its worker processes (the CLI quiets FFmpeg for its
#: own process).
ENVIRONMENT_OWNERS = {"train/_facemesh_worker.py", "train/evaluate.py", "batch/local.py", "cli/__init__.py"}


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _findings(tree: ast.AST, rel: str) -> list[tuple[int, str]]:
    foreign: set[str] = set()  # names bound to other libraries' modules and objects
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if not a.name.startswith("faceanalytics"):
                    foreign.add(a.asname or a.name.split(".")[0])
                    if any(_private(p) for p in a.name.split(".")):
                        found.append((node.lineno, f"import of the private module {a.name}"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module != "__future__":
            if node.module.startswith("faceanalytics"):
                continue
            for a in node.names:
                foreign.add(a.asname or a.name)
                if _private(a.name) or any(_private(p) for p in node.module.split(".")):
                    found.append((node.lineno, f"private import from {node.module}: {a.name}"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            root = _dotted(node.value).split(".")[0]
            if root in foreign:
                found.append((node.lineno, f"private attribute {_dotted(node)}"))
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name in PROCESS_WIDE and not (PROCESS_WIDE[name] == "the environment" and rel in ENVIRONMENT_OWNERS):
                found.append((node.lineno, f"{name}() changes {PROCESS_WIDE[name]} of the whole process"))
            if isinstance(node.func, ast.Name) and node.func.id in ("getattr", "setattr") and len(node.args) >= 2:
                target, attr = node.args[0], node.args[1]
                own = isinstance(target, ast.Name) and target.id in ("self", "cls")
                if isinstance(attr, ast.Constant) and isinstance(attr.value, str) and _private(attr.value) and not own:
                    found.append((node.lineno, f"{node.func.id}(..., {attr.value!r})"))
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                name = _dotted(t.value) if isinstance(t, ast.Subscript) else _dotted(t)
                if name == "os.environ" and rel not in ENVIRONMENT_OWNERS:
                    found.append((node.lineno, "os.environ[...] = changes the environment of the whole process"))
                if name in ("sys.stderr", "sys.stdout"):
                    found.append((node.lineno, f"{name} replaced for the whole process"))
    return found


def test_no_process_wide_changes_and_no_private_names_of_other_libraries():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for line, what in _findings(ast.parse(path.read_text(encoding="utf-8"), str(path)), rel):
            found.append(f"faceanalytics/{rel}:{line}: {what}")
    assert not found, "\n".join(found)


def test_the_check_finds_what_it_should():
    bad = """
import os, threading
import numpy as np
from numpy._core._multiarray_umath import __cpu_features__
import onnxruntime as ort
os.umask(0)
os.dup2(3, 2)
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ["X"] = "1"
threading._register_atexit(print)
ort.set_default_logger_severity(3)
np.core._multiarray_umath
"""
    lines = {line for line, _ in _findings(ast.parse(bad), "runners/detector.py")}
    assert lines == {4, *range(6, 13)}, lines
    good = """
import os
from faceanalytics.core.schema import _r
os.environ.get("HOME")
self._lock
_r(0, 1)
"""
    assert _findings(ast.parse(good), "runners/detector.py") == []
