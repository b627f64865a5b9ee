"""Box geometry: overlap of boxes, and square boxes placed on landmarks the way the detector places them."""

from __future__ import annotations

import math

import numpy as np

from faceanalytics.core.schema import IBUG_SLICE

__all__ = ["DETECTOR_BOX_OFFSET", "box_from_landmarks", "box_offset", "iou"]

#: Where BlazeFace puts its box relative to the landmarks' bounding square (centre offset as a
#: fraction of the square's side, log of the size ratio), measured on the training images when the
#: bundled model was trained (models/README.md). Boxes made from the previous frame's landmarks
#: follow it, so tracking crops look like the detector crops the model learned from.
DETECTOR_BOX_OFFSET = (-0.011, -0.062, -0.002)


def _square(points: np.ndarray) -> tuple[float, float, float]:
    """``(cx, cy, side)`` of the bounding square of the 68 iBUG points (of any layout), side >= 1."""
    pts = np.asarray(points)[IBUG_SLICE]
    (x0, y0), (x1, y1) = pts.min(axis=0).tolist(), pts.max(axis=0).tolist()  # plain floats: called per face and frame
    return (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0, 1.0)


def box_from_landmarks(points: np.ndarray, offset: tuple[float, float, float] = DETECTOR_BOX_OFFSET) -> np.ndarray:
    """(4,) float32 square box ``x1, y1, x2, y2`` placed on (K, 2) landmarks: centre shifted by
    ``offset[:2]`` times the side of the landmarks' bounding square, side scaled by ``exp(offset[2])``."""
    cx, cy, side = _square(points)
    dx, dy, log_scale = offset
    cx, cy = cx + dx * side, cy + dy * side
    half = math.exp(log_scale) * side / 2
    return np.array([cx - half, cy - half, cx + half, cy + half], np.float32)


def box_offset(box: np.ndarray, points: np.ndarray) -> tuple[float, float, float]:
    """The ``offset`` for which :func:`box_from_landmarks` puts a box of this centre and size
    (``max(w, h)``) on these landmarks."""
    cx, cy, side = _square(points)
    x1, y1, x2, y2 = np.asarray(box, np.float64).tolist()
    return ((x1 + x2) / 2 - cx) / side, ((y1 + y2) / 2 - cy) / side, math.log(max(x2 - x1, y2 - y1, 1e-6) / side)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) intersection over union of (N, 4) and (M, 4) boxes."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
