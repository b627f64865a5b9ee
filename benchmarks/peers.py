"""Peer landmarkers for side-by-side evaluation: dlib's 68-point predictor and MediaPipe FaceMesh.

Both are optional. ``available()`` says which can run here:

* dlib: ``pip install dlib-bin face-recognition-models`` (the HOG face detector, then the
  68-point ERT shape predictor from face-recognition-models);
* FaceMesh: mediapipe 0.10.21 in its own venv (see ``_facemesh_worker.py``), found through
  ``$FACEMESH_PYTHON`` or ``.venv-facemesh/bin/python`` at the repository root. Its 468 mesh
  vertices are mapped to the 68 iBUG points by :data:`MESH_TO_68`, the vertex nearest to each
  annotated point on average over the *training* identities (``derive_mesh_map.py``).

Every landmarker returns, per image, a (68, 2) float array in pixels or ``None`` (no face).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MESH_MAP_FILE = Path(__file__).with_name("mesh68.json")


def _dlib_model() -> Path | None:
    spec = importlib.util.find_spec("face_recognition_models")  # not imported: its __init__ needs pkg_resources
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "shape_predictor_68_face_landmarks.dat"
    return path if path.is_file() else None


def facemesh_python() -> Path | None:
    cand = os.environ.get("FACEMESH_PYTHON") or REPO / ".venv-facemesh" / "bin" / "python"
    return Path(cand) if Path(cand).is_file() else None


def available() -> dict[str, bool]:
    return {
        "dlib": importlib.util.find_spec("dlib") is not None and _dlib_model() is not None,
        "facemesh": facemesh_python() is not None,
    }


class DlibLandmarks:
    """dlib HOG detector (largest face, one upsampling) + 68-point ERT predictor."""

    name = "dlib ERT-68"

    def __init__(self) -> None:
        import dlib

        model = _dlib_model()
        if model is None:
            raise RuntimeError("dlib's 68-point model not found: pip install face-recognition-models")
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(model))
        self._dlib = dlib

    def __call__(self, paths: Sequence[str | Path]) -> list[np.ndarray | None]:
        import cv2

        out: list[np.ndarray | None] = []
        for path in paths:
            gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            rects = self.detector(gray, 1) if gray is not None else []
            if not len(rects):
                out.append(None)
                continue
            rect = max(rects, key=lambda r: r.width() * r.height())
            shape = self.predictor(gray, rect)
            out.append(np.array([[p.x, p.y] for p in shape.parts()], np.float64))
        return out


def run_facemesh(paths: Sequence[str | Path]) -> list[np.ndarray | None]:
    """Raw 468-point FaceMesh landmarks per image (pixels), or None."""
    python = facemesh_python()
    if python is None:
        raise RuntimeError("no FaceMesh venv: see benchmarks/_facemesh_worker.py")
    worker = Path(__file__).with_name("_facemesh_worker.py")
    text = "".join(f"{p}\n" for p in paths)
    proc = subprocess.run([str(python), str(worker)], input=text, capture_output=True, text=True, check=True)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    by_path = {r["path"]: r["landmarks"] for r in rows}
    return [None if by_path.get(str(p)) is None else np.array(by_path[str(p)], np.float64) for p in paths]


class FaceMeshLandmarks:
    """MediaPipe FaceMesh (0.10.21, static images) mapped to 68 points."""

    name = "MediaPipe FaceMesh"

    def __init__(self) -> None:
        if not MESH_MAP_FILE.is_file():
            raise RuntimeError(f"{MESH_MAP_FILE} missing: run benchmarks/derive_mesh_map.py")
        self.index = np.array(json.loads(MESH_MAP_FILE.read_text())["mesh_to_68"])

    def __call__(self, paths: Sequence[str | Path]) -> list[np.ndarray | None]:
        return [None if m is None else m[self.index] for m in run_facemesh(paths)]
