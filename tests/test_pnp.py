"""Gauss-Newton pose refinement against known poses and against OpenCV's Levenberg-Marquardt."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from faceanalytics.geometry.face_templates import MEAN_FACE_3D_68
from faceanalytics.geometry.pnp import refine_pose
from faceanalytics.plugins.base import estimate_camera_matrix
from faceanalytics.plugins.head_pose import DEFAULT_POSE_POINTS, angles_to_rotation, rotation_to_angles

K = estimate_camera_matrix(640, 480)
OBJ = np.ascontiguousarray(MEAN_FACE_3D_68[list(DEFAULT_POSE_POINTS)], np.float64)


def _pose(yaw: float, pitch: float, roll: float, t=(15.0, -10.0, 550.0)) -> tuple[np.ndarray, np.ndarray]:
    return cv2.Rodrigues(angles_to_rotation(yaw, pitch, roll))[0], np.array(t, np.float64).reshape(3, 1)


def _project(rvec: np.ndarray, tvec: np.ndarray, obj: np.ndarray = OBJ) -> np.ndarray:
    return cv2.projectPoints(obj, rvec, tvec, K, None)[0].reshape(-1, 2)


@pytest.mark.parametrize("angles", [(0, 0, 0), (35, -12, 8), (-50, 25, -20)])
def test_exact_points_give_the_pose_back_from_a_start_degrees_away(angles):
    rvec, tvec = _pose(*angles)
    img = _project(rvec, tvec)
    start_r, start_t = _pose(angles[0] + 6, angles[1] - 5, angles[2] + 4, t=(40.0, 20.0, 620.0))
    r, t, rms = refine_pose(OBJ, img, K, start_r, start_t)
    np.testing.assert_allclose(rotation_to_angles(cv2.Rodrigues(r)[0]), angles, atol=1e-6)
    np.testing.assert_allclose(t, tvec, atol=1e-6)
    assert r.shape == (3, 1) and t.shape == (3, 1) and rms < 1e-6


def test_noisy_points_reach_the_same_minimum_as_opencv_lm():
    rng = np.random.default_rng(3)
    for _ in range(20):
        angles = rng.uniform([-45, -25, -20], [45, 25, 20])
        rvec, tvec = _pose(*angles)
        shape = OBJ + rng.normal(0, 3.0, OBJ.shape)  # another person's face, seen through the mean face
        img = _project(rvec, tvec, shape) + rng.normal(0, 1.5, (len(OBJ), 2))
        _ok, r0, t0 = cv2.solvePnP(OBJ, img, K, None, flags=cv2.SOLVEPNP_SQPNP)
        r_lm, t_lm = cv2.solvePnPRefineLM(OBJ, img, K, None, r0.copy(), t0.copy())
        rms_lm = math.sqrt(((_project(r_lm, t_lm) - img) ** 2).sum(axis=1).mean())
        r, t, rms = refine_pose(OBJ, img, K, r0, t0)
        assert rms == pytest.approx(math.sqrt(((_project(r, t) - img) ** 2).sum(axis=1).mean()), rel=1e-9)
        assert rms <= rms_lm * (1 + 1e-6)  # never a worse fit than LM's
        np.testing.assert_allclose(rotation_to_angles(cv2.Rodrigues(r)[0]), rotation_to_angles(cv2.Rodrigues(r_lm)[0]), atol=0.05)


def test_a_bad_start_is_never_made_worse():
    rvec, tvec = _pose(20, 5, 0)
    img = _project(rvec, tvec)
    start_r, start_t = _pose(-120, 60, 90, t=(0.0, 0.0, 80.0))  # another basin, points close to the camera
    start_rms = math.sqrt(((_project(start_r, start_t) - img) ** 2).sum(axis=1).mean())
    _r, _t, rms = refine_pose(OBJ, img, K, start_r, start_t, max_iterations=3)
    assert math.isfinite(rms) and rms <= start_rms


def test_a_start_behind_the_camera_has_infinite_error():
    rvec, tvec = _pose(0, 0, 0, t=(0.0, 0.0, -500.0))
    img = np.zeros((len(OBJ), 2))
    _r, t, rms = refine_pose(OBJ, img, K, rvec, tvec)
    assert rms == math.inf
    np.testing.assert_array_equal(t, tvec)


def test_degenerate_points_keep_the_start():
    rvec, tvec = _pose(0, 0, 0)
    obj = np.zeros((6, 3))  # every model point at one place: the step is undetermined
    img = _project(rvec, tvec, obj)
    r, t, rms = refine_pose(obj, img, K, rvec, tvec)
    assert np.isfinite(r).all() and np.isfinite(t).all() and rms < 1e-9
