"""Eye crops for the eye-openness network and its training, both cut from one strip of the image.

The **eye strip** is an upright window along the line from the subject's right eye to the left
eye (the midpoints of each eye's two corners), ``height`` pixels tall, at a scale that makes the
mean eye width (corner to corner) ``width / span`` pixels. Each eye's crop is ``width`` pixels of
that strip centred on the eye; the left eye's crop is mirrored, so that in both crops the **outer**
corner is on the left and the inner corner on the right: one network serves both eyes.

One affine warp of the image gives the strip, and both crops are slices of it: a face pays one
warp and one gray conversion of a strip of about 60 x 16 pixels (and, for large eyes, 2x2
averaging of the strip's region first), not three calls per eye (the crops are on the eye
network's per-face cost, docs/plugins.md). So that the left crop is a whole number of pixels
along the strip, the scale is rounded by at most half a pixel per eye distance (about 1 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from faceanalytics.core.schema import SCHEMA_68, LandmarkSchema

__all__ = ["EyeStrip", "eye_crops", "eye_strip"]


@dataclass(frozen=True)
class EyeStrip:
    """Where the eye strip lies in an image.

    ``matrix``: (2, 3) affine from image pixels (x right, y down, pixel centres on integers) to
    strip pixels; the right eye's centre maps to ``(width / 2, height / 2)`` and the left eye's to
    ``(left_start + width / 2, height / 2)``. ``left_start``: the strip column where the left eye's
    crop begins (the right eye's begins at 0); the strip is ``left_start + width`` pixels wide.
    """

    matrix: np.ndarray
    left_start: int


def _strip(
    landmarks: np.ndarray, width: int, span: float, schema: LandmarkSchema
) -> tuple[float, float, float, float, float, int] | None:
    """``(k, ux, uy, cx, cy, left_start)``: strip pixels per image pixel, the unit vector from the
    right eye's centre ``(cx, cy)`` to the left eye's, and the left crop's first column."""
    p = landmarks if isinstance(landmarks, np.ndarray) else np.asarray(landmarks)
    (rxo, ryo), (rxi, ryi), (lxi, lyi), (lxo, lyo) = p[
        [schema.right_eye_outer, schema.right_eye_inner, schema.left_eye_inner, schema.left_eye_outer]
    ].tolist()
    right_width, left_width = math.hypot(rxi - rxo, ryi - ryo), math.hypot(lxo - lxi, lyo - lyi)
    rcx, rcy = (rxo + rxi) / 2, (ryo + ryi) / 2
    dx, dy = (lxo + lxi) / 2 - rcx, (lyo + lyi) / 2 - rcy
    d = math.hypot(dx, dy)
    if not (min(right_width, left_width, d) > 1e-6 and math.isfinite(right_width + left_width + d)):
        return None
    left_start = max(round(2 * d * width / (span * (right_width + left_width))), 1)
    return left_start / d, dx / d, dy / d, rcx, rcy, left_start


def eye_strip(landmarks: np.ndarray, width: int, height: int, span: float, schema: LandmarkSchema = SCHEMA_68) -> EyeStrip | None:
    """The eye strip of (K, 2) landmarks for ``width`` x ``height`` crops ``span`` eye widths wide;
    None when an eye's corners coincide, the eyes coincide, or the corners are not finite."""
    found = _strip(landmarks, width, span, schema)
    if found is None:
        return None
    k, ux, uy, cx, cy, left_start = found
    return EyeStrip(_matrix(k, ux, uy, cx, cy, width / 2, height / 2), left_start)


def _matrix(k: float, ux: float, uy: float, cx: float, cy: float, x0: float, y0: float) -> np.ndarray:
    """(2, 3) affine: image point ``(cx, cy)`` to ``(x0, y0)``, scale ``k``, x along ``(ux, uy)``
    and y along ``(-uy, ux)`` (down the face)."""
    return np.array([
        [k * ux, k * uy, x0 - k * (ux * cx + uy * cy)],
        [-k * uy, k * ux, y0 - k * (ux * cy - uy * cx)],
    ])  # fmt: skip


def eye_crops(
    image: np.ndarray, landmarks: np.ndarray, width: int, height: int, span: float, schema: LandmarkSchema = SCHEMA_68
) -> np.ndarray | None:
    """``(2, height, width)`` uint8 gray crops of the subject's (left, right) eyes, the left one
    mirrored, from a gray or BGR uint8 image and its (K, 2) landmarks; None when there is no eye
    strip (:func:`eye_strip`). Outside the image, the border repeats."""
    found = _strip(landmarks, width, span, schema)
    if found is None:
        return None
    k, ux, uy, cx, cy, left_start = found
    size = (left_start + width, height)
    if k < 0.5:
        # Large eyes: halve the strip's region of the image by 2x2 averaging (cv2's fast INTER_AREA
        # case) until the warp no longer shrinks it below half, so the crops do not alias. The
        # region: the strip's rectangle in the image (centre, half extents along x and y), plus 3 px.
        mx, my = cx + ux * left_start / (2 * k), cy + uy * left_start / (2 * k)
        hw, hh = size[0] / (2 * k), height / (2 * k)
        ex, ey = hw * abs(ux) + hh * abs(uy) + 3, hw * abs(uy) + hh * abs(ux) + 3
        h, w = image.shape[:2]
        x0, y0 = min(max(int(mx - ex), 0), w - 1), min(max(int(my - ey), 0), h - 1)
        x1, y1 = max(min(math.ceil(mx + ex) + 1, w), x0 + 1), max(min(math.ceil(my + ey) + 1, h), y0 + 1)
        region, q = image[y0:y1, x0:x1], 1
        while k * q < 0.5 and min(region.shape[:2]) >= 4:
            rh, rw = region.shape[0] // 2, region.shape[1] // 2
            region = cv2.resize(region[: 2 * rh, : 2 * rw], (rw, rh), interpolation=cv2.INTER_AREA)
            q *= 2
        # region pixel u is image x0 + q (u + 0.5) - 0.5: the same strip, in region pixels
        t = (q - 1) / 2
        m = _matrix(k * q, ux, uy, (cx - x0 - t) / q, (cy - y0 - t) / q, width / 2, height / 2)
        band = cv2.warpAffine(region, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    else:
        m = _matrix(k, ux, uy, cx, cy, width / 2, height / 2)
        band = cv2.warpAffine(image, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if band.ndim == 3:
        band = cv2.cvtColor(band, cv2.COLOR_BGR2GRAY)
    out = np.empty((2, height, width), np.uint8)
    out[0] = band[:, left_start : left_start + width][:, ::-1]
    out[1] = band[:, :width]
    return out
