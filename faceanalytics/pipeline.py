"""The stateless image pipeline: detect faces, landmark them with FPENet, run the plugins.

Its three stages are public methods, so that other drivers (the video
:class:`~faceanalytics.Stream`, your own) compose them without reaching inside:

* :meth:`Pipeline.detect`: image -> face boxes (:class:`~faceanalytics.Detection`);
* :meth:`Pipeline.landmarks`: image and boxes -> points and per-point confidence (:class:`LandmarkBatch`);
* :meth:`Pipeline.run_plugins`: faces of one frame -> the same faces with the plugins' results,
  optionally with per-track plugin state (:meth:`Pipeline.new_states`).

``Pipeline(...)(image)`` is these three in a row.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple, cast

import numpy as np

from faceanalytics.core.errors import BoxError, ParameterError
from faceanalytics.core.image import ImageInput, load_image
from faceanalytics.core.options import Options
from faceanalytics.core.schema import LandmarkSchema
from faceanalytics.core.types import Detection, Face, Result
from faceanalytics.geometry.crop import validate_boxes
from faceanalytics.plugins import Frame, Plugin, default_plugins
from faceanalytics.plugins.base import TrackContext, check_camera_matrix
from faceanalytics.runners.detector import BlazeFaceDetector, Detector
from faceanalytics.runners.fpenet import FPENetRunner
from faceanalytics.runtime.joint_session import share_cpu_threads
from faceanalytics.runtime.registry import DEFAULT_LANDMARK_MODEL

__all__ = ["LandmarkBatch", "Pipeline"]

logger = logging.getLogger("faceanalytics")


class LandmarkBatch(NamedTuple):
    """Landmarks of M boxes of one image (:meth:`Pipeline.landmarks`).

    Attributes:
        points: (M, N, 2) float32 ``x, y`` in image pixels, ordered as the pipeline's ``schema``.
        confidence: (M, N) float32 per-point confidence, as ``Face.confidence`` reports it
            (calibrated where the model has a calibration, docs/models.md).
        peaks: (M, N) float32 raw ``softargmax:1`` peaks of the model (the same array as
            ``confidence`` for a model without a calibration); comparable within one model only.
            The Stream decides that a face was lost from these.
    """

    points: np.ndarray
    confidence: np.ndarray
    peaks: np.ndarray


class _Step(NamedTuple):
    """One plugin, with what the plugin loop asks of it, looked up once."""

    plugin: Any
    name: str
    stateful: bool  # has new_state(track): gets its track's state in video
    raw_landmarks: bool  # sees the unsmoothed landmarks in a smoothing Stream


class Pipeline:
    """Faces and landmarks from images. Stateless: safe to call from several threads.

    Args:
        landmark_model: a registered model name or a path to an FPENet-contract ONNX file
            (68, 80 or 104 points, e.g. NVIDIA TAO FPENet); ``None``: ``options.landmark_model``
            (default: the bundled FPENet-68).
        detector: a :class:`Detector` object of your own, or ``"short"`` / ``"full"`` (BlazeFace);
            ``None``: ``options.detector``.
        plugins: what runs on each face after the landmarks, in order (each sees the results of
            those before it); ``None``: all built-ins (:func:`faceanalytics.plugins.default_plugins`);
            ``[]``: none.
        options: the settings (:class:`~faceanalytics.Options`: device, threads, min_score,
            max_faces, detector_model, and the video settings a :class:`~faceanalytics.Stream`
            over this pipeline starts from); ``None``: the defaults.
        **settings: any :class:`~faceanalytics.Options` field, overriding ``options``:
            ``Pipeline(device="cpu", max_faces=1)``. ``threads`` are the onnxruntime threads of
            the landmark model and of the detector the pipeline creates: on the CPU the two share
            one session and its threads (:mod:`faceanalytics.runtime.joint_session`).

    The BlazeFace detector is created on first use, so ``pipe(image, boxes=...)`` never needs
    detector weights; :meth:`load` creates it up front. ``pipe(image)`` runs the stages
    :meth:`detect`, :meth:`landmarks` and :meth:`run_plugins`; per-track plugin state (video) is
    made by :meth:`new_states` and kept by the caller (the Stream), never by the pipeline.

    Raises:
        ModelNotFoundError, ModelFormatError: the landmark model is missing or not FPENet-shaped.
        DeviceError: unknown device.
        ParameterError: a bad setting (validated by :class:`~faceanalytics.Options`), ``detector``
            or ``plugins`` (a ``ValueError``).
    """

    def __init__(
        self,
        landmark_model: str | os.PathLike | None = None,
        *,
        detector: str | Detector | None = None,
        plugins: Sequence[Plugin] | None = None,
        options: Options | None = None,
        **settings: Any,
    ) -> None:
        if landmark_model is not None:
            settings["landmark_model"] = landmark_model
        if isinstance(detector, str):
            settings["detector"] = detector
        elif detector is not None and not isinstance(detector, Detector):
            raise ParameterError(
                f"detector must be 'short', 'full' or an object with detect(image); got {type(detector).__name__}"
            )
        #: The validated settings (:class:`~faceanalytics.Options`).
        self.options: Options = (options or Options()).replace(**settings)
        opts = self.options
        device, threads, min_score = opts.device, opts.threads, opts.min_score
        self.landmarker = FPENetRunner(opts.landmark_model or DEFAULT_LANDMARK_MODEL, device=device, threads=threads)
        self.plugins = default_plugins() if plugins is None else plugins
        self.max_faces = opts.max_faces
        self.min_score = min_score
        self._detector_arg: str | Detector = opts.detector if detector is None or isinstance(detector, str) else detector
        self._device = device
        self._detector_model = opts.detector_model
        self._detector: Detector | None = None if isinstance(self._detector_arg, str) else self._detector_arg
        self._detector_lock = threading.Lock()
        logger.info(
            "landmark model %s (%d points, %s) on %s",
            self.landmarker.name,
            self.schema.num_points,
            self.landmarker.path,
            ", ".join(self.providers),
        )

    @property
    def plugins(self) -> tuple[Plugin, ...]:
        """What runs on each face after the landmarks, in order (assignable: any sequence of plugins)."""
        return self._plugins

    @plugins.setter
    def plugins(self, plugins: Sequence[Plugin]) -> None:
        plugins = tuple(plugins)
        names = [getattr(p, "name", None) for p in plugins]
        for p, name in zip(plugins, names, strict=True):
            if not isinstance(name, str) or not name or not callable(p):
                raise ParameterError(f"plugins need a non-empty str `name` and __call__(face, frame); got {p!r}")
            if hasattr(p, "new_state") and not callable(p.new_state):
                raise ParameterError(f"plugin {name!r}: new_state must be a method new_state(track) -> state")
        if len(set(names)) != len(names):
            raise ParameterError(f"plugin names must be unique; got {names}")
        steps = tuple(
            _Step(p, p.name, hasattr(p, "new_state"), bool(getattr(p, "raw_landmarks", False))) for p in plugins
        )
        self._steps, self._plugins = steps, plugins

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
        return self._load_detector()

    def load(self) -> Pipeline:
        """Create the detector now rather than on first use, so that its set-up errors (weights
        missing, ``MissingDependencyError``) surface here, before any image. Returns the pipeline.

        Raises:
            ModelNotFoundError, ChecksumError, ModelFormatError, MissingDependencyError: the
                detector cannot be created.
        """
        self._load_detector()
        return self

    def _load_detector(self) -> Detector:
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

    # -- the stages -----------------------------------------------------------------------------
    def detect(self, image: ImageInput) -> tuple[Detection, ...]:
        """Stage 1: faces without landmarks, largest first (at most ``max_faces``).

        Args:
            image: as for :meth:`__call__`; an HxWx3 uint8 C-contiguous BGR array (what
                :func:`~faceanalytics.core.image.load_image` returns) is used as it is, unchecked
                beyond its shape and type, without a copy.

        Detections whose box cannot be landmarked (not finite, empty, off the image) are dropped.
        """
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

    def landmarks(self, image: ImageInput, boxes: np.ndarray | Sequence[Sequence[float]]) -> LandmarkBatch:
        """Stage 2: the landmarks of M face boxes of one image, in one batch.

        Args:
            image: as for :meth:`detect`.
            boxes: (M, 4) ``x1, y1, x2, y2`` in image pixels: boxes of :meth:`detect`, or boxes
                placed on earlier landmarks (:func:`faceanalytics.geometry.boxes.box_from_landmarks`,
                as the Stream does). Used as given: each square crop around a box is zero-padded
                where it leaves the image. Unlike ``pipe(image, boxes=...)`` nothing checks them
                (:func:`faceanalytics.geometry.crop.validate_boxes` does).

        Returns:
            A :class:`LandmarkBatch` ``(points, confidence, peaks)``.
        """
        arr = np.asarray(boxes)
        if arr.ndim != 2 or arr.shape[1] != 4:
            raise BoxError(f"boxes must have shape (M, 4) as x1, y1, x2, y2; got {arr.shape}")
        return self._landmarks(load_image(image), arr)

    def _landmarks(self, bgr: np.ndarray, boxes: np.ndarray) -> LandmarkBatch:
        if len(boxes) == 0:
            n = self.schema.num_points
            none = np.zeros((0, n), np.float32)
            return LandmarkBatch(np.zeros((0, n, 2), np.float32), none, none)
        points, peaks = self.landmarker.landmarks(bgr, boxes, raw=True)
        return LandmarkBatch(points, self.landmarker.calibrate(peaks), peaks)

    def new_states(self, track: TrackContext) -> dict[str, Any]:
        """Fresh per-track states of the plugins that keep one (those with ``new_state``), by
        plugin name, for :meth:`run_plugins`. A Stream calls this once when a track starts
        (docs/plugins.md, "Per-track state")."""
        return {step.name: step.plugin.new_state(track) for step in self._steps if step.stateful}

    def run_plugins(
        self,
        faces: Sequence[Face],
        frame: Frame,
        states: Sequence[Mapping[str, Any] | None] | None = None,
        raw_landmarks: Sequence[np.ndarray | None] | None = None,
    ) -> list[Face]:
        """Stage 3: the plugins on the faces of one frame, in order; each plugin sees the results
        of those before it. Returns the faces with the results attached (``face.head_pose``,
        ..., ``face.extras[name]``), in the same order.

        Args:
            faces: faces of ``frame``.
            frame: the image they come from, with its camera matrix and (video) timestamp.
            states: per face, its track's plugin states (:meth:`new_states`): a plugin with
                ``new_state`` is called ``plugin(face, frame, state)`` with its own. ``None`` (single
                images), or ``None`` for a face: every plugin is called ``plugin(face, frame)``.
            raw_landmarks: per face, its unsmoothed landmarks, seen instead of ``face.landmarks``
                by the plugins whose ``raw_landmarks`` attribute is true (a smoothing Stream passes
                them); ``None``: every plugin sees ``face.landmarks``.
        """
        steps = self._steps
        out = []
        for i, face in enumerate(faces):
            state = states[i] if states is not None else None
            raw = raw_landmarks[i] if raw_landmarks is not None else None
            subject: Face | None = None  # the face with its raw landmarks, made once, kept in step
            for plugin, name, stateful, wants_raw in steps:
                target = face
                if wants_raw and raw is not None:
                    if subject is None:
                        subject = replace(face, landmarks=raw)
                    target = subject
                if stateful and state is not None:
                    result = plugin(target, frame, state.get(name))
                else:
                    result = plugin(target, frame)
                face = face.with_result(name, result)
                if subject is not None:
                    subject = subject.with_result(name, result)
            out.append(face)
        return out

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
        lm = self._landmarks(bgr, np.stack([d.box for d in dets]))
        faces = [
            Face(box=d.box, score=d.score, landmarks=p, confidence=c, schema=self.schema, detector_keypoints=d.keypoints)
            for d, p, c in zip(dets, lm.points, lm.confidence, strict=True)
        ]
        if self._steps:
            faces = self.run_plugins(faces, Frame(bgr, k))
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
