import numpy as np
import pytest

from faceanalytics import SCHEMA_68, SCHEMA_80, Face
from faceanalytics.core.errors import ParameterError
from faceanalytics.core.types import HeadPose
from faceanalytics.geometry.face_templates import MEAN_SHAPE_68
from faceanalytics.geometry.mouth import MOUTH_SHAPE_POINTS, face_mouth_shape, mouth_features, mouth_shape
from faceanalytics.plugins.base import Frame
from faceanalytics.plugins.mouth import MouthPlugin

FRAME = Frame(np.zeros((4, 4, 3), np.uint8))


def _mouth(opening: float = 0.0, corner_lift: float = 0.0, angle_deg: float = 0.0) -> np.ndarray:
    """Landmarks with eye corners 100 px apart and a mouth 50 px wide (outer) / 40 px (inner)."""
    p = np.array(MEAN_SHAPE_68, float)
    p[36], p[45] = [0, 0], [100, 0]
    p[48], p[54] = [25, 100 - corner_lift], [75, 100 - corner_lift]
    p[51], p[57] = [50, 95], [50, 105]
    p[60], p[64] = [30, 100], [70, 100]
    for up, lo, x in ((61, 67, 40), (62, 66, 50), (63, 65, 60)):
        p[up], p[lo] = [x, 100 - opening / 2], [x, 100 + opening / 2]
    a = np.deg2rad(angle_deg)
    return p @ np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]).T + [300, 200]


def test_golden_features():
    mar, width, lift = mouth_features(_mouth(opening=20, corner_lift=5))
    assert mar == pytest.approx(20 / 40) and width == pytest.approx(0.5) and lift == pytest.approx(0.05)
    rolled = mouth_features(_mouth(opening=20, corner_lift=5, angle_deg=25))
    np.testing.assert_allclose(rolled, (mar, width, lift), atol=1e-9)  # independent of roll
    _, _, lift_pitched = mouth_features(_mouth(corner_lift=5), pitch_deg=60)
    assert lift_pitched == pytest.approx(0.1)  # foreshortening undone


def _face(pts: np.ndarray, schema=SCHEMA_68) -> Face:
    n = schema.num_points
    full = np.vstack([pts, np.zeros((n - 68, 2))])
    return Face(box=[0, 0, 1, 1], score=1, landmarks=full, confidence=np.ones(n), schema=schema)


def _mean_face(opening: float = 0.0, corner_lift: float = 0.0, scale: float = 3.0, angle_deg: float = 0.0) -> np.ndarray:
    """The 68-point mean shape; ``opening`` drops the lower lip and the jaw, ``corner_lift``
    raises and widens the mouth corners (both in eye-corner distances)."""
    p = np.array(MEAN_SHAPE_68, float)
    iod = np.hypot(*(p[45] - p[36]))
    p[[*range(55, 60), 65, 66, 67, *range(5, 12)], 1] += opening * iod
    p[[48, 54], 1] -= corner_lift * iod
    p[48, 0] -= corner_lift * iod / 2
    p[54, 0] += corner_lift * iod / 2
    a = np.deg2rad(angle_deg)
    return scale * p @ np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]).T + [120, 80]


def test_fitted_models_open_and_smile_where_the_geometry_says():
    """The fitted linear models (weights/mouth_calibration.json) must respond to the geometry they are named for."""
    plugin = MouthPlugin(net=None)
    closed, wide = plugin(_face(_mean_face()), FRAME), plugin(_face(_mean_face(opening=0.3)), FRAME)
    assert not closed.open and wide.open
    assert closed.open_score < 0.3 < 0.7 < wide.open_score and wide.mar > closed.mar  # well apart around the 0.5 threshold
    scores = [plugin(_face(_mean_face(opening=o)), FRAME).open_score for o in (0, 0.1, 0.2, 0.3, 0.4)]
    assert np.all(np.diff(scores) > 0)
    smiles = [plugin(_face(_mean_face(corner_lift=c)), FRAME).smile for c in (-0.05, 0, 0.05, 0.1, 0.15)]
    # lifting only the two corners of a mean face: a frown scores low, and the score climbs with the lift
    # (a real smile also stretches the lips, which the fitted model weighs more: the fit of the
    # eighth session's landmark model gives the corners alone +0.02 over this range, the fifth's +0.1)
    assert np.all(np.diff(smiles) > 0) and smiles[0] < 0.15 and smiles[-1] > smiles[1] + 0.01
    assert plugin(_face(_mean_face(corner_lift=0.1)), FRAME).open_score < closed.open_score  # a smile is not an open mouth
    assert plugin(_face(_mean_face(), SCHEMA_80), FRAME).valid


