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

_MOUTH_POINTS = [36, 45, 48, 51, 54, 57, 60, 61, 62, 63, 64, 65, 66, 67]  # eye corners, lips

#: Fitted by ``python benchmarks/calibrate_mouth.py`` for the bundled FPENet-68 model (rerun it
#: whenever that model changes).
MOUTH_CALIBRATION = {"bias": -7.128, "width": 11.033, "lift": 6.277, "open_threshold": 0.146}


def mouth_features(points: np.ndarray, pitch_deg: float | None = None) -> tuple[float, float, float]:
    """``(mar, width, lift)`` of (68+, 2) iBUG landmarks (see the module docstring); NaN when degenerate."""
    p = np.asarray(points, np.float64)
    if not np.isfinite(p[:68]).all():
        return math.nan, math.nan, math.nan
    (ex0, ey0), (ex1, ey1), c48, c51, c54, c57, c60, c61, c62, c63, c64, c65, c66, c67 = p[_MOUTH_POINTS].tolist()
    iod = math.hypot(ex1 - ex0, ey1 - ey0)
    if iod < 1e-6:
        return math.nan, math.nan, math.nan
    # Distances do not change with roll; "up" is the normal of the eye line (the face's own y axis).
    nx, ny = -(ey1 - ey0) / iod, (ex1 - ex0) / iod
    inner_width = math.dist(c64, c60)
    gaps = (math.dist(c61, c67) + math.dist(c62, c66) + math.dist(c63, c65)) / 3
    mar = gaps / inner_width if inner_width > 1e-6 * iod else math.nan
    width = math.dist(c54, c48) / iod
    lift = (nx * (c51[0] + c57[0] - c48[0] - c54[0]) + ny * (c51[1] + c57[1] - c48[1] - c54[1])) / (2 * iod)
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
