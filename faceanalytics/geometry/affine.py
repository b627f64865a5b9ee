"""Pure numpy 2D geometry shared by plugins: similarity transforms and affine helpers."""

from __future__ import annotations

import math

import numpy as np

from faceanalytics.core.errors import GeometryError

__all__ = ["GeometryError", "apply_affine", "invert_affine", "similarity_transform"]


def similarity_transform(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping ``src`` onto ``dst``.

    Umeyama (1991), weighted: minimises ``sum w_i |s R src_i + t - dst_i|^2``; no reflections.

    Args:
        src, dst: (N, 2) corresponding points, N >= 2.
        weights: optional (N,) non-negative weights.

    Returns:
        (2, 3) float64 matrix ``[s R | t]``, usable with ``cv2.warpAffine``.

    Raises:
        GeometryError: shapes differ, points not finite, or ``src`` collapses to a single point.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    if src.ndim != 2 or src.shape[1] != 2 or src.shape != dst.shape or len(src) < 2:
        raise GeometryError(f"need two (N, 2) point sets with N >= 2; got {src.shape} and {dst.shape}")
    x = np.concatenate([src, dst], axis=1)  # (N, 4): xs, ys, xd, yd
    if weights is None:
        if not np.isfinite(x).all():
            raise GeometryError("points are not finite")
        mu = x.sum(axis=0) / len(x)
        xc = x - mu
        moments = xc.T @ xc / len(x)
    else:
        w = np.asarray(weights, np.float64).reshape(-1)
        if w.shape != (len(src),) or (w < 0).any() or w.sum() <= 0:
            raise GeometryError("weights must be (N,) non-negative with a positive sum")
        if not (np.isfinite(x).all() and np.isfinite(w).all()):
            raise GeometryError("points are not finite")
        w = w / w.sum()
        mu = w @ x
        xc = x - mu
        moments = (xc * w[:, None]).T @ xc
    # weighted second moments of the centred points: var_s = E|xs|^2, and with points as complex
    # numbers a + ib = E[conj(xs) xd]. Umeyama's SVD solution in closed form for 2D: the best proper
    # rotation and scale are s R = [[a, -b], [b, a]] / var_s.
    (m00, _, m02, m03), (_, m11, m12, m13) = moments[:2].tolist()
    var_s = m00 + m11
    if var_s < 1e-12:
        raise GeometryError("source points coincide; no similarity transform is defined")
    a, b = (m02 + m13) / var_s, (m03 - m12) / var_s
    xs, ys, xd, yd = mu.tolist()
    return np.array([[a, -b, xd - (a * xs - b * ys)], [b, a, yd - (b * xs + a * ys)]])


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine matrix (raises :class:`GeometryError` when singular)."""
    (a, b, tx), (c, d, ty) = np.asarray(m, np.float64).tolist()
    det = a * d - b * c
    if not math.isfinite(det) or abs(det) < 1e-12:
        raise GeometryError("affine matrix is singular")
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    return np.array([[ia, ib, -(ia * tx + ib * ty)], [ic, id_, -(ic * tx + id_ * ty)]])


def apply_affine(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine to (..., 2) points."""
    m = np.asarray(m, np.float64)
    return np.asarray(points, np.float64) @ m[:, :2].T + m[:, 2]
