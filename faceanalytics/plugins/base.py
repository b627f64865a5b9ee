"""The plugin protocol: what turns one face's landmarks into something an application needs.

A plugin has a ``name`` and is called once per face with the face (carrying the results of the
plugins before it) and the :class:`Frame`; it returns its result. Results of the built-in names
(``head_pose``, ``eyes``, ``mouth``, ``alignment``) land in the face's typed attributes, any other
name in ``face.extras[name]`` (and in JSON when the result has ``to_dict()``).

Plugins must not raise on bad landmarks (NaN, degenerate faces): return a result flagged
``valid=False`` with a ``reason`` instead.

Two optional parts, for video (:class:`~faceanalytics.Stream`); a plugin without them is called
``plugin(face, frame)`` everywhere:

* **Per-track state** (:class:`StatefulPlugin`): a plugin with ``new_state(track)`` gets one state
  object per tracked face. The Stream calls ``new_state(track)`` (a :class:`TrackContext`) when a
  track starts, and then ``plugin(face, frame, state)`` with that track's state on each of its
  frames (``frame.timestamp`` set). Single images have no history: ``Pipeline(...)(image)`` calls
  ``plugin(face, frame)``, so ``__call__`` must accept ``state=None``. The head pose keeps its
  previous pose (where PnP starts) and its One-Euro filter this way.
* **Unsmoothed landmarks**: a plugin whose ``raw_landmarks`` attribute is true sees the face's
  unsmoothed landmarks in a Stream that smooths them (smoothing would delay and flatten signals a
  few frames long, such as blinks); the others see the smoothed ones. The eye and mouth plugins
  set it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from faceanalytics.core.errors import CameraMatrixError, ParameterError
from faceanalytics.core.schema import IBUG_SLICE
from faceanalytics.core.types import Face

__all__ = [
    "Frame",
    "Plugin",
    "StatefulPlugin",
    "TrackContext",
    "check_camera_matrix",
    "estimate_camera_matrix",
    "landmark_problem",
]


_PROBLEM_MEMO = "_landmark_problem"  # per-face memo: plugins ask in turn, the landmarks are read-only


def landmark_problem(face: Face) -> str | None:
    """Why a face's landmarks cannot be measured (``None`` when they can): too few points for the
    68 iBUG regions, values that are not finite, or a face collapsed to a point or a line.

    Computed once per face (the landmark arrays of a :class:`Face` are read-only, and copies made
    by :meth:`Face.with_result` share them and the answer)."""
    memo = face.__dict__
    if _PROBLEM_MEMO in memo:
        return memo[_PROBLEM_MEMO]
    problem = _landmark_problem(face)
    object.__setattr__(face, _PROBLEM_MEMO, problem)
    return problem


def _landmark_problem(face: Face) -> str | None:
    if face.schema.num_points < IBUG_SLICE.stop:
        return f"schema {face.schema.name} lacks the 68 iBUG points"
    d = face.landmarks[IBUG_SLICE].astype(np.float64)
    total = d.sum(axis=0)  # finite exactly when every point is: float64 sums of float32 never overflow
    sx, sy = total.tolist()
    if not (math.isfinite(sx) and math.isfinite(sy)):
        return "landmarks are not finite"
    d -= total / len(d)
    # eigenvalues of the 2x2 scatter matrix, smallest first (float64 holds the squares of any float32)
    (sxx, sxy), (_, syy) = (d.T @ d).tolist()
    mid, rad = (sxx + syy) / 2, math.hypot((sxx - syy) / 2, sxy)
    spread = (mid - rad, mid + rad)
    if spread[1] < 1e-6 * len(d) or spread[0] < 1e-3 * spread[1]:
        return "landmarks are degenerate (collapsed to a point or a line)"
    return None


def estimate_camera_matrix(width: int, height: int) -> np.ndarray:
    """Pinhole intrinsics guessed from the image size: focal length ``max(width, height)`` pixels
    (about a 53 degree horizontal field of view for landscape images, typical of webcams and
    phones), principal point at the image centre, no skew."""
    f = float(max(width, height))
    return np.array([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]])


def check_camera_matrix(k: np.ndarray | None) -> np.ndarray | None:
    """A caller's camera matrix as a (3, 3) float64 array (``None`` stays ``None``).

    Raises:
        CameraMatrixError: not a finite ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` with fx, fy > 0.
    """
    if k is None:
        return None
    try:
        arr = np.asarray(k, np.float64)
    except (TypeError, ValueError):
        raise CameraMatrixError("camera_matrix must be a 3x3 array of numbers") from None
    if arr.shape != (3, 3) or not np.isfinite(arr).all() or arr[0, 0] <= 0 or arr[1, 1] <= 0 or arr[2, 2] != 1:
        raise CameraMatrixError(f"camera_matrix must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]], fx and fy > 0; got {arr.tolist()}")
    return arr


@dataclass(frozen=True, eq=False)
class Frame:
    """What plugins may know about the image a face came from.

    Attributes:
        image: HxWx3 uint8 BGR, read-only (a read-only view of the array given).
        camera_matrix: (3, 3) intrinsics in pixels from the caller, or ``None``.
        timestamp: in a :class:`~faceanalytics.Stream`, the frame's timestamp in seconds
            (strictly increasing); ``None`` for single images.
    """

    image: np.ndarray
    camera_matrix: np.ndarray | None = None
    timestamp: float | None = None

    def __post_init__(self) -> None:
        # the image may be the caller's own array: plugins get a read-only view
        if isinstance(self.image, np.ndarray) and self.image.flags.writeable:
            view = self.image.view()
            view.setflags(write=False)
            object.__setattr__(self, "image", view)

    def crop_source(self) -> np.ndarray:
        """:attr:`image`, checked for the plugins that cut crops out of it (the eye and mouth
        networks): a non-empty uint8 gray or colour image.

        Raises:
            ParameterError: any other array.
        """
        image = self.image
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or 0 in image.shape:
            raise ParameterError(f"frame.image must be a non-empty uint8 image; got {image.dtype} {image.shape}")
        return image

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return int(self.image.shape[1]), int(self.image.shape[0])

    @property
    def intrinsics(self) -> np.ndarray:
        """The caller's camera matrix, else :func:`estimate_camera_matrix` of the image size."""
        if self.camera_matrix is not None:
            return self.camera_matrix
        return estimate_camera_matrix(*self.size)


@dataclass(frozen=True)
class TrackContext:
    """What a plugin's ``new_state`` learns about the video track the state is for.

    Attributes:
        track_id: the track's id (``face.track_id`` of its faces).
        start: timestamp of the track's first frame, seconds.
        smoothing: the Stream's One-Euro settings ``(min_cutoff Hz, beta, d_cutoff Hz)`` by signal:
            ``"landmarks"`` and ``"pose"`` (``Stream(landmark_smoothing=..., pose_smoothing=...)``);
            empty when the Stream does not smooth (``smoothing=False``). A plugin that smooths a
            signal of its own follows these (``faceanalytics.plugins.smoothing.OneEuroFilter``).
    """

    track_id: int
    start: float
    smoothing: Mapping[str, tuple[float, ...]]


@runtime_checkable
class Plugin(Protocol):
    """``name`` plus ``__call__(face, frame) -> result`` (see the module docstring for the optional
    per-track state and ``raw_landmarks``)."""

    name: str

    def __call__(self, face: Face, frame: Frame) -> Any: ...


@runtime_checkable
class StatefulPlugin(Protocol):
    """A plugin with per-track state: ``new_state(track) -> state`` and ``__call__(face, frame,
    state=None) -> result``. A Stream keeps one state per track and plugin; ``state`` is ``None``
    for single images."""

    name: str

    def new_state(self, track: TrackContext) -> Any: ...

    def __call__(self, face: Face, frame: Frame, state: Any = None) -> Any: ...
