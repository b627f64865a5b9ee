"""The face's scale: the outer eye-corner distance, the one normaliser of every landmark measure.

Mouth width and lift, the mouth shape, the mouth crop, the head pose's error bound and the NME of
the training tools are all in units of this distance (the subject's right and left outer eye
corners, ``schema.right_eye_outer`` and ``schema.left_eye_outer``; 36 and 45 in iBUG numbering).
"""

from __future__ import annotations

import math

import numpy as np

from faceanalytics.core.schema import SCHEMA_68, LandmarkSchema

__all__ = ["eye_corner_distance", "eye_corner_distances"]


def eye_corner_distance(points: np.ndarray, schema: LandmarkSchema = SCHEMA_68) -> float:
    """Distance between the outer eye corners of one face's (K, 2) landmarks.

    Computed in float64 whatever the input's type, as ``math.hypot`` of the corners' difference:
    a face gets the very same float alone or in a batch (:func:`eye_corner_distances`). NaN when
    a corner is not finite; 0 when they coincide (callers decide what is degenerate).

    Raises:
        ValueError: ``points`` is not (K, 2).
    """
    p = np.asarray(points)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"expected (K, 2) landmarks of one face; got shape {p.shape} (eye_corner_distances takes batches)")
    (x0, y0), (x1, y1) = p[[schema.right_eye_outer, schema.left_eye_outer]].tolist()
    return math.hypot(x1 - x0, y1 - y0)


def eye_corner_distances(points: np.ndarray, schema: LandmarkSchema = SCHEMA_68) -> np.ndarray:
    """:func:`eye_corner_distance` of each face of (..., K, 2) landmarks: an array of the leading shape."""
    p = np.asarray(points)
    d = p[..., schema.left_eye_outer, :].astype(np.float64) - p[..., schema.right_eye_outer, :]
    return np.array([math.hypot(x, y) for x, y in d.reshape(-1, 2).tolist()]).reshape(d.shape[:-1])
