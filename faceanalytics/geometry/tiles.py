"""Finding small faces in large images: the detector runs on the whole image and on overlapping tiles.

BlazeFace sees an image shrunk to its input (128x128 for the short-range model), so a face under
about a fifth of the image's longer side is too small for it: a 1024-pixel group photo with faces
of 60-110 pixels gives nothing. :func:`detect_tiled` runs the detector on the whole image and,
when the image's longer side exceeds ``1.25 * tile`` pixels, on square tiles of ``tile`` pixels
that overlap by half, then merges everything with BlazeFace's weighted non-maximum suppression.

* With 50 % overlap, a face up to half a tile wide lies whole inside some tile with room to
  spare, so detections that touch a tile's inner edge (cut faces) and detections wider than
  half a tile are dropped: larger faces are the whole-image pass's (a tile's large detections
  were mostly clothing and backgrounds seen too close).
* A face found in a tile only gets a second look: the detector runs on a square of twice its
  box around it, where a face fills the input as in BlazeFace's training, and the detection
  stays only if that look finds it again with ``min_score``.
* Images larger than ``max_side`` are tiled on a copy shrunk to that side, which bounds the
  work (at most 7 x 7 tiles); faces then need to be about ``tile / 5 * scale`` pixels.
* An image that needs no tiles costs exactly one detector run, as before.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from faceanalytics.core.types import Detection
from faceanalytics.geometry.boxes import iou

__all__ = ["detect_tiled", "tile_origins"]

#: A detection this close (pixels) to a tile's inner edge is taken as a face the tile cuts.
EDGE_MARGIN = 2.0


def tile_origins(length: int, tile: int) -> list[int]:
    """Start offsets of tiles of ``tile`` pixels covering ``length`` with half-tile strides;
    the last tile ends at the border."""
    if length <= tile:
        return [0]
    stride = tile // 2
    starts = list(range(0, length - tile + 1, stride))
    if starts[-1] + tile < length:
        starts.append(length - tile)
    return starts


def detect_tiled(
    detect: Callable[[np.ndarray], tuple[Detection, ...]],
    image: np.ndarray,
    tile: int,
    merge: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    min_score: float,
    max_side: int = 2048,
) -> tuple[Detection, ...]:
    """Detections of ``detect`` over the whole image and its tiles, merged, best first.

    Args:
        detect: a single-pass detector (HxWx3 uint8 BGR in, detections in its pixels out).
        tile: tile side in pixels; images up to ``1.25 * tile`` on their longer side are not tiled.
        merge: non-maximum suppression ``(boxes, keypoints, scores) -> (boxes, keypoints, scores)``.
        min_score: the score a tile's detection must reach again at its second look.
        max_side: larger images are tiled on a copy shrunk to this longer side.
    """
    whole = detect(image)
    h, w = image.shape[:2]
    if max(h, w) <= 1.25 * tile:
        return whole
    scale = min(1.0, max_side / max(h, w))
    small = image if scale == 1.0 else cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    found = list(whole)
    whole_boxes = np.stack([d.box for d in whole]) if whole else np.zeros((0, 4), np.float32)
    for y in tile_origins(sh, tile):
        for x in tile_origins(sw, tile):
            patch = small[y : y + tile, x : x + tile]
            ph, pw = patch.shape[:2]
            for d in detect(patch):
                x1, y1, x2, y2 = (float(v) for v in d.box)
                cut = (
                    (x > 0 and x1 < EDGE_MARGIN)
                    or (y > 0 and y1 < EDGE_MARGIN)
                    or (x + pw < sw and x2 > pw - EDGE_MARGIN)
                    or (y + ph < sh and y2 > ph - EDGE_MARGIN)
                )
                if cut or max(x2 - x1, y2 - y1) > tile / 2:
                    continue
                offset = np.array([x, y], np.float32)
                # Boxes are continuous coordinates, keypoints put pixel centres on integers: each
                # maps back through its own convention.
                box = (d.box + np.tile(offset, 2)) / scale
                kps = (d.keypoints + offset + 0.5) / scale - 0.5
                seen = len(whole_boxes) and float(iou(box, whole_boxes).max()) > 0.3
                if not seen and _second_look(detect, image, box) < min_score:
                    continue
                found.append(Detection(box=box.astype(np.float32), score=d.score, keypoints=kps.astype(np.float32)))
    if len(found) <= 1:
        return tuple(found)
    k = max((len(d.keypoints) for d in found), default=0)
    if any(len(d.keypoints) != k for d in found):  # a custom detector without keypoints on some
        k = 0
    boxes = np.stack([d.box for d in found]).astype(np.float32)
    kps = np.stack([d.keypoints if k else np.zeros((0, 2), np.float32) for d in found]).astype(np.float32)
    scores = np.array([d.score for d in found], np.float32)
    boxes, kps, scores = merge(boxes, kps, scores)
    return tuple(
        Detection(box=b, score=float(s), keypoints=p) for b, p, s in zip(boxes, kps, scores, strict=True)
    )


def _second_look(detect: Callable[[np.ndarray], tuple[Detection, ...]], image: np.ndarray, box: np.ndarray) -> float:
    """The best score of a detection overlapping ``box`` (IoU > 0.3) in a square of twice its
    side around it (zero outside the image); 0.0 when there is none."""
    side = max(2, round(2.0 * float(max(box[2] - box[0], box[3] - box[1]))))
    x0 = round(float(box[0] + box[2]) / 2 - side / 2)
    y0 = round(float(box[1] + box[3]) / 2 - side / 2)
    h, w = image.shape[:2]
    crop = np.zeros((side, side, 3), np.uint8)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if sx1 <= sx0 or sy1 <= sy0:
        return 0.0
    crop[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    again = detect(crop)
    if not again:
        return 0.0
    boxes = np.stack([d.box for d in again]) + np.array([x0, y0, x0, y0], np.float32)
    overlap = iou(box, boxes)[0] > 0.3
    return max((d.score for d, o in zip(again, overlap, strict=True) if o), default=0.0)
