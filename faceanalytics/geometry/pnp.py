"""Pose refinement: Gauss-Newton on the reprojection error, on OpenCV's projection Jacobian.

:func:`refine_pose` minimises the same cost as ``cv2.solvePnPRefineLM`` (the sum of squared pixel
distances between the projected 3D points and the 2D points, pinhole camera, no distortion), from
a start close to the answer: SQPnP's solution, or the previous video frame's pose. There the cost
is nearly quadratic and a few undamped Gauss-Newton steps converge. A step that does not lower the
cost ends the iteration, and the best pose seen is returned, so a poor start cannot make the
answer worse than the start.

Each step is a handful of calls: ``cv2.projectPoints`` gives the projections and their Jacobian
with respect to the rotation vector and the translation, and ``cv2.solve`` the 6x6 normal
equations (Cholesky). The rotation vector is updated additively, in the coordinates the Jacobian
is taken in. The same Gauss-Newton written out in numpy (about 35 small array operations a step)
took twice as long: 232-249 against 115-123 µs a face on ``benchmarks/pose_refinement.py``'s
synthetic faces, 273 against 161 µs inside a Stream on the benchmark clip (2-vCPU AVX2 VM).
OpenCV's Levenberg-Marquardt takes 145-153 µs there.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = ["refine_pose"]


def refine_pose(
    object_points: np.ndarray,
    image_points: np.ndarray,
    camera_matrix: np.ndarray,
    rvec: np.ndarray,
    tvec: np.ndarray,
    *,
    max_iterations: int = 6,
    tolerance: float = 1e-4,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Refine a pose by Gauss-Newton on the reprojection error.

    Args:
        object_points: (N, 3) float64 model points, N >= 3.
        image_points: (N, 2) float64 pixel coordinates of the same points.
        camera_matrix: (3, 3) pinhole intrinsics ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]``, fx > 0.
        rvec, tvec: the start, a Rodrigues rotation vector and a translation (3 or (3, 1)) that
            map model points into the camera frame; every point must be in front of the camera.
        max_iterations: Gauss-Newton steps at most.
        tolerance: stop once a step lowers the squared error by less than this fraction.

    Returns:
        ``(rvec (3, 1), tvec (3, 1), rms)``: the refined pose and its root-mean-square
        reprojection error in pixels. A start that puts a point behind the camera is returned
        unchanged with an infinite error; a step that would is not taken.
    """
    obj = np.ascontiguousarray(object_points, np.float64)
    img = np.asarray(image_points, np.float64).reshape(-1)  # u0, v0, u1, v1, ...: projectPoints' order
    k = np.asarray(camera_matrix, np.float64)
    r = np.asarray(rvec, np.float64).reshape(3, 1).copy()
    t = np.asarray(tvec, np.float64).reshape(3, 1).copy()
    best: tuple[np.ndarray, np.ndarray, float] | None = None
    last = max_iterations
    for step in range(max_iterations + 1):
        proj, jac = cv2.projectPoints(obj, r, t, k, None)
        if not jac[::2, 3].min() > 0:  # du/dtx = fx / z: a model point behind the camera (or not finite)
            break
        res = proj.reshape(-1) - img
        cost = float(res @ res)
        if best is not None:
            if not cost < best[2]:
                break  # no progress: the previous pose is the answer
            if best[2] - cost <= tolerance * best[2]:
                last = step  # converged: keep this pose and stop
        best = (r, t, cost)
        if step == last:
            break
        j = jac[:, :6]  # d(u, v) / d(rvec, tvec)
        ok, d = cv2.solve(j.T @ j, (res @ j).reshape(6, 1), flags=cv2.DECOMP_CHOLESKY)
        if not ok or not np.isfinite(d).all():
            break  # degenerate points: keep the best pose so far
        r, t = r - d[:3], t - d[3:]
    if best is None:
        return np.asarray(rvec, np.float64).reshape(3, 1), np.asarray(tvec, np.float64).reshape(3, 1), math.inf
    r, t, cost = best
    return r, t, math.sqrt(cost / len(obj))

