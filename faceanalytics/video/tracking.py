"""Tracking: matching this frame's detections to the tracks (box geometry: :mod:`faceanalytics.geometry.boxes`)."""

from __future__ import annotations

import numpy as np

from faceanalytics.geometry.boxes import iou

__all__ = ["match_boxes"]

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
