"""Face detection: the :class:`Detector` protocol and MediaPipe BlazeFace behind it.

BlazeFace runs on one of two backends: ``"onnx"`` (MediaPipe's short-range weights converted to
ONNX in memory and run on onnxruntime, :mod:`faceanalytics.runners.blazeface`; the default for
``"short"``) or ``"mediapipe"`` (the MediaPipe Tasks ``FaceDetector``; the only one for the sparse
``"full"`` model, whose operators the conversion does not cover). Both give the same boxes.

Any object with ``detect(image) -> tuple[Detection, ...]`` (image: HxWx3 uint8 BGR) is a
detector; pass your own to ``Pipeline(detector=...)``.

The MediaPipe backend's native code (LiteRT, TFLite) writes INFO and WARNING lines to the
process's stderr while a task loads (the sparse ``"full"`` model also one line per sparse tensor).
faceanalytics leaves them there: file descriptor 2 and the environment belong to the whole
process, and redirecting or configuring them from a library races with every other thread. An
application that wants them gone can start with ``2>/dev/null`` or its own redirection; the default
``"short"`` detector runs on onnxruntime and prints nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import weakref
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from faceanalytics.core.errors import MissingDependencyError, ModelFormatError, ParameterError
from faceanalytics.core.types import Detection
from faceanalytics.geometry.tiles import detect_tiled
from faceanalytics.runners.blazeface import OnnxBlazeFace, weighted_nms
from faceanalytics.runtime.device import Device
from faceanalytics.runtime.hub import resolve_detector_model
from faceanalytics.runtime.model_probe import check_detector_file, require_tflite
from faceanalytics.runtime.registry import DETECTOR_MODELS

__all__ = ["BlazeFaceDetector", "Detector"]

logger = logging.getLogger("faceanalytics")


@runtime_checkable
class Detector(Protocol):
    """Finds faces. ``detect`` takes an HxWx3 uint8 BGR image and returns detections in its pixels."""

    def detect(self, image: np.ndarray) -> tuple[Detection, ...]: ...


_LIVE: weakref.WeakSet[BlazeFaceDetector] = weakref.WeakSet()

# Every open MediaPipe task, held strongly until faceanalytics closes it. MediaPipe's own __del__
# closes a task through ``ThreadPoolExecutor.submit()``, which holds a module-global,
# non-reentrant lock; a garbage collection that runs inside any submit() on the same thread and
# finalises a task deadlocks there (found by fuzzing model files, and with a detector caught in a
# reference cycle). So no open task is ever left to the garbage collector: a task whose close()
# fails (a model that loaded but cannot run) stays here until the exit hook below closes it.
_OPEN_TASKS: set[Any] = set()
_tasks_lock = threading.Lock()


def _close_all() -> None:
    """Close every live detector and open task at exit (an ``atexit`` hook, registered below).

    MediaPipe registers an ``atexit`` hook of its own when it is imported; after it, a task's
    ``close()`` skips the native call (MediaPipe's rule for an exiting process) and only stops the
    task's threads, so it cannot fail. ``atexit`` runs hooks in reverse order of registration, and
    this one is registered when this module is imported, before faceanalytics imports mediapipe
    (lazily, for the first MediaPipe detector): it runs after MediaPipe's. Nothing is then left
    for ``__del__`` during interpreter teardown, which prints tracebacks. (An application that
    imported mediapipe before faceanalytics gets the hooks the other way round; a close that
    fails here leaves the task referenced, and it is released at teardown, still without output.)
    """
    for det in list(_LIVE):
        with contextlib.suppress(Exception):
            det.close()
    with _tasks_lock:
        unclosed = list(_OPEN_TASKS)
    for task in unclosed:  # detectors collected before their closing thread ran, and failed closes
        _close_task(task)


atexit.register(_close_all)


def _close_task(task: Any) -> None:
    """Close a MediaPipe task once (later calls do nothing). If its close fails (a model that
    loaded but cannot run), the task stays in ``_OPEN_TASKS``, never finalised by a garbage
    collection (see there), and the exit hook closes it; its native handle is left until then."""
    with _tasks_lock:
        if task not in _OPEN_TASKS:
            return
        _OPEN_TASKS.discard(task)
    try:
        task.close()
    except Exception as exc:
        logger.debug("closing the MediaPipe task failed: %s; it stays open until exit", exc)
        with _tasks_lock:
            _OPEN_TASKS.add(task)


_mediapipe: tuple[Any, Any, Any] | None = None
_mediapipe_lock = threading.Lock()


def _import_mediapipe() -> tuple[Any, Any, Any]:
    """``mediapipe``, its ``BaseOptions`` and ``vision``, imported once, on a helper thread.

    mediapipe keeps an exception from its own import (``audio_record``'s "PortAudio library not
    found") in a module global; its traceback holds the importing frames, and through them every
    local of every caller: imported from here, the first detector and the Pipeline that made it
    would never be freed. A helper thread's stack holds nothing of ours.
    """
    global _mediapipe
    with _mediapipe_lock:
        if _mediapipe is None:
            box: dict[str, Any] = {}

            def load() -> None:
                try:
                    import mediapipe as mp
                    from mediapipe.tasks.python import BaseOptions, vision

                    box["modules"] = (mp, BaseOptions, vision)
                except BaseException as exc:  # re-raised on the caller's thread
                    box["error"] = exc

            loader = threading.Thread(target=load, name="faceanalytics-import-mediapipe")
            loader.start()
            loader.join()
            if "error" in box:
                error = box.pop("error")
                if isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0] == "mediapipe":
                    raise MissingDependencyError(
                        "the MediaPipe detector backend (the 'full' model, or backend='mediapipe') needs mediapipe: "
                        "pip install 'faceanalytics[mediapipe]'; the default 'short' detector runs without it"
                    ) from None
                raise error
            _mediapipe = box["modules"]
    return _mediapipe


BACKENDS = ("auto", "onnx", "mediapipe")


class BlazeFaceDetector:
    """MediaPipe BlazeFace, on onnxruntime or through the MediaPipe Tasks ``FaceDetector``.

    Args:
        model: ``"short"`` (faces within about 2 m, 128x128 input) or ``"full"`` (sparse
            full-range model, faces up to about 5 m, 192x192 input).
        min_score: minimum detection confidence in [0, 1].
        model_path: explicit .tflite file; otherwise the cache, then a download (see :mod:`faceanalytics.runtime.hub`).
            A file that is not one of the registered BlazeFace files is test-loaded in a child
            process first (about a second, once per file and process; :mod:`faceanalytics.runtime.model_probe`).
        allow_download: fetch missing weights from MediaPipe's model storage.
        backend: ``"auto"`` (onnxruntime for ``"short"``, MediaPipe for ``"full"``), ``"onnx"`` or
            ``"mediapipe"``.
        device: where the onnxruntime backend runs (see :mod:`faceanalytics.runtime.device`).
        threads: its onnxruntime threads (``None``: 1, as it runs next to the landmark model's
            pool of spinning threads; a Pipeline that creates its detector joins the two into one
            session, see :mod:`faceanalytics.runtime.joint_session`, and then both use all cores).
        tile: images whose longer side exceeds ``1.25 * tile`` pixels are also searched in
            overlapping tiles of this side, so that group photos and small faces in large images
            are found (:mod:`faceanalytics.geometry.tiles`); ``None``: the whole image only. Images up to
            640 pixels (VGA frames) cost one pass either way.

    Boxes from the onnxruntime backend are not clipped to the image, and not rounded to whole
    pixels; MediaPipe's are.

    Detections carry the six BlazeFace keypoints (:data:`faceanalytics.core.types.DETECTOR_KEYPOINT_NAMES`).
    One instance may be shared by threads: calls are serialised.
    """

    def __init__(
        self,
        model: str = "short",
        min_score: float = 0.5,
        *,
        model_path: str | os.PathLike | None = None,
        allow_download: bool = True,
        backend: str = "auto",
        device: Device = "auto",
        threads: int | None = None,
        tile: int | None = 512,
    ) -> None:
        if model not in DETECTOR_MODELS:
            raise ParameterError(f"unknown BlazeFace model {model!r}; use one of {', '.join(DETECTOR_MODELS)}")
        if not (0.0 <= float(min_score) <= 1.0):
            raise ParameterError(f"min_score must be in [0, 1]; got {min_score}")
        if backend not in BACKENDS:
            raise ParameterError(f"unknown detector backend {backend!r}; use one of {', '.join(BACKENDS)}")
        if tile is not None and (not isinstance(tile, int) or isinstance(tile, bool) or tile < 64):
            raise ParameterError(f"tile must be an integer >= 64 or None; got {tile!r}")
        if backend == "onnx" and model != "short":
            raise ParameterError("the onnx backend runs the 'short' model only; use backend='mediapipe' for 'full'")
        self.model = model
        self.min_score = float(min_score)
        self.tile = tile
        self.model_path = resolve_detector_model(model, model_path, allow_download=allow_download)
        if backend == "auto":
            backend = "onnx" if model == "short" else "mediapipe"
        self.backend = backend
        self._lock = threading.Lock()
        self._closed = False
        self._onnx: OnnxBlazeFace | None = None
        self._task: Any = None
        if self.backend == "onnx":
            require_tflite(self.model_path)  # read by our own parser and onnxruntime: no child process needed
            self._onnx = OnnxBlazeFace(self.model_path, self.min_score, device, threads)
            return
        check_detector_file(self.model_path)  # a file the registry does not know is test-loaded in a child first
        mp, base_options, vision = _import_mediapipe()
        self._mp = mp
        options = vision.FaceDetectorOptions(
            base_options=base_options(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.IMAGE,
            min_detection_confidence=self.min_score,
        )
        task = None
        try:
            task = vision.FaceDetector.create_from_options(options)
            with _tasks_lock:
                _OPEN_TASKS.add(task)
            # One inference now: a file that loads but cannot run fails here, and LiteRT's notices
            # of a first inference come with the load's, not in the middle of a run.
            task.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.zeros((64, 64, 3), np.uint8)))
        except Exception as exc:  # MediaPipe raises RuntimeError/ValueError with C++ status text
            if task is not None:  # loaded but cannot run: close it now, not from a garbage collection
                _close_task(task)
            raise ModelFormatError(
                f"MediaPipe cannot load detector model {self.model_path}: {exc}. Pass a BlazeFace .tflite file, or delete "
                "a damaged cached copy and run `faceanalytics download-models`"
            ) from exc
        self._task = task
        _LIVE.add(self)

    @property
    def onnx_runner(self) -> OnnxBlazeFace | None:
        """The onnxruntime backend's runner; ``None`` for MediaPipe."""
        return self._onnx

    @property
    def providers(self) -> tuple[str, ...]:
        """onnxruntime providers of the onnx backend; ``()`` for MediaPipe."""
        return self._onnx.providers if self._onnx is not None else ()

    def detect(self, image: np.ndarray) -> tuple[Detection, ...]:
        """Faces in an HxWx3 uint8 BGR image, best first (large images also in tiles, see ``tile``)."""
        if self.tile is None:
            return self._detect_once(image)
        return detect_tiled(self._detect_once, image, self.tile, weighted_nms, min_score=self.min_score)

    def _detect_once(self, image: np.ndarray) -> tuple[Detection, ...]:
        if self._onnx is not None:
            if self._closed:
                raise RuntimeError("detector is closed")
            return self._onnx.detect(image)
        h, w = image.shape[:2]
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        mp_image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb)
        with self._lock:
            if self._closed:
                raise RuntimeError("detector is closed")
            try:
                result = self._task.detect(mp_image)
            except Exception as exc:  # a model file that loaded but cannot run on this image size
                raise ModelFormatError(f"detector model {self.model_path} failed on a {w}x{h} image: {exc}") from exc
        out = []
        for d in result.detections:
            bb = d.bounding_box
            box = np.array([bb.origin_x, bb.origin_y, bb.origin_x + bb.width, bb.origin_y + bb.height], np.float32)
            score = float(d.categories[0].score) if d.categories else 0.0
            # Normalised keypoints are continuous coordinates; pixel centres sit at +0.5.
            kps = np.array([[k.x * w - 0.5, k.y * h - 0.5] for k in (d.keypoints or [])], np.float32).reshape(-1, 2)
            out.append(Detection(box=box, score=min(max(score, 0.0), 1.0), keypoints=kps))
        return tuple(out)

    def close(self) -> None:
        """Release the MediaPipe task. Also done at exit, and when the object is collected (then on
        a short-lived thread, see ``__del__``); call it (or use ``with Pipeline(...)``) to free it now."""
        with self._lock:
            if not self._closed:
                self._closed = True
                if self._task is not None:
                    _close_task(self._task)

    def _close_in_background(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def __del__(self) -> None:
        # Not on this thread: MediaPipe's close() goes through executor.submit(), and this may be a
        # garbage collection running inside a submit() on this very thread (see _OPEN_TASKS). A
        # short-lived thread waits for the lock instead; the task stays referenced until then.
        if getattr(self, "_closed", True) or getattr(self, "_task", None) is None:
            return  # closed already, or the onnxruntime backend: nothing to release
        with contextlib.suppress(Exception):
            threading.Thread(target=self._close_in_background, name="faceanalytics-detector-close", daemon=True).start()

    def __repr__(self) -> str:
        return (
            f"BlazeFaceDetector(model={self.model!r}, min_score={self.min_score}, backend={self.backend!r}, tile={self.tile}, "
            f"model_path='{self.model_path}')"
        )
