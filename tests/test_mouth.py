import numpy as np
import pytest

from faceanalytics import SCHEMA_68, SCHEMA_80, Face
from faceanalytics.face_models import MEAN_SHAPE_68
from faceanalytics.plugins.base import Frame
from faceanalytics.plugins.mouth import MouthPlugin, mouth_features

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


def test_plugin_open_and_smile_are_monotone():
    plugin = MouthPlugin(open_threshold=0.3)

    def face(pts, schema=SCHEMA_68):
        n = schema.num_points
        full = np.vstack([pts, np.zeros((n - 68, 2))])
        return Face(box=[0, 0, 1, 1], score=1, landmarks=full, confidence=np.ones(n), schema=schema)

    closed, wide = plugin(face(_mouth(opening=2)), FRAME), plugin(face(_mouth(opening=30)), FRAME)
    assert not closed.open and wide.open and wide.mar > closed.mar
    flat, smiling = plugin(face(_mouth(corner_lift=-3)), FRAME), plugin(face(_mouth(corner_lift=8)), FRAME)
    assert 0 <= flat.smile < smiling.smile <= 1
    assert plugin(face(_mouth(), SCHEMA_80), FRAME).valid


def test_degenerate_mouth_is_flagged():
    pts = _mouth()
    pts[36] = pts[45]
    r = MouthPlugin()(Face(box=[0, 0, 1, 1], score=1, landmarks=pts, confidence=np.ones(68), schema=SCHEMA_68), FRAME)
    assert not r.valid and r.to_dict()["smile"] is None and not r.open
