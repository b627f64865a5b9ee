"""Mouth geometry of iBUG-68 landmarks: MAR, width and corner lift, and the pose-corrected mouth shape.

The **mouth shape** (:func:`mouth_shape`) is the 20 lip points, the base of the nose (the
subnasale, point 33; not the nose tip, 30) and the chin (8) in the face's own frame (origin
between the outer eye corners, x along the eye line, y perpendicular to it, down the face),
divided by the outer eye-corner distance; x is divided by ``cos(yaw)`` and y by ``cos(pitch)``
when the head pose is known. It is the input of the mouth-cue network
(:mod:`faceanalytics.runners.mouth_net`) and of the linear mouth models of
:mod:`faceanalytics.plugins.mouth`. Points are named by :data:`~faceanalytics.core.schema.SCHEMA_68`.
"""

from __future__ import annotations

import math

import numpy as np

from faceanalytics.core.schema import IBUG_SLICE, SCHEMA_68
from faceanalytics.core.types import Face
from faceanalytics.geometry.face_frame import eye_corner_distance

__all__ = ["MOUTH_SHAPE_POINTS", "face_mouth_shape", "mouth_features", "mouth_shape"]

_S = SCHEMA_68
# eye corners (the face's frame), outer mouth corners and lip midpoints, inner mouth corners, then
# the inner lip pairs (upper, lower) of the three vertical gaps
_FEATURE_POINTS = [
    _S.right_eye_outer,
    _S.left_eye_outer,
    _S.mouth_right,
    _S.upper_lip_top,
    _S.mouth_left,
    _S.lower_lip_bottom,
    _S.mouth_right_inner,
    _S.mouth_left_inner,
    *(i for pair in _S.inner_lip_pairs for i in pair),
]

#: iBUG 68 indices of the mouth shape: the outer lips (48-59), the inner lips (60-67), the base of
#: the nose (subnasale, 33) and the chin (8).
MOUTH_SHAPE_POINTS: tuple[int, ...] = (*_S.outer_lips, *_S.inner_lips, _S.subnasale, _S.chin)
_SHAPE_INDEX = np.array(MOUTH_SHAPE_POINTS)


def mouth_features(points: np.ndarray, pitch_deg: float | None = None) -> tuple[float, float, float]:
    """``(mar, width, lift)`` of (68+, 2) iBUG landmarks; NaN when degenerate.

    ``mar``: the three inner vertical lip gaps (``inner_lip_pairs``) averaged, over the inner mouth
    width; ``width``: outer mouth-corner distance over the outer eye-corner distance; ``lift``: how
    far the outer mouth corners sit above the middle of the lips (the outer lip midpoints, top and
    bottom), in the face's frame, over the eye-corner distance, divided by ``cos(pitch)`` when given.
    """
    p = np.asarray(points, np.float64)
    if not np.isfinite(p[IBUG_SLICE]).all():
        return math.nan, math.nan, math.nan
    (ex0, ey0), (ex1, ey1), right, top, left, bottom, inner_right, inner_left, *gap_points = p[_FEATURE_POINTS].tolist()
    iod = eye_corner_distance(p)
    if iod < 1e-6:
        return math.nan, math.nan, math.nan
    # Distances do not change with roll; "up" is the normal of the eye line (the face's own y axis).
    nx, ny = -(ey1 - ey0) / iod, (ex1 - ex0) / iod
    inner_width = math.dist(inner_left, inner_right)
    gaps = sum(math.dist(gap_points[k], gap_points[k + 1]) for k in range(0, len(gap_points), 2)) / len(_S.inner_lip_pairs)
    mar = gaps / inner_width if inner_width > 1e-6 * iod else math.nan
    width = math.dist(left, right) / iod
    lift = (nx * (top[0] + bottom[0] - right[0] - left[0]) + ny * (top[1] + bottom[1] - right[1] - left[1])) / (2 * iod)
    if pitch_deg is not None and np.isfinite(pitch_deg):
        lift /= max(math.cos(math.radians(pitch_deg)), 0.5)
    return mar, width, lift


def mouth_shape(points: np.ndarray, yaw_deg: float | None = None, pitch_deg: float | None = None) -> np.ndarray:
    """(44,) mouth shape of (68+, 2) iBUG landmarks: the ``MOUTH_SHAPE_POINTS`` as ``x0, y0, x1,
    y1, ...`` in the face's frame (see the module docstring); all NaN when degenerate."""
    p = np.asarray(points, np.float64)
    out = np.full(2 * len(MOUTH_SHAPE_POINTS), np.nan)
    if p.ndim != 2 or p.shape[0] < _S.num_points or p.shape[1] != 2 or not np.isfinite(p[IBUG_SLICE]).all():
        return out
    iod = eye_corner_distance(p)
    if iod < 1e-6:
        return out
    right, left = p[_S.right_eye_outer], p[_S.left_eye_outer]
    c, s = (left - right) / iod
    q = (p[_SHAPE_INDEX] - (right + left) / 2) @ np.array([[c, -s], [s, c]]) / iod
    if yaw_deg is not None and math.isfinite(yaw_deg):
        q[:, 0] /= max(math.cos(math.radians(yaw_deg)), 0.5)
    if pitch_deg is not None and math.isfinite(pitch_deg):
        q[:, 1] /= max(math.cos(math.radians(pitch_deg)), 0.5)
    return q.reshape(-1)


def face_mouth_shape(face: Face, points: np.ndarray | None = None) -> np.ndarray:
    """:func:`mouth_shape` of ``points`` (default: the face's landmarks), corrected with the face's
    head pose when it has a valid one (the plugin's input, and what the fits and training use)."""
    pose = face.head_pose
    yaw, pitch = (pose.yaw, pose.pitch) if pose is not None and pose.valid else (None, None)
    return mouth_shape(face.landmarks if points is None else points, yaw, pitch)
