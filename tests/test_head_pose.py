"""Head pose on synthetic projections of the 3D mean face at known poses, and by mirror symmetry."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceanalytics import SCHEMA_68, Face
from faceanalytics.geometry.face_templates import MEAN_FACE_3D_68
from faceanalytics.plugins.base import Frame, estimate_camera_matrix
from faceanalytics.plugins.head_pose import HeadPosePlugin, angles_to_rotation, rotation_to_angles

W, H = 640, 480
K = estimate_camera_matrix(W, H)
FRAME = Frame(np.zeros((H, W, 3), np.uint8))


def _project(yaw, pitch, roll, t=(10.0, -20.0, 600.0)) -> np.ndarray:
    rvec = cv2.Rodrigues(angles_to_rotation(yaw, pitch, roll))[0]
    pts, _ = cv2.projectPoints(MEAN_FACE_3D_68.astype(np.float64), rvec, np.array(t, float), K, None)
    return pts.reshape(68, 2)


def _face(points: np.ndarray) -> Face:
    return Face(box=[0, 0, 1, 1], score=1.0, landmarks=points, confidence=np.ones(68), schema=SCHEMA_68)


def test_angle_convention_round_trip_and_signs():
    for angles in [(30, 0, 0), (0, 20, 0), (0, 0, 15), (-25, 10, -5)]:
        np.testing.assert_allclose(rotation_to_angles(angles_to_rotation(*angles)), angles, atol=1e-9)
    nose, eyes_mid = 30, (36, 45)
    turned = _project(30, 0, 0)
    frontal = _project(0, 0, 0)
    # yaw > 0: the subject turns to their left, the nose moves to the image's right.
    assert turned[nose, 0] - turned[list(eyes_mid), 0].mean() > frontal[nose, 0] - frontal[list(eyes_mid), 0].mean() + 10
    up = _project(0, 20, 0)
    assert up[nose, 1] - up[list(eyes_mid), 1].mean() < frontal[nose, 1] - frontal[list(eyes_mid), 1].mean() - 5
    tilted = _project(0, 0, 15)
    assert tilted[45, 1] > tilted[36, 1]  # clockwise: the image-right eye drops


@pytest.mark.parametrize("pose", [(0, 0, 0), (35, 0, 0), (-40, 10, 5), (10, -25, -20), (-15, 20, 30), (50, 5, 0)])
def test_noise_free_projection_is_recovered(pose):
    result = HeadPosePlugin()(_face(_project(*pose)), FRAME)
    assert result.valid, result.reason
    np.testing.assert_allclose([result.yaw, result.pitch, result.roll], pose, atol=0.5)
    np.testing.assert_allclose(result.translation, [10, -20, 600], rtol=0.01)
    assert result.reprojection_error < 0.05


def test_graceful_under_noise():
    rng = np.random.default_rng(0)
    errors = []
    for _ in range(20):
        pose = rng.uniform([-40, -20, -20], [40, 20, 20])
        pts = _project(*pose) + rng.normal(0, 1.0, (68, 2))  # 1 px on a face about 105 px wide
        r = HeadPosePlugin()(_face(pts), FRAME)
        assert r.valid
        errors.append(np.abs(np.array([r.yaw, r.pitch, r.roll]) - pose).max())
    assert np.median(errors) < 3.0 and max(errors) < 8.0


def test_a_prior_pose_only_changes_where_the_solver_starts():
    """The Stream passes each face's previous pose: LM starts there; a prior that does not fit
    (a wrong basin) or is invalid falls back to SQPnP, so the answer is the same either way."""
    plugin = HeadPosePlugin()
    rng = np.random.default_rng(1)
    pts = _project(25, -10, 8) + rng.normal(0, 1.5, (68, 2))
    scratch = plugin(_face(pts), FRAME)
    near = plugin(_face(_project(22, -8, 6)), FRAME)  # last frame's pose, a few degrees away
    far = plugin(_face(_project(-60, 30, -40, t=(-200.0, 150.0, 300.0))), FRAME)
    assert near.valid and far.valid
    invalid = HeadPosePlugin()(_face(np.full((68, 2), np.nan)), FRAME)
    assert not invalid.valid
    for prior in (near, far, invalid, None):
        warm = plugin.estimate(_face(pts), FRAME, prior)
        assert warm.valid
        np.testing.assert_allclose([warm.yaw, warm.pitch, warm.roll], [scratch.yaw, scratch.pitch, scratch.roll], atol=0.05)
        assert warm.reprojection_error == pytest.approx(scratch.reprojection_error, rel=1e-3)


def test_low_confidence_points_are_dropped():
    pts = _project(20, 5, -5)
    conf = np.ones(68)
    pts[[36, 37, 30]] += 40  # three wild points...
    conf[[36, 37, 30]] = 0.05  # ...that the model was unsure of
    face = Face(box=[0, 0, 1, 1], score=1.0, landmarks=pts, confidence=conf, schema=SCHEMA_68)
    r = HeadPosePlugin()(face, FRAME)
    np.testing.assert_allclose([r.yaw, r.pitch, r.roll], [20, 5, -5], atol=0.5)


def test_mirror_symmetry():
    pts = _project(25, 8, 12)
    mirrored = pts[list(SCHEMA_68.flip_permutation)] * [-1, 1] + [W - 1, 0]
    a = HeadPosePlugin()(_face(pts), FRAME)
    b = HeadPosePlugin()(_face(mirrored), FRAME)
    assert abs(a.yaw + b.yaw) < 0.5 and abs(a.roll + b.roll) < 0.5 and abs(a.pitch - b.pitch) < 0.5


@pytest.mark.parametrize(
    ("points", "reason"),
    [
        (np.full((68, 2), np.nan), "usable"),
        (np.full((68, 2), 100.0), "degenerate"),
        (np.column_stack([np.linspace(0, 300, 68), np.full(68, 50.0)]), ""),
        (np.random.default_rng(0).uniform(0, 400, (68, 2)), ""),
    ],
)
def test_bad_landmarks_are_flagged_not_raised(points, reason):
    r = HeadPosePlugin()(_face(points), FRAME)
    assert not r.valid and reason in r.reason
    assert np.isnan(r.yaw) and r.to_dict()["yaw"] is None


def test_mirror_symmetry_on_a_real_face(astronaut):
    from faceanalytics import Pipeline

    pipe = Pipeline(device="cpu", plugins=[HeadPosePlugin()])
    box = [[177, 82, 272, 177]]
    a = pipe(astronaut, boxes=box).faces[0].head_pose
    flipped = np.ascontiguousarray(astronaut[:, ::-1])
    b = pipe(flipped, boxes=[[511 - 272 + 1, 82, 511 - 177 + 1, 177]]).faces[0].head_pose
    assert a.valid and b.valid
    assert abs(a.yaw + b.yaw) < 3 and abs(a.roll + b.roll) < 3 and abs(a.pitch - b.pitch) < 6


def test_angles_to_rotation_golden_values():
    """Yaw alone turns about the camera's y axis (a positive yaw moves the nose, +z in head
    coordinates, towards -x), pitch about x, roll about z; the composition is Ry Rx Rz."""
    s = np.sqrt(0.5)
    np.testing.assert_allclose(angles_to_rotation(45, 0, 0), [[s, 0, -s], [0, 1, 0], [s, 0, s]], atol=1e-12)
    np.testing.assert_allclose(angles_to_rotation(0, 90, 0), [[1, 0, 0], [0, 0, 1], [0, -1, 0]], atol=1e-12)
    np.testing.assert_allclose(angles_to_rotation(0, 0, 90), [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)
    np.testing.assert_allclose(
        angles_to_rotation(20, 10, 5), angles_to_rotation(20, 0, 0) @ angles_to_rotation(0, 10, 0) @ angles_to_rotation(0, 0, 5)
    )
