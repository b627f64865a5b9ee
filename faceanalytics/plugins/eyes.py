"""Eye openness per eye (a small network on each eye's crop) and the eye aspect ratio (Soukupova
and Cech, 2016)."""

from __future__ import annotations

import math
import os
from dataclasses import replace

import cv2
import numpy as np

from faceanalytics.core.errors import ParameterError
from faceanalytics.core.schema import LandmarkSchema
from faceanalytics.core.types import Eyes, Face
from faceanalytics.plugins.base import Frame, landmark_problem
from faceanalytics.runners.eye_net import EyeOpennessNet

__all__ = [
    "DEFAULT_EAR_THRESHOLD", "DEFAULT_OPENNESS_THRESHOLD", "MIN_FACE_CONTRAST", "EyesPlugin", "combined_openness",
    "eye_aspect_ratios", "eyes_from_ears", "face_contrast",
]  # fmt: skip

#: EAR below which an eye counts as closed when the network does not run (``net=None``; a Stream
#: adapts it per person).
DEFAULT_EAR_THRESHOLD = 0.2

#: Openness below which an eye, or a face's combined openness, counts as closed: chosen by
#: ``faceanalytics.train.eye_openness`` on out-of-fold scores of the training faces (the middle of
#: the range with closed recall >= 95 % and open faces called closed <= 2 %; the ONNX metadata
#: ``openness_threshold``), not on the held-out faces (docs/plugins.md).
DEFAULT_OPENNESS_THRESHOLD = 0.52

#: A face whose gray levels vary less than this (standard deviation, 0-255, over the landmarks'
#: bounding box: :func:`face_contrast`) is too dark or washed out to judge its eyes: the network
#: then gets no say, nor the EAR. Of the 7,900 training and held-out faces of eye_state and
#: landmarks68 one is below, and its landmarks are misplaced on a bare wall (the sets' 0.5th
#: percentiles are 15-24); faces in frames dimmed to 0.15 of their brightness with sensor noise are
#: at 5-8, where the network read open eyes as closed (docs/plugins.md, "Eyes too dark to judge").
#: Eye state barely moves it, so it never favours open or closed eyes.
MIN_FACE_CONTRAST = 7.0