def test_mouth_shape_ignores_size_position_and_roll_and_undoes_foreshortening():
    ref = mouth_shape(_mean_face())
    assert ref.shape == (2 * len(MOUTH_SHAPE_POINTS),)
    np.testing.assert_allclose(mouth_shape(_mean_face(scale=0.7, angle_deg=30)), ref, atol=1e-9)
    turned = mouth_shape(_mean_face(), yaw_deg=60, pitch_deg=-60)
    np.testing.assert_allclose(turned[0::2], 2 * ref[0::2], atol=1e-9)  # / cos(60 deg)
    np.testing.assert_allclose(turned[1::2], 2 * ref[1::2], atol=1e-9)
    # golden: the chin lies on the face's midline below the eyes, the nose tip between them and the mouth
    chin_x, chin_y = ref[-2:]
    nose_y = ref[-3]
    assert abs(chin_x) < 0.1 and chin_y > 1.0 and 0.3 < nose_y < chin_y
    assert np.isnan(mouth_shape(np.full((68, 2), np.nan))).all()
    assert np.isnan(mouth_shape(np.zeros((68, 2)))).all()  # eye corners coincide


def test_face_mouth_shape_uses_a_valid_head_pose_only():
    face = _face(_mean_face())
    np.testing.assert_allclose(face_mouth_shape(face), mouth_shape(face.landmarks))

    def posed(valid: bool) -> Face:
        return face.with_result("head_pose", HeadPose(60.0, -60.0, 0.0, np.zeros(3), np.array([0, 0, 500.0]), 0.5, valid=valid))

    np.testing.assert_allclose(face_mouth_shape(posed(True)), mouth_shape(face.landmarks, 60.0, -60.0))
    np.testing.assert_allclose(face_mouth_shape(posed(False)), mouth_shape(face.landmarks))
    other = _mean_face(opening=0.2)
    np.testing.assert_allclose(face_mouth_shape(posed(True), other), mouth_shape(other, 60.0, -60.0))


def test_plugin_checks_its_parameters():
    with pytest.raises(ParameterError):
        MouthPlugin(open_threshold=1.5)
    with pytest.raises(ParameterError):
        MouthPlugin(net=None, smile_model=(0.0, np.zeros(10)))
    with pytest.raises(ParameterError):
        MouthPlugin(net=None, open_model=(np.nan, np.zeros(44)))
    with pytest.raises(ParameterError, match="net=None"):
        MouthPlugin(smile_model=(5.0, np.zeros(44)))  # linear models need net=None
    custom = MouthPlugin(net=None, smile_model=(5.0, np.zeros(44)), open_model=(-5.0, np.zeros(44)), open_threshold=0.9)
    r = custom(_face(_mean_face(opening=0.3)), FRAME)
    assert r.smile == pytest.approx(1 / (1 + np.exp(-5))) and not r.open


def test_degenerate_mouth_is_flagged():
    pts = _mouth()
    pts[36] = pts[45]
    r = MouthPlugin()(Face(box=[0, 0, 1, 1], score=1, landmarks=pts, confidence=np.ones(68), schema=SCHEMA_68), FRAME)
    assert not r.valid and r.to_dict()["smile"] is None and r.to_dict()["open_score"] is None and not r.open
