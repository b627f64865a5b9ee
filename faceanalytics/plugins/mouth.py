"""Mouth cues: mouth aspect ratio (MAR), mouth open, and a smile score.

Features, all normalised by the outer eye-corner distance (so independent of face size) and
measured in the face's own frame (the eye line made horizontal, so independent of roll):

* ``mar``: the three inner vertical lip gaps (61-67, 62-66, 63-65) averaged, over the inner
  mouth width (60-64);
* ``width``: outer mouth-corner distance (48-54) over the eye-corner distance. Yaw shortens both
  alike, so the ratio keeps;
* ``lift``: how far the mouth corners sit above the middle of the lips, ``((y51 + y57) / 2 -
  (y48 + y54) / 2)``, over the eye-corner distance, divided by ``cos(pitch)`` when the head pose
  is known (looking up or down squeezes vertical distances).

``smile = sigmoid(b + w_width * width + w_lift * lift)``, with the coefficients fitted by logistic
regression on happy vs neutral faces (``benchmarks/calibrate_mouth.py``, training part of
../shared/data/expressions). ``open`` is ``mar > open_threshold``, fitted on surprise vs neutral.
"""

from __future__ import annotations

import math

import numpy as np

from ..types import Face, Mouth
from .base import Frame, landmark_problem

__all__ = ["MOUTH_CALIBRATION", "MouthPlugin", "mouth_features"]

#: Fitted by ``python benchmarks/calibrate_mouth.py`` for the bundled FPENet-68 model (rerun it
#: whenever that model changes).
MOUTH_CALIBRATION = {"bias": -7.128, "width": 11.033, "lift": 6.277, "open_threshold": 0.146}


def mouth_features(points: np.ndarray, pitch_deg: float | None = None) -> tuple[float, float, float]:
    """``(mar, width, lift)`` of (68+, 2) iBUG landmarks (see the module docstring); NaN when degenerate."""
    p = np.asarray(points, np.float64)
    eye_vec = p[45] - p[36]
    iod = float(np.hypot(*eye_vec))
    if not np.isfinite(p[:68]).all() or iod < 1e-6:
        return math.nan, math.nan, math.nan
    c, s = eye_vec / iod
    rot = np.array([[c, s], [-s, c]])  # makes the eye line horizontal
    q = (p[:68] - p[36]) @ rot.T / iod
    inner_width = float(np.hypot(*(q[64] - q[60])))
    gaps = np.linalg.norm(q[[61, 62, 63]] - q[[67, 66, 65]], axis=1).mean()
    mar = float(gaps / inner_width) if inner_width > 1e-6 else math.nan
    width = float(np.hypot(*(q[54] - q[48])))
    lift = float((q[51, 1] + q[57, 1]) / 2 - (q[48, 1] + q[54, 1]) / 2)
    if pitch_deg is not None and np.isfinite(pitch_deg):
        lift /= max(math.cos(math.radians(pitch_deg)), 0.5)
    return mar, width, lift


class MouthPlugin:
    """MAR, mouth open and smile score.

    Args:
        open_threshold: MAR above which the mouth counts as open.
        calibration: smile coefficients ``bias``, ``width``, ``lift`` (see the module docstring).
    """

    name = "mouth"

    def __init__(self, open_threshold: float | None = None, calibration: dict[str, float] | None = None) -> None:
        cal = {**MOUTH_CALIBRATION, **(calibration or {})}
        self.open_threshold = float(cal["open_threshold"] if open_threshold is None else open_threshold)
        self.coef = (float(cal["bias"]), float(cal["width"]), float(cal["lift"]))

    def __call__(self, face: Face, frame: Frame) -> Mouth:
        problem = landmark_problem(face)
        if problem:
            return Mouth(math.nan, False, math.nan, valid=False, reason=problem)
        pose = face.head_pose
        pitch = pose.pitch if pose is not None and pose.valid else None
        mar, width, lift = mouth_features(face.landmarks, pitch)
        if not (np.isfinite(mar) and np.isfinite(width) and np.isfinite(lift)):
            return Mouth(math.nan, False, math.nan, valid=False, reason="mouth landmarks are degenerate or not finite")
        b, w_width, w_lift = self.coef
        z = b + w_width * width + w_lift * lift
        smile = 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))
        return Mouth(mar, mar > self.open_threshold, smile)
