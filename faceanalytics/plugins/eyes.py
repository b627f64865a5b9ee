"""Eye aspect ratio per eye, and closed eyes (Soukupova and Cech, 2016)."""

from __future__ import annotations

import numpy as np

from faceanalytics.core.errors import ParameterError
from faceanalytics.core.schema import LandmarkSchema
from faceanalytics.core.types import Eyes, Face
from faceanalytics.plugins.base import Frame, landmark_problem

__all__ = ["DEFAULT_EAR_THRESHOLD", "EyesPlugin", "eye_aspect_ratios"]

#: EAR below which an eye counts as closed in single images (a Stream adapts it per person).
DEFAULT_EAR_THRESHOLD = 0.2


def eye_aspect_ratios(points: np.ndarray, schema: LandmarkSchema) -> tuple[np.ndarray, np.ndarray]:
    """``(left_ear, right_ear)`` of (K, 2) or (N, K, 2) landmarks; the subject's left and right.

    Each eye's six contour points p0..p5 (corner, two upper-lid points, corner, two lower-lid
    points): ``EAR = (|p1 - p5| + |p2 - p4|) / (2 |p0 - p3|)``. NaN where the corners coincide.
    """
    pts = np.asarray(points, np.float64)
    p = pts[..., np.array([schema.left_eye, schema.right_eye]), :]  # (..., 2 eyes, 6, 2)
    d = p[..., [1, 2, 0], :] - p[..., [5, 4, 3], :]  # p1 - p5, p2 - p4, p0 - p3
    lengths = np.hypot(d[..., 0], d[..., 1])
    vertical, width = lengths[..., 0] + lengths[..., 1], lengths[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        ear = np.where(width > 1e-6, vertical / (2 * width), np.nan)
    return ear[..., 0], ear[..., 1]


class EyesPlugin:
    """Per-eye EAR and closed flags.

    Args:
        threshold: EAR below which an eye is closed.
    """

    name = "eyes"
    raw_landmarks = True  # in a smoothing Stream: blinks are a few frames long (plugins.base)

    def __init__(self, threshold: float = DEFAULT_EAR_THRESHOLD) -> None:
        if not 0.0 < threshold < 1.0:
            raise ParameterError(f"threshold must be in (0, 1); got {threshold}")
        self.threshold = float(threshold)

    def __call__(self, face: Face, frame: Frame) -> Eyes:
        problem = landmark_problem(face)
        if problem:
            nan = float("nan")
            return Eyes(nan, nan, nan, False, False, False, self.threshold, valid=False, reason=problem)
        left, right = eye_aspect_ratios(face.landmarks, face.schema)
        return eyes_from_ears(float(left), float(right), self.threshold)


def eyes_from_ears(left_ear: float, right_ear: float, threshold: float) -> Eyes:
    """An :class:`Eyes` result from two EARs and a threshold (shared with the Stream's adaptive one)."""
    left, right = float(left_ear), float(right_ear)
    if not (np.isfinite(left) and np.isfinite(right)):
        nan = float("nan")
        reason = "eye landmarks are degenerate or not finite"
        return Eyes(nan, nan, nan, False, False, False, threshold, valid=False, reason=reason)
    lc, rc = left < threshold, right < threshold
    return Eyes(left, right, (left + right) / 2, lc, rc, lc and rc, threshold)
