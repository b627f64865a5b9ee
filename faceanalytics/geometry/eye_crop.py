"""Eye crops aligned by each eye's corners, shared by the eye-openness network and its training.

An eye's crop is an upright window centred on the midpoint of its two corners, ``span`` eye
widths (corner-to-corner distances) wide, its x axis along the corner line, from the **outer**
corner (crop left) to the **inner** corner (crop right), its y axis pointing down the face. So the
subject's left eye comes out mirrored and looks like a right eye: one network serves both.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from faceanalytics.core.schema import SCHEMA_68, LandmarkSchema

__all__ = ["eye_crop", "eye_crop_matrix", "eye_crops"]


def eye_crop_matrix(
    landmarks: np.ndarray, side: str, width: int, height: int, span: float, schema: LandmarkSchema = SCHEMA_68
) -> np.ndarray:
    """(2, 3) affine from image pixels to the crop of one eye (``side``: ``"left"`` or ``"right"``,
    the subject's) of (K, 2) landmarks. NaN when the eye's corners coincide or are not finite."""
    p = np.asarray(landmarks, np.float64)
    if side == "right":
        outer, inner, sign = schema.right_eye_outer, schema.right_eye_inner, 1.0
    elif side == "left":
        outer, inner, sign = schema.left_eye_outer, schema.left_eye_inner, -1.0
    else:
        raise ValueError(f"side must be 'left' or 'right'; got {side!r}")
    (xo, yo), (xi, yi) = p[outer].tolist(), p[inner].tolist()
    w = math.hypot(xi - xo, yi - yo)
    if not (math.isfinite(w) and w > 1e-6):
        return np.full((2, 3), np.nan)
    k = width / (span * w)
    ux, uy = (xi - xo) / w, (yi - yo) / w  # outer -> inner
    vx, vy = -sign * uy, sign * ux  # down the face: a right-handed frame for the right eye, mirrored for the left
    cx, cy = (xo + xi) / 2, (yo + yi) / 2
    return np.array([
        [k * ux, k * uy, width / 2 - k * (ux * cx + uy * cy)],
        [k * vx, k * vy, height / 2 - k * (vx * cx + vy * cy)],
    ])  # fmt: skip


def eye_crop(image: np.ndarray, matrix: np.ndarray, width: int, height: int) -> np.ndarray:
    """``(height, width)`` uint8 gray crop of a gray or BGR uint8 image through ``matrix``
    (:func:`eye_crop_matrix`). When the eye is more than twice the crop's scale, its region of the
    image is first shrunk by area averaging, so the crop does not alias. Outside the image, the
    border repeats."""
    (a, b, c), (d, e, f) = np.asarray(matrix, np.float64).tolist()  # plain floats: this runs per eye, per frame
    det = a * e - b * d
    scale = math.sqrt(abs(det))
    if 0 < scale < 0.5:
        # the crop's footprint in the image: its corners through the inverse affine
        ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
        ic, if_ = -(ia * c + ib * f), -(id_ * c + ie * f)
        xs = [ia * u + ib * v + ic for u, v in ((0, 0), (width, 0), (0, height), (width, height))]
        ys = [id_ * u + ie * v + if_ for u, v in ((0, 0), (width, 0), (0, height), (width, height))]
        h, w = image.shape[:2]
        x0, y0 = max(int(min(xs)) - 2, 0), max(int(min(ys)) - 2, 0)
        x1, y1 = min(math.ceil(max(xs)) + 3, w), min(math.ceil(max(ys)) + 3, h)
        if x1 - x0 >= 4 and y1 - y0 >= 4:
            k = 2 * scale  # shrink the region to twice the crop's resolution
            rw, rh = max(round((x1 - x0) * k), 2), max(round((y1 - y0) * k), 2)
            image = cv2.resize(image[y0:y1, x0:x1], (rw, rh), interpolation=cv2.INTER_AREA)
            sx, sy = (x1 - x0) / rw, (y1 - y0) / rh  # new pixel u covers old x0 + sx (u + 0.5) - 0.5
            tx, ty = x0 + 0.5 * sx - 0.5, y0 + 0.5 * sy - 0.5
            a, b, c, d, e, f = a * sx, b * sy, a * tx + b * ty + c, d * sx, e * sy, d * tx + e * ty + f
    m = np.array([[a, b, c], [d, e, f]])
    out = cv2.warpAffine(image, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return cv2.cvtColor(out, cv2.COLOR_BGR2GRAY) if out.ndim == 3 else out


def eye_crops(
    image: np.ndarray, landmarks: np.ndarray, width: int, height: int, span: float, schema: LandmarkSchema = SCHEMA_68
) -> np.ndarray | None:
    """``(2, height, width)`` uint8 crops of the subject's (left, right) eyes, the left one mirrored;
    None when an eye's corners coincide or are not finite."""
    out = []
    for side in ("left", "right"):
        m = eye_crop_matrix(landmarks, side, width, height, span, schema)
        if not np.isfinite(m).all():
            return None
        out.append(eye_crop(image, m, width, height))
    return np.stack(out)
