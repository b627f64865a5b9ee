"""MediaPipe FaceMesh as a peer in the evaluation, mapped to the 68 iBUG points.

FaceMesh's legacy ``solutions.face_mesh`` API exists only in mediapipe <= 0.10.21, which conflicts
with the mediapipe faceanalytics uses, so it runs in a virtual environment of its own, as a worker
process (``_facemesh_worker.py``):

    python -m venv .venv-facemesh && .venv-facemesh/bin/pip install mediapipe==0.10.21

found through ``$FACEMESH_PYTHON`` or ``.venv-facemesh/bin/python`` at the repository root. Its 468
mesh vertices become 68 points by ``mesh68.json``: for each annotated point, the vertex nearest on
average over the *training* identities (``benchmarks/derive_mesh_map.py``), so the validation
identities stay held out for FaceMesh too.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

__all__ = ["MESH_MAP", "FaceMeshWorker", "facemesh_python", "run_facemesh"]

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_facemesh_worker.py"
MESH_MAP = HERE / "mesh68.json"


def facemesh_python() -> Path | None:
    """The FaceMesh venv's interpreter, or ``None``."""
    cand = os.environ.get("FACEMESH_PYTHON") or HERE.parents[1] / ".venv-facemesh" / "bin" / "python"
    return Path(cand) if Path(cand).is_file() else None


def run_facemesh(paths: Sequence[str | Path], python: Path | None = None) -> list[np.ndarray | None]:
    """Raw (468, 2) FaceMesh landmarks in pixels per image file, or ``None`` where it found no face."""
    python = python or facemesh_python()
    if python is None:
        raise RuntimeError("no FaceMesh venv: see faceanalytics/train/facemesh.py")
    text = "".join(f"{p}\n" for p in paths)
    proc = subprocess.run([str(python), str(WORKER)], input=text, capture_output=True, text=True, check=True)
    rows = {r["path"]: r["landmarks"] for r in (json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{"))}
    return [None if rows.get(str(p)) is None else np.array(rows[str(p)], np.float64) for p in paths]


class FaceMeshWorker:
    """A long-lived FaceMesh process: ``landmarks68(bgr)`` -> (68, 2) pixels or ``None``.

    ``video=True`` runs FaceMesh's tracking mode (frames must then come in order). After each call,
    ``last_ms`` is the time FaceMesh itself took on the frame (no file or colour conversion).
    """

    def __init__(self, python: Path, video: bool = False) -> None:
        self.index = np.array(json.loads(MESH_MAP.read_text())["mesh_to_68"])
        cmd = [str(python), str(WORKER), *(["--video"] if video else [])]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self._dir = tempfile.TemporaryDirectory(prefix="facemesh-")
        self.last_ms = 0.0

    @property
    def pid(self) -> int:
        """Process id of the FaceMesh process (e.g. to read its peak memory)."""
        return self._proc.pid

    def landmarks68(self, bgr: np.ndarray) -> np.ndarray | None:
        path = Path(self._dir.name) / "frame.png"
        cv2.imwrite(str(path), bgr)
        stdin, stdout = self._proc.stdin, self._proc.stdout
        if stdin is None or stdout is None:
            raise RuntimeError("the FaceMesh worker is closed")
        stdin.write(f"{path}\n")
        stdin.flush()
        row = json.loads(stdout.readline())
        self.last_ms = float(row["ms"])
        return None if row["landmarks"] is None else np.array(row["landmarks"], np.float64)[self.index]

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait(timeout=30)
        self._dir.cleanup()
