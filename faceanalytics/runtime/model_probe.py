"""Detector model files the registry does not vouch for are test-loaded in a child process first.

MediaPipe parses a ``.tflite`` file in C++, and some corruptions abort the whole process there:
fuzzing found a one-byte change of the model's version string that ends in an uncaught
``std::invalid_argument`` and ``abort()``, which no Python code can catch. So a detector file
whose sha256 is not in :data:`faceanalytics.runtime.registry.DETECTOR_MODELS` (a file you bring with
``model_path=`` / ``--detector-model``) is first loaded, and run once, in a child interpreter with a
time limit. A crash or a hang there becomes a :class:`~faceanalytics.core.errors.ModelFormatError`
here; a file that passes is remembered (by digest) for the rest of the process.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
from pathlib import Path

from faceanalytics.core.errors import ModelFormatError
from faceanalytics.runtime.hub import sha256_file
from faceanalytics.runtime.registry import DETECTOR_MODELS

__all__ = ["PROBE_TIMEOUT", "check_detector_file"]

logger = logging.getLogger("faceanalytics")

#: Seconds the child may take to load and run the model once.
PROBE_TIMEOUT = 120.0

_FIX = "Pass a BlazeFace .tflite file (faceanalytics download-models fetches the official ones)"
_verified: set[str] = set()
_lock = threading.Lock()

_CHILD = """
import os, sys
os.environ.setdefault("GLOG_minloglevel", "2")
import numpy as np
import mediapipe as mp
from mediapipe.tasks.python import BaseOptions, vision
options = vision.FaceDetectorOptions(base_options=BaseOptions(model_asset_path=sys.argv[1]))
try:
    task = vision.FaceDetector.create_from_options(options)
    task.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.zeros((64, 64, 3), np.uint8)))
except Exception:
    sys.exit(1)  # an ordinary error: the caller's own load reports it
task.close()
"""


def _looks_like_tflite(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(8)
    return len(head) == 8 and head[4:8] == b"TFL3"


def require_tflite(path: Path) -> None:
    """Refuse a file without the TensorFlow Lite identifier (both detector backends check this first).

    Raises:
        ModelFormatError: not a TensorFlow Lite file, or unreadable.
    """
    try:
        ok = _looks_like_tflite(Path(path))
    except OSError as exc:
        raise ModelFormatError(f"cannot read detector model {path}: {exc}") from exc
    if not ok:
        raise ModelFormatError(f"{path} is not a TensorFlow Lite file (no 'TFL3' identifier). {_FIX}")


def check_detector_file(path: Path, timeout: float = PROBE_TIMEOUT) -> None:
    """Make sure loading ``path`` with MediaPipe cannot take this process down.

    Registered files (by sha256) and files already checked pass at once. Others must carry the
    TensorFlow Lite file identifier and survive a load in a child process.

    Raises:
        ModelFormatError: not a TensorFlow Lite file, or MediaPipe crashed or hung on it.
    """
    path = Path(path)
    try:
        if not _looks_like_tflite(path):
            raise ModelFormatError(f"{path} is not a TensorFlow Lite file (no 'TFL3' identifier). {_FIX}")
        digest = sha256_file(path)
    except OSError as exc:
        raise ModelFormatError(f"cannot read detector model {path}: {exc}") from exc
    if digest in _verified or any(spec.sha256 == digest for spec in DETECTOR_MODELS.values()):
        return
    with _lock:
        if digest in _verified:
            return
        _probe(path, timeout)
        _verified.add(digest)


def _probe(path: Path, timeout: float) -> None:
    logger.debug("test-loading %s in a child process", path)
    try:
        cmd = [sys.executable, "-c", _CHILD, str(path)]
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ModelFormatError(
            f"MediaPipe did not finish loading detector model {path} within {timeout:.0f} s: the file is corrupt. {_FIX}"
        ) from None
    except (OSError, ValueError) as exc:  # no usable interpreter to start (embedded Python, frozen apps)
        logger.warning("cannot test-load %s in a child process (%s); loading it directly", path, exc)
        return
    if proc.returncode in (0, 1):  # loaded, or a Python-level error that the caller's load raises again
        return
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith(("INFO:", "I0000", "W0000"))]
    how = f"exit code {proc.returncode}"
    if proc.returncode < 0:
        try:
            how = f"signal {signal.Signals(-proc.returncode).name}"
        except ValueError:
            how = f"signal {-proc.returncode}"
    detail = f" ({lines[-1].strip()})" if lines else ""
    raise ModelFormatError(f"MediaPipe crashed ({how}) loading detector model {path}{detail}: the file is corrupt. {_FIX}")
