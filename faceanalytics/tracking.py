"""Box geometry for tracking: overlap, matching detections to tracks, crops from landmarks."""

from __future__ import annotations

import numpy as np

__all__ = ["box_from_landmarks", "box_offset", "iou", "match_boxes"]

#: Where BlazeFace puts its box relative to the landmarks' bounding square (centre offset as a
#: fraction of the square's side, log of the size ratio), measured on the training images when the
#: bundled model was trained (models/README.md). Boxes made from the previous frame's landmarks
#: follow it, so tracking crops look like the detector crops the model learned from.
DETECTOR_BOX_OFFSET = (-0.011, -0.062, -0.002)


def _square(points: np.ndarray) -> tuple[np.ndarray, float]:
    pts = np.asarray(points, np.float64)[:68]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return (lo + hi) / 2, max(float(hi[0] - lo[0]), float(hi[1] - lo[1]), 1.0)


def box_from_landmarks(points: np.ndarray, offset: tuple[float, float, float] = DETECTOR_BOX_OFFSET) -> np.ndarray:
    """(4,) float32 square box ``x1, y1, x2, y2`` placed on (K, 2) landmarks: centre shifted by
    ``offset[:2]`` times the side of the landmarks' bounding square, side scaled by ``exp(offset[2])``."""
    centre, side = _square(points)
    cx, cy = centre + np.array(offset[:2]) * side
    half = np.exp(offset[2]) * side / 2
    return np.array([cx - half, cy - half, cx + half, cy + half], np.float32)


def box_offset(box: np.ndarray, points: np.ndarray) -> tuple[float, float, float]:
    """The ``offset`` for which :func:`box_from_landmarks` puts a box of this centre and size
    (``max(w, h)``) on these landmarks."""
    centre, side = _square(points)
    x1, y1, x2, y2 = (float(v) for v in box)
    dx, dy = (np.array([(x1 + x2) / 2, (y1 + y2) / 2]) - centre) / side
    return float(dx), float(dy), float(np.log(max(x2 - x1, y2 - y1, 1e-6) / side))


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


def match_boxes(
    tracks: np.ndarray, detections: np.ndarray, min_iou: float = 0.3, max_centre: float = 0.35
) -> list[tuple[int, int]]:
    """Greedy one-to-one matching; pairs ``(track index, detection index)``.

    First by descending IoU (at least ``min_iou``); then, for what is left, by centre distance
    below ``max_centre`` times the detection's side (a track whose box drifted in size still
    finds its face).
    """
    if len(tracks) == 0 or len(detections) == 0:
        return []
    tracks = np.asarray(tracks, np.float64).reshape(-1, 4)
    detections = np.asarray(detections, np.float64).reshape(-1, 4)
    overlap = iou(tracks, detections)
    ct = (tracks[:, :2] + tracks[:, 2:]) / 2
    cd = (detections[:, :2] + detections[:, 2:]) / 2
    side = np.maximum(detections[:, 2] - detections[:, 0], detections[:, 3] - detections[:, 1])
    rel = np.linalg.norm(ct[:, None] - cd[None], axis=2) / np.maximum(side[None], 1e-9)
    pairs: list[tuple[int, int]] = []
    used_t: set[int] = set()
    used_d: set[int] = set()
    for order, ok in ((np.argsort(-overlap, axis=None), overlap >= min_iou), (np.argsort(rel, axis=None), rel < max_centre)):
        for flat in order:
            ti, di = divmod(int(flat), overlap.shape[1])
            if ok[ti, di] and ti not in used_t and di not in used_d:
                pairs.append((ti, di))
                used_t.add(ti)
                used_d.add(di)
    return pairs
