"""Where BlazeFace puts its box relative to the landmarks, and boxes drawn from that distribution.

Training crops must look like run-time crops. Run time crops the square of side ``max(w, h)``
centred on the detector box, so a box is described, relative to the landmarks' bounding box
(centre ``c``, side ``s = max(w, h)``), by three numbers: the centre offset ``(box_c - c) / s``
(x and y) and the log size ratio ``log(max(box_w, box_h) / s)``. :func:`collect_box_stats` runs
the detector on training images and fits their mean and covariance; :func:`sample_detector_box`
draws boxes from it; :func:`sample_tracking_box` makes boxes like a tracker would from the
previous frame's landmarks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from faceanalytics.core.image import load_image
from faceanalytics.geometry.boxes import box_from_landmarks, box_offset
from faceanalytics.train.data import LandmarkSample

__all__ = [
    "BoxStats",
    "box_features",
    "collect_box_stats",
    "landmark_frame",
    "match_detection",
    "sample_detector_box",
    "sample_tracking_box",
]


logger = logging.getLogger("faceanalytics.train")


def landmark_frame(points: np.ndarray) -> tuple[float, float, float]:
    """Centre x, centre y and side ``max(w, h)`` of the landmarks' bounding box."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    c = (lo + hi) / 2
    return float(c[0]), float(c[1]), float(max(hi[0] - lo[0], hi[1] - lo[1], 1.0))


def box_features(box: Sequence[float], points: np.ndarray) -> np.ndarray:
    """(3,) ``[dx, dy, log_size]`` of a box ``x1, y1, x2, y2`` relative to the landmarks
    (:func:`faceanalytics.geometry.boxes.box_offset`, which the Stream uses for its tracking boxes)."""
    return np.array(box_offset(np.asarray(box, np.float64), points))


def box_from_features(feat: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Inverse of :func:`box_features`: a square box ``x1, y1, x2, y2``."""
    return box_from_landmarks(points, (float(feat[0]), float(feat[1]), float(feat[2])))


def match_detection(boxes: np.ndarray, points: np.ndarray) -> int | None:
    """Index of the detection that belongs to these landmarks, or ``None``.

    The detection must contain the landmarks' centre; among those the one whose square crop best
    overlaps (IoU) the landmarks' bounding box wins.
    """
    if len(boxes) == 0:
        return None
    cx, cy, _ = landmark_frame(points)
    lo, hi = points.min(axis=0), points.max(axis=0)
    best, best_iou = None, 0.0
    for i, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, np.float64)):
        if not (x1 <= cx <= x2 and y1 <= cy <= y2):
            continue
        ix = max(0.0, min(x2, hi[0]) - max(x1, lo[0]))
        iy = max(0.0, min(y2, hi[1]) - max(y1, lo[1]))
        inter = ix * iy
        union = (x2 - x1) * (y2 - y1) + (hi[0] - lo[0]) * (hi[1] - lo[1]) - inter
        iou = inter / max(union, 1e-9)
        if iou > best_iou:
            best, best_iou = i, iou
    return best


@dataclass
class BoxStats:
    """Detector boxes relative to landmarks: mean and covariance of ``[dx, dy, log_size]``.

    Attributes:
        mean: (3,) mean features.
        cov: (3, 3) covariance.
        found: images where the detector found the annotated face.
        total: images the detector ran on.
        detector: detector name (e.g. ``"blazeface-short"``).
    """

    mean: list[float]
    cov: list[list[float]]
    found: int
    total: int
    detector: str = "blazeface-short"

    def save(self, path: str | Path) -> None:
        """Write as JSON."""
        Path(path).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> BoxStats:
        """Read a JSON written by :meth:`save`."""
        return cls(**json.loads(Path(path).read_text()))


def collect_box_stats(
    samples: Sequence[LandmarkSample], detect: Callable[[np.ndarray], np.ndarray], detector: str = "blazeface-short"
) -> BoxStats:
    """Run ``detect`` (BGR image -> (M, 4) boxes) on every sample and fit :class:`BoxStats`.

    Raises:
        RuntimeError: the detector matched fewer than 10 faces.
    """
    feats = []
    for s in samples:
        bgr = load_image(s.path)
        if bgr is None:
            continue
        boxes = detect(bgr)
        i = match_detection(boxes, s.points)
        if i is not None:
            feats.append(box_features(boxes[i], s.points))
    if len(feats) < 10:
        raise RuntimeError(f"the detector matched only {len(feats)} of {len(samples)} faces; cannot fit box statistics")
    f = np.asarray(feats)
    stats = BoxStats(f.mean(0).tolist(), np.cov(f.T).tolist(), len(feats), len(samples), detector)
    logger.info(
        "box stats from %d/%d faces: mean dx %.3f dy %.3f size %.3f, std %s",
        len(feats),
        len(samples),
        *stats.mean,
        np.sqrt(np.diag(np.asarray(stats.cov))).round(3).tolist(),
    )
    return stats


def sample_detector_box(points: np.ndarray, stats: BoxStats, rng: np.random.Generator, spread: float = 1.5) -> np.ndarray:
    """A box ``x1, y1, x2, y2`` as the detector would give for these landmarks.

    ``spread`` widens the fitted distribution (standard deviations multiplied by it) so the model
    also copes with detector boxes a little off the usual.
    """
    feat = rng.multivariate_normal(np.asarray(stats.mean), np.asarray(stats.cov) * spread**2)
    return box_from_features(feat, points)


def sample_tracking_box(points: np.ndarray, rng: np.random.Generator, motion: float = 0.05) -> np.ndarray:
    """A box from the previous frame's landmarks: their bounding box, moved by ``motion`` (fraction
    of the face size, standard deviation), grown by 0-25 % and with its landmarks' jitter."""
    jittered = points + rng.normal(0.0, 0.01 * landmark_frame(points)[2], points.shape)
    feat = np.array([rng.normal(0, motion), rng.normal(0, motion), np.log(rng.uniform(1.0, 1.25))])
    return box_from_features(feat, jittered)
