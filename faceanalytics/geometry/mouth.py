"""Mouth geometry of iBUG-68 landmarks: MAR, width and corner lift, and the pose-corrected mouth shape.

The **mouth shape** (:func:`mouth_shape`) is the 20 lip points, the base of the nose (point 33)
and the chin (8) in the face's own frame (origin between the outer eye corners, x along the eye
line, y perpendicular to it, down the face), divided by the outer eye-corner distance; x is
divided by ``cos(yaw)`` and y by ``cos(pitch)`` when the head pose is known. It is the input of
the mouth-cue network (:mod:`faceanalytics.runners.mouth_net`) and of the linear mouth models of
:mod:`faceanalytics.plugins.mouth`.
"""

from __future__ import annotations

import math

import numpy as np

from faceanalytics.core.types import Face

__all__ = ["MOUTH_SHAPE_POINTS", "face_mouth_shape", "mouth_features", "mouth_shape"]

_MOUTH_POINTS = [36, 45, 48, 51, 54, 57, 60, 61, 62, 63, 64, 65, 66, 67]  # eye corners, lips

#: iBUG 68 indices of the mouth shape: outer lips 48-59, inner lips 60-67, nose tip 33, chin 8.
MOUTH_SHAPE_POINTS: tuple[int, ...] = (*range(48, 68), 33, 8)
_SHAPE_INDEX = np.array(MOUTH_SHAPE_POINTS)


def mouth_features(points: np.ndarray, pitch_deg: float | None = None) -> tuple[float, float, float]:
    """``(mar, width, lift)`` of (68+, 2) iBUG landmarks; NaN when degenerate.

    ``width``: outer mouth-corner distance (48-54) over the outer eye-corner distance; ``lift``:
    how far the mouth corners sit above the middle of the lips, ``((y51 + y57) / 2 - (y48 + y54) /
    2)`` in the face's frame, over the eye-corner distance, divided by ``cos(pitch)`` when given.
    """
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


def mouth_shape(points: np.ndarray, yaw_deg: float | None = None, pitch_deg: float | None = None) -> np.ndarray:
    """(44,) mouth shape of (68+, 2) iBUG landmarks: the ``MOUTH_SHAPE_POINTS`` as ``x0, y0, x1,
    y1, ...`` in the face's frame (see the module docstring); all NaN when degenerate."""
    p = np.asarray(points, np.float64)
    out = np.full(2 * len(MOUTH_SHAPE_POINTS), np.nan)
    if p.ndim != 2 or p.shape[0] < 68 or p.shape[1] != 2 or not np.isfinite(p[:68]).all():
        return out
    eye = p[45] - p[36]
    iod = math.hypot(*eye)
    if iod < 1e-6:
        return out
    c, s = eye / iod
    q = (p[_SHAPE_INDEX] - (p[36] + p[45]) / 2) @ np.array([[c, -s], [s, c]]) / iod
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
