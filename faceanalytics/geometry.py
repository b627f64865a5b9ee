"""Pure numpy 2D geometry shared by plugins: similarity transforms and affine helpers."""

from __future__ import annotations

import numpy as np

from .errors import FaceAnalyticsError

__all__ = ["GeometryError", "apply_affine", "invert_affine", "similarity_transform"]


class GeometryError(FaceAnalyticsError, ValueError):
    """Points too degenerate (or not finite) for the requested geometry."""


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
    w = np.ones(len(src)) if weights is None else np.asarray(weights, np.float64).reshape(-1)
    if w.shape != (len(src),) or (w < 0).any() or w.sum() <= 0:
        raise GeometryError("weights must be (N,) non-negative with a positive sum")
    if not (np.isfinite(src).all() and np.isfinite(dst).all() and np.isfinite(w).all()):
        raise GeometryError("points are not finite")
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    xs, xd = src - mu_s, dst - mu_d
    var_s = float(w @ (xs**2).sum(axis=1))
    if var_s < 1e-12:
        raise GeometryError("source points coincide; no similarity transform is defined")
    cov = (xd * w[:, None]).T @ xs  # (2, 2)
    u, d, vt = np.linalg.svd(cov)
    s_fix = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    r = u @ s_fix @ vt
    scale = float(np.trace(np.diag(d) @ s_fix)) / var_s
    t = mu_d - scale * r @ mu_s
    return np.hstack([scale * r, t[:, None]])


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine matrix (raises :class:`GeometryError` when singular)."""
    m = np.asarray(m, np.float64)
    a = m[:, :2]
    det = float(np.linalg.det(a))
    if not np.isfinite(det) or abs(det) < 1e-12:
        raise GeometryError("affine matrix is singular")
    inv = np.linalg.inv(a)
    return np.hstack([inv, -inv @ m[:, 2:]])


def apply_affine(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine to (..., 2) points."""
    m = np.asarray(m, np.float64)
    return np.asarray(points, np.float64) @ m[:, :2].T + m[:, 2]
