"""The views of the validation faces on which the per-point confidence is fitted and checked
(``benchmarks/point_confidence.py``, ``tests/test_point_confidence.py``).

Each face of landmarks68 that BlazeFace finds is landmarked in three views:

* ``clear``: the frame and the detector's box;
* ``covered``: one region (an eye, both eyes and brows, the nose, the mouth, half of the jaw) under
  a patch of flat gray or noise; the points under the patch are the "covered points";
* ``moved``: the detector's box moved by 0-1 box widths in a random direction and scaled by
  0.74-1.35 (a tracker's box that slid off the face; at large moves the crop holds no face).

The views of a face are seeded by its position in the list, so every model sees the same views.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faceanalytics.core.image import load_image
from faceanalytics.core.schema import SCHEMA_68
from faceanalytics.geometry.face_frame import eye_corner_distance
from faceanalytics.runners.detector import BlazeFaceDetector
from faceanalytics.runners.fpenet import FPENetRunner
from faceanalytics.train.boxes import match_detection
from faceanalytics.train.data import LandmarkSample

__all__ = ["COVERABLE", "VIEW_WEIGHT", "Views", "collect", "cover", "moved_box"]

#: How much each view weighs in the fit: the clear faces as much as the two degraded views together.
VIEW_WEIGHT = {"clear": 2.0, "covered": 1.0, "moved": 1.0}
_S = SCHEMA_68
_CHIN = _S.jaw.index(_S.chin)

#: Regions a patch may cover (iBUG 68 indices): 36-41, 42-47, 17-26 and 36-47, 27-35, 48-67, and
#: the jaw from either end to the chin, 0-8 and 8-16.
COVERABLE = {
    "right eye": list(_S.right_eye),
    "left eye": list(_S.left_eye),
    "eyes and brows": list(_S.right_eyebrow + _S.left_eyebrow) + list(_S.right_eye + _S.left_eye),
    "nose": list(_S.nose),
    "mouth": list(_S.mouth),
    "jaw, image left": list(_S.jaw[: _CHIN + 1]),
    "jaw, image right": list(_S.jaw[_CHIN:]),
}


def cover(
    bgr: np.ndarray, points: np.ndarray, idx: list[int], rng: np.random.Generator, iod: float
) -> tuple[np.ndarray, np.ndarray]:
    """The frame with the points ``idx`` under a flat gray or noise patch; and which of the 68 points it hides."""
    lo, hi = points[idx].min(0), points[idx].max(0)
    pad = 0.25 * float(max(hi - lo)) + 0.05 * iod
    x0, y0 = np.floor(lo - pad).astype(int)
    x1, y1 = np.ceil(hi + pad).astype(int)
    out = bgr.copy()
    x0, y0 = max(x0, 0), max(y0, 0)
    patch = out[y0:y1, x0:x1]
    patch[...] = rng.uniform(0, 255) if rng.random() < 0.5 else rng.uniform(0, 255, patch.shape)
    hidden = (points[:, 0] >= x0) & (points[:, 0] < x1) & (points[:, 1] >= y0) & (points[:, 1] < y1)
    return out, hidden


def moved_box(box: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``box`` moved by 0-1 box widths in a random direction and scaled by exp(U(-0.3, 0.3))."""
    w, h = float(box[2] - box[0]), float(box[3] - box[1])
    angle, dist, scale = rng.uniform(0, 2 * np.pi), rng.uniform(0, 1), float(np.exp(rng.uniform(-0.3, 0.3)))
    cx, cy = (box[0] + box[2]) / 2 + dist * w * np.cos(angle), (box[1] + box[3]) / 2 + dist * w * np.sin(angle)
    return np.array([cx - w * scale / 2, cy - h * scale / 2, cx + w * scale / 2, cy + h * scale / 2], np.float32)


@dataclass
class Views:
    """Per landmarked view: its kind, identity, raw peaks (68), error / IOD (68) and hidden points (68)."""

    kind: np.ndarray
    identity: np.ndarray
    raw: np.ndarray
    err: np.ndarray
    hidden: np.ndarray

    def __getitem__(self, m: np.ndarray) -> Views:
        return Views(self.kind[m], self.identity[m], self.raw[m], self.err[m], self.hidden[m])


def collect(runner: FPENetRunner, detector: BlazeFaceDetector, samples: list[LandmarkSample]) -> Views:
    """The three views of every validation face that BlazeFace finds (the same views for every model)."""
    kind, ident, raw, err, hidden = [], [], [], [], []
    for n, s in enumerate(samples):
        bgr = load_image(s.path)
        boxes = np.array([d.box for d in detector.detect(bgr)], np.float32).reshape(-1, 4)
        i = match_detection(boxes, s.points)
        if i is None:
            continue
        rng = np.random.default_rng([0, n])  # per face: the same views whatever the model
        iod = eye_corner_distance(s.points)
        region = list(COVERABLE)[rng.integers(len(COVERABLE))]
        covered, under = cover(bgr, s.points, COVERABLE[region], rng, iod)
        views = [
            ("clear", bgr, boxes[i], np.zeros(_S.num_points, bool)),
            ("covered", covered, boxes[i], under),
            ("moved", bgr, moved_box(boxes[i], rng), np.zeros(_S.num_points, bool)),
        ]
        for name, image, box, hid in views:
            pts, peaks = runner.landmarks(image, box[None], raw=True)
            kind.append(name)
            ident.append(s.identity)
            raw.append(peaks[0])
            err.append(np.linalg.norm(pts[0] - s.points, axis=1) / iod)
            hidden.append(hid)
    return Views(np.array(kind), np.array(ident), np.stack(raw), np.stack(err), np.stack(hidden))