def face_contrast(image: np.ndarray, landmarks: np.ndarray) -> float:
    """Standard deviation of the gray levels (the green channel of BGR) over the bounding box of
    the (K, 2) landmarks, every fourth pixel in each direction; NaN when the box misses the image
    or a point is not finite."""
    pts = np.asarray(landmarks, np.float32)
    if not np.isfinite(pts).all():
        return math.nan
    x, y, bw, bh = cv2.boundingRect(pts)  # integer pixels covering the points
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + bw, w), min(y + bh, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return math.nan
    region = image[y0:y1:4, x0:x1:4] if image.ndim == 2 else image[y0:y1:4, x0:x1:4, 1]
    return float(cv2.meanStdDev(region)[1][0, 0])


def combined_openness(left: np.ndarray | float, right: np.ndarray | float) -> np.ndarray:
    """Both eyes' openness taken together: the logistic of the mean of their log-odds (the
    geometric mean of their odds of being open). One eye at 0.05 and the other at 0.85 give 0.35;
    both at 0.9 give 0.9; 0.01 and 0.99 give 0.5."""
    p = np.clip(np.stack([np.asarray(left, np.float64), np.asarray(right, np.float64)]), 1e-6, 1 - 1e-6)
    z = np.log(p / (1 - p)).mean(axis=0)
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic function, without overflow warnings


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
    """Per-eye openness, EAR and closed flags.

    Args:
        threshold: EAR below which an eye is closed, used when ``net`` is None.
        net: the eye-openness network: a name in :data:`faceanalytics.runtime.registry.EYE_MODELS`
            (``"eye-openness"``, the default) or a path to an ONNX file; ``None`` for EAR only (no
            image needed: the closed flags come from the EAR and ``threshold``).
        openness_threshold: openness below which an eye (``left_closed``, ``right_closed``) and
            the face (``closed``: :func:`combined_openness` of both eyes) are closed, with a network.

    Raises:
        ParameterError: a threshold outside (0, 1).
        ModelNotFoundError, ChecksumError, ModelFormatError: the network cannot be loaded.
    """

    name = "eyes"
    raw_landmarks = True  # in a smoothing Stream: blinks are a few frames long (plugins.base)

    def __init__(
        self,
        threshold: float = DEFAULT_EAR_THRESHOLD,
        *,
        net: str | os.PathLike | None = "eye-openness",
        openness_threshold: float = DEFAULT_OPENNESS_THRESHOLD,
    ) -> None:
        for name, value in (("threshold", threshold), ("openness_threshold", openness_threshold)):
            if not 0.0 < value < 1.0:
                raise ParameterError(f"{name} must be in (0, 1); got {value}")
        self.threshold = float(threshold)
        self.openness_threshold = float(openness_threshold)
        self.net = EyeOpennessNet(net) if net is not None else None

    def __call__(self, face: Face, frame: Frame) -> Eyes:
        problem = landmark_problem(face)
        if problem:
            nan = math.nan
            return Eyes(nan, nan, nan, False, False, False, self.threshold, valid=False, reason=problem)
        left, right = _face_ears(face.landmarks, face.schema)
        eyes = eyes_from_ears(left, right, self.threshold)
        if self.net is None or not eyes.valid:
            return eyes
        image = frame.crop_source()
        contrast = face_contrast(image, face.landmarks)
        if not contrast >= MIN_FACE_CONTRAST:
            # too dark to judge: no guess from the network, nor from the EAR, which the same
            # conditions fool (docs/plugins.md)
            reason = f"face too dark or flat to judge the eyes (contrast {contrast:.1f} < {MIN_FACE_CONTRAST:g} gray levels)"
            return replace(eyes, left_closed=False, right_closed=False, closed=False, valid=False, reason=reason)
        found = self.net.checked_openness(image, face.landmarks)  # landmark_problem has checked the points
        if found is None:
            return eyes
        lo, ro = found
        th = self.openness_threshold
        both = _combined(lo, ro)
        return Eyes(
            eyes.left_ear, eyes.right_ear, eyes.ear, lo < th, ro < th, both < th, self.threshold,
            left_openness=lo, right_openness=ro, openness_threshold=th, openness=both,
        )  # fmt: skip


def _face_ears(points: np.ndarray, schema: LandmarkSchema) -> tuple[float, float]:
    """:func:`eye_aspect_ratios` of one face's (K, 2) landmarks in plain floats (the per-face path:
    numpy's overhead for twelve points cost about 40 microseconds)."""
    both = points[[*schema.left_eye, *schema.right_eye]].tolist()
    out = []
    for (x0, y0), (x1, y1), (x2, y2), (x3, y3), (x4, y4), (x5, y5) in (both[:6], both[6:]):
        width = math.hypot(x0 - x3, y0 - y3)
        vertical = math.hypot(x1 - x5, y1 - y5) + math.hypot(x2 - x4, y2 - y4)
        out.append(vertical / (2 * width) if width > 1e-6 else math.nan)
    return out[0], out[1]


def _combined(left: float, right: float) -> float:
    """:func:`combined_openness` of two floats, in plain floats (the per-face path: numpy's
    overhead for two numbers cost about 30 microseconds)."""
    lo, hi = 1e-6, 1 - 1e-6
    a, b = min(max(left, lo), hi), min(max(right, lo), hi)
    z = 0.5 * (math.log(a / (1 - a)) + math.log(b / (1 - b)))
    return 0.5 * (1.0 + math.tanh(0.5 * z))


def eyes_from_ears(left_ear: float, right_ear: float, threshold: float) -> Eyes:
    """An :class:`Eyes` result from two EARs and a threshold, without openness (the EAR-only path,
    shared with the Stream's adaptive threshold)."""
    left, right = float(left_ear), float(right_ear)
    if not (math.isfinite(left) and math.isfinite(right)):
        nan = float("nan")
        reason = "eye landmarks are degenerate or not finite"
        return Eyes(nan, nan, nan, False, False, False, threshold, valid=False, reason=reason)
    lc, rc = left < threshold, right < threshold
    return Eyes(left, right, (left + right) / 2, lc, rc, lc and rc, threshold)
