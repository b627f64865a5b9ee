"""Face crops as TAO / DeepStream make them for FPENet, and the way back.

A face box ``x1, y1, x2, y2`` becomes a square of side ``max(w, h)`` centred on the box (times the
model's crop scale: 1.0 for TAO's own models, 1.25 for ours, so that the chin stays inside), padded
with zeros where it leaves the frame, resized to ``size x size`` (80 for FPENet) and converted to
gray. Each face is one ``cv2.warpAffine``, from a gray frame or straight from the BGR frame (then
each crop is converted to gray: within one gray level of converting the whole frame first, and
about 25 µs faster for a 640x480 frame, as only the face's pixels are read).

Coordinates follow OpenCV: pixel centres on integers. The crop matrix ``M`` maps image pixel
coordinates to crop pixel coordinates exactly as crop-then-``cv2.resize`` would, so the same
``M`` serves training labels (image points -> crop points) and inference (crop points -> image
points with :func:`crop_to_image`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from faceanalytics.core.errors import BoxError

__all__ = ["crop_faces", "crop_to_image", "image_to_crop", "square_crop_matrices", "to_gray", "validate_boxes"]


def validate_boxes(boxes: np.ndarray | Sequence[Sequence[float]], image_size: tuple[int, int]) -> np.ndarray:
    """Check caller-supplied boxes and return them as an (M, 4) float32 array.

    A single flat box ``[x1, y1, x2, y2]`` is accepted as one box. Boxes may extend past the image
    (the crop is zero-padded there, as in TAO), but each must be finite, have positive width and
    height, and overlap the image.

    Raises:
        BoxError: for anything else, naming the offending box.
    """
    try:
        arr = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise BoxError(f"boxes must be numbers shaped (M, 4) as x1, y1, x2, y2: {exc}") from None
    if arr.size == 0:
        return np.zeros((0, 4), np.float32)
    if arr.ndim == 1 and arr.shape[0] == 4:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise BoxError(f"boxes must have shape (M, 4) as x1, y1, x2, y2; got {arr.shape}")
    with np.errstate(over="ignore"):
        out = arr.astype(np.float32)  # checked as returned: 1e39 is finite in float64, not in float32
    w, h = image_size
    for i, (x1, y1, x2, y2) in enumerate(out.tolist()):
        if not np.isfinite(arr[i]).all():
            raise BoxError(f"box {i} is not finite: {arr[i].tolist()}")
        if not np.isfinite(out[i]).all():
            raise BoxError(f"box {i} does not fit in float32 (|coordinates| must stay below 3.4e38): {arr[i].tolist()}")
        if x2 <= x1 or y2 <= y1:
            raise BoxError(f"box {i} has zero or negative size (need x2 > x1 and y2 > y1): {arr[i].tolist()}")
        if x2 <= 0 or y2 <= 0 or x1 >= w or y1 >= h:
            raise BoxError(f"box {i} lies entirely outside the {w}x{h} image: {arr[i].tolist()}")
    return out


def square_crop_matrices(boxes: np.ndarray, size: int = 80, scale: float = 1.0) -> np.ndarray:
    """(M, 2, 3) float64 affine matrices mapping image pixels to ``size x size`` crop pixels.

    The crop is the square of side ``scale * max(w, h)`` centred on each box. ``scale`` is the
    landmark model's declared crop scale (:attr:`faceanalytics.runtime.registry.ModelSpec.crop_scale`):
    1.0 for NVIDIA's FPENet models (the TAO crop), more for a model trained with a margin.
    """
    rows = []
    for x1, y1, x2, y2 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4).tolist():  # a face or a few a frame
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        side = max(x2 - x1, y2 - y1) * float(scale)
        s = size / side if side else math.inf  # as numpy divides (callers refuse empty boxes before)
        # Continuous coordinates (pixel i spans [i, i+1)): u = (x - x0) * s with x0 = cx - side/2.
        # In pixel-centre coordinates (x = xc + 0.5, u = uc + 0.5): uc = s * xc + (0.5 - x0) * s - 0.5.
        rows.append([[s, 0.0, (0.5 - (cx - side / 2)) * s - 0.5], [0.0, s, (0.5 - (cy - side / 2)) * s - 0.5]])
    return np.array(rows, np.float64).reshape(-1, 2, 3)


def to_gray(image_bgr: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 BGR -> HxW uint8 gray (ITU-R BT.601 weights, as ``cv2.COLOR_BGR2GRAY``)."""
    return cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)


def crop_faces(image: np.ndarray, matrices: np.ndarray, size: int = 80, out: np.ndarray | None = None) -> np.ndarray:
    """Warp each crop out of a frame into an (M, 1, size, size) float32 gray batch, raw 0-255.

    Args:
        image: HxW uint8 gray frame, or HxWx3 uint8 BGR (each crop is then converted to gray,
            ITU-R BT.601 weights as :func:`to_gray`).
        matrices: (M, 2, 3) from :func:`square_crop_matrices` (or any image->crop affine).
        out: optional preallocated (>= M, 1, size, size) float32 buffer to fill and return a view of.
    """
    n = len(matrices)
    if out is None:
        out = np.empty((n, 1, size, size), np.float32)
    batch = out[:n]
    tmp = np.empty((size, size), np.uint8)
    color = np.empty((size, size, 3), np.uint8) if image.ndim == 3 else None
    flags = {"flags": cv2.INTER_LINEAR, "borderMode": cv2.BORDER_CONSTANT, "borderValue": 0}
    for i, m in enumerate(matrices):
        if color is None:
            cv2.warpAffine(image, m, (size, size), dst=tmp, **flags)
        else:
            cv2.warpAffine(image, m, (size, size), dst=color, **flags)
            cv2.cvtColor(color, cv2.COLOR_BGR2GRAY, dst=tmp)
        batch[i, 0] = tmp
    return batch


def image_to_crop(points: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Map (M, K, 2) image points into crop coordinates with (M, 2, 3) matrices."""
    pts = np.asarray(points, np.float64)
    return np.einsum("mij,mkj->mki", matrices[:, :, :2], pts) + matrices[:, None, :, 2]


def crop_to_image(points: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Map (M, K, 2) crop points back to image coordinates (inverse of :func:`image_to_crop`)."""
    pts = np.asarray(points, np.float64)
    out = np.empty(pts.shape, np.float64)
    for i, ((a, b, tx), (c, d, ty)) in enumerate(np.asarray(matrices, np.float64).tolist()):  # a face or a few a frame
        det = a * d - b * c
        inv_t = np.array([[d, -c], [-b, a]]) / det  # the transposed inverse of the 2x2 part, closed form
        np.matmul(pts[i] - (tx, ty), inv_t, out=out[i])
    return out
