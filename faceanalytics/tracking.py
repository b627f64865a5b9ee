"""Box geometry for tracking: overlap, matching detections to tracks, crops from landmarks."""

from __future__ import annotations

import numpy as np

__all__ = ["box_from_landmarks", "iou", "match_boxes"]

#: Where BlazeFace puts its box relative to the landmarks' bounding square (centre offset as a
#: fraction of the square's side, log of the size ratio), measured on the training images when the
#: bundled model was trained (models/README.md). Boxes made from the previous frame's landmarks
#: follow it, so tracking crops look like the detector crops the model learned from.
DETECTOR_BOX_OFFSET = (-0.011, -0.062, -0.002)


def box_from_landmarks(points: np.ndarray, offset: tuple[float, float, float] = DETECTOR_BOX_OFFSET) -> np.ndarray:
    """(4,) float32 box ``x1, y1, x2, y2`` placed on (K, 2) landmarks as the detector would place it."""
    pts = np.asarray(points, np.float64)[:68]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    side = max(float(hi[0] - lo[0]), float(hi[1] - lo[1]), 1.0)
    cx, cy = (lo + hi) / 2 + np.array(offset[:2]) * side
    half = np.exp(offset[2]) * side / 2
    return np.array([cx - half, cy - half, cx + half, cy + half], np.float32)


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


def match_boxes(tracks: np.ndarray, detections: np.ndarray, min_iou: float = 0.3) -> list[tuple[int, int]]:
    """Greedy one-to-one matching by descending IoU; pairs ``(track index, detection index)``."""
    if len(tracks) == 0 or len(detections) == 0:
        return []
    overlap = iou(tracks, detections)
    pairs: list[tuple[int, int]] = []
    used_t: set[int] = set()
    used_d: set[int] = set()
    for flat in np.argsort(-overlap, axis=None):
        ti, di = divmod(int(flat), overlap.shape[1])
        if overlap[ti, di] < min_iou:
            break
        if ti in used_t or di in used_d:
            continue
        pairs.append((ti, di))
        used_t.add(ti)
        used_d.add(di)
    return pairs
