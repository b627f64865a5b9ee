"""The stateless image pipeline: detect faces, then landmark them with FPENet."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import cast

import numpy as np

from faceanalytics.core.errors import ParameterError
from faceanalytics.core.image import ImageInput, load_image
from faceanalytics.core.schema import LandmarkSchema
from faceanalytics.core.types import Detection, Face, Result
from faceanalytics.geometry.crop import validate_boxes
from faceanalytics.plugins import Frame, Plugin, default_plugins
from faceanalytics.plugins.base import check_camera_matrix
from faceanalytics.runners.detector import BlazeFaceDetector, Detector
from faceanalytics.runners.fpenet import FPENetRunner
from faceanalytics.runtime.device import Device
from faceanalytics.runtime.joint_session import share_cpu_threads
from faceanalytics.runtime.registry import DEFAULT_LANDMARK_MODEL

__all__ = ["Pipeline"]

logger = logging.getLogger("faceanalytics")


class Pipeline:
    """Faces and landmarks from images. Stateless: safe to call from several threads.

    Args:
        landmark_model: a registered model name or a path to an FPENet-contract ONNX file
            (68, 80 or 104 points, e.g. NVIDIA TAO FPENet). ``None``: the bundled FPENet-68.
        detector: ``"short"`` or ``"full"`` (BlazeFace ranges), or any :class:`Detector`.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"tensorrt"`` or a providers
            list (see :mod:`faceanalytics.runtime.device`).
        threads: onnxruntime intra-op threads of the landmark model, and of the detector when the
            pipeline creates it: on the CPU the two share one session and its threads
            (:mod:`faceanalytics.runtime.joint_session`); ``None``: one per physical core.
        min_score: minimum detector confidence in [0, 1] (BlazeFace detectors only).
        max_faces: keep at most this many faces, largest first (``None``: all).
        detector_model: explicit BlazeFace .tflite file instead of the cached/downloaded one.
        plugins: what runs on each face after the landmarks, in order (each sees the results of
            those before it); ``None``: all built-ins (:func:`faceanalytics.plugins.default_plugins`);
            ``[]``: none.

    The BlazeFace detector is created on first use, so ``pipe(image, boxes=...)`` never needs
    detector weights.

    Raises:
        ModelNotFoundError, ModelFormatError: the landmark model is missing or not FPENet-shaped.
        DeviceError: unknown device.
        ParameterError: bad ``detector``, ``min_score``, ``max_faces`` or ``plugins`` (a ``ValueError``).
    """

    def __init__(
        self,
        landmark_model: str | os.PathLike | None = None,
        *,
        detector: str | Detector = "short",
        device: Device = "auto",
        threads: int | None = None,
        min_score: float = 0.5,
        max_faces: int | None = None,
        detector_model: str | os.PathLike | None = None,
        plugins: Sequence[Plugin] | None = None,
    ) -> None:
        if max_faces is not None and (not isinstance(max_faces, int) or max_faces < 1):
            raise ParameterError(f"max_faces must be a positive integer or None; got {max_faces!r}")
        if not (0.0 <= float(min_score) <= 1.0):
            raise ParameterError(f"min_score must be in [0, 1]; got {min_score}")
        if isinstance(detector, str):
            if detector not in ("short", "full"):
                raise ParameterError(f"detector must be 'short', 'full' or a Detector object; got {detector!r}")
        elif not isinstance(detector, Detector):
            raise ParameterError(
                f"detector must be 'short', 'full' or an object with detect(image); got {type(detector).__name__}"
            )
        self.landmarker = FPENetRunner(landmark_model or DEFAULT_LANDMARK_MODEL, device=device, threads=threads)
        self.plugins: tuple[Plugin, ...] = tuple(default_plugins() if plugins is None else plugins)
        names = [getattr(p, "name", None) for p in self.plugins]
        for p, name in zip(self.plugins, names, strict=True):
            if not isinstance(name, str) or not name or not callable(p):
                raise ParameterError(f"plugins need a non-empty str `name` and __call__(face, frame); got {p!r}")
        if len(set(names)) != len(names):
            raise ParameterError(f"plugin names must be unique; got {names}")
        self.max_faces = max_faces
        self.min_score = float(min_score)
        self._detector_arg = detector
        self._device = device
        self._detector_model = detector_model
        self._detector: Detector | None = None if isinstance(detector, str) else detector
        self._detector_lock = threading.Lock()
        logger.info(
            "landmark model %s (%d points, %s) on %s",
            self.landmarker.name,
            self.schema.num_points,
            self.landmarker.path,
            ", ".join(self.providers),
        )

    @property
    def providers(self) -> tuple[str, ...]:
        """onnxruntime execution providers the landmark model runs on, most preferred first."""
        return self.landmarker.providers

    @property
    def schema(self) -> LandmarkSchema:
        """Meaning of each landmark index of this pipeline's model."""
        return self.landmarker.schema

    @property
    def detector(self) -> Detector:
        """The face detector (a BlazeFace one is created, and its weights found, on first access)."""
        if self._detector is None:
            with self._detector_lock:
                if self._detector is None:
                    model = cast(str, self._detector_arg)  # a Detector object was stored at construction
                    detector = BlazeFaceDetector(model, self.min_score, model_path=self._detector_model, device=self._device)
                    if detector.onnx_runner is not None:  # one CPU thread pool for both models
                        share_cpu_threads([detector.onnx_runner, self.landmarker], self.landmarker.threads)
                    logger.info(
                        "detector BlazeFace %s (%s, min_score %g) from %s",
                        model,
                        detector.backend,
                        self.min_score,
                        detector.model_path,
                    )
                    self._detector = detector
        return self._detector

    def detect(self, image: ImageInput) -> tuple[Detection, ...]:
        """Faces without landmarks, largest first (after ``max_faces``)."""
        return self._detect(load_image(image))

    def _detect(self, bgr: np.ndarray) -> tuple[Detection, ...]:
        h, w = bgr.shape[:2]
        usable = []
        for d in self.detector.detect(bgr):
            x1, y1, x2, y2 = (float(v) for v in d.box)
            if np.isfinite(d.box).all() and x2 > x1 and y2 > y1 and x2 > 0 and y2 > 0 and x1 < w and y1 < h:
                usable.append(d)
            else:  # a custom detector's empty or off-image box cannot be landmarked
                logger.debug("dropping detection with box %s", d.box.tolist())
        usable.sort(key=lambda d: d.area, reverse=True)
        return tuple(usable[: self.max_faces] if self.max_faces else usable)

    def __call__(
        self,
        image: ImageInput,
        boxes: np.ndarray | Sequence[Sequence[float]] | None = None,
        camera_matrix: np.ndarray | None = None,
    ) -> Result:
        """Analyse one image.

        Args:
            image: HxWx3 uint8 BGR array (OpenCV order), a path, or encoded image bytes (JPEG,
                PNG, ...: ``bytes``, ``bytearray``, ``memoryview``); other layouts are converted
                as documented in :mod:`faceanalytics.core.image`.
            boxes: skip detection and landmark these ``x1, y1, x2, y2`` boxes (input pixels), in the
                given order; each face gets score 1.0.
            camera_matrix: (3, 3) pinhole intrinsics in pixels for head pose; ``None`` estimates
                them from the image size.

        Returns:
            A :class:`Result`; ``result.faces == ()`` when there is no face.
        """
        bgr = load_image(image)
        h, w = bgr.shape[:2]
        k = check_camera_matrix(camera_matrix)
        if boxes is None:
            dets = self._detect(bgr)
        else:
            dets = tuple(Detection(box=b, score=1.0) for b in validate_boxes(boxes, (w, h)))
        if not dets:
            return Result(faces=(), image_size=(w, h))
        box_arr = np.stack([d.box for d in dets])
        points, conf = self.landmarker.landmarks(bgr, box_arr)
        faces = [
            Face(box=d.box, score=d.score, landmarks=p, confidence=c, schema=self.schema, detector_keypoints=d.keypoints)
            for d, p, c in zip(dets, points, conf, strict=True)
        ]
        if self.plugins:
            view = bgr.view()  # may be the caller's own array: plugins get a read-only view
            view.setflags(write=False)
            frame = Frame(view, k)
            for plugin in self.plugins:
                faces = [face.with_result(plugin.name, plugin(face, frame)) for face in faces]
        return Result(faces=tuple(faces), image_size=(w, h))

    def close(self) -> None:
        """Release the detector (onnxruntime sessions are freed with the object)."""
        det = self._detector
        if det is not None and hasattr(det, "close") and isinstance(self._detector_arg, str):
            det.close()
        self._detector = None

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Pipeline(landmark_model={self.landmarker.name!r}, detector={self._detector_arg!r}, providers={self.providers})"
