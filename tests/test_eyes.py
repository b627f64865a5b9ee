import numpy as np
import pytest

from faceanalytics import SCHEMA_68, Face
from faceanalytics.geometry.face_templates import MEAN_SHAPE_68
from faceanalytics.plugins.base import Frame
from faceanalytics.plugins.eyes import EyesPlugin, eye_aspect_ratios

FRAME = Frame(np.zeros((4, 4, 3), np.uint8))


def _eye(width: float, opening: float, x0: float = 0.0) -> np.ndarray:
    """Six contour points of an eye: corners at x0 and x0 + width, lids +-opening/2."""
    h = opening / 2
    return np.array([[x0, 0], [x0 + width / 3, -h], [x0 + 2 * width / 3, -h], [x0 + width, 0],
                     [x0 + 2 * width / 3, h], [x0 + width / 3, h]], float)


def _face(right_open: float, left_open: float) -> Face:
    pts = np.array(MEAN_SHAPE_68, float)
    pts[36:42] = _eye(30, right_open)
    pts[42:48] = _eye(30, left_open, 60)
    return Face(box=[0, 0, 1, 1], score=1, landmarks=pts, confidence=np.ones(68), schema=SCHEMA_68)


def test_golden_ear():
    # Vertical gaps 9 and 9 over a 30 px width: (9 + 9) / (2 * 30) = 0.3.
    left, right = eye_aspect_ratios(_face(9, 3).landmarks, SCHEMA_68)
    assert right == pytest.approx(0.3) and left == pytest.approx(0.1)
    batch = np.stack([_face(9, 3).landmarks, _face(0, 0).landmarks])
    left_b, right_b = eye_aspect_ratios(batch, SCHEMA_68)
    np.testing.assert_allclose(left_b, [0.1, 0.0])
    np.testing.assert_allclose(right_b, [0.3, 0.0])


def test_open_closed_and_winks():
    plugin = EyesPlugin(threshold=0.2, net=None)  # synthetic landmarks on a blank frame: the EAR path
    opened = plugin(_face(9, 9), FRAME)
    assert opened.valid and not opened.closed and opened.ear == pytest.approx(0.3)
    wink = plugin(_face(9, 1), FRAME)  # the subject's left eye shut
    assert wink.left_closed and not wink.right_closed and not wink.closed
    shut = plugin(_face(1, 0), FRAME)
    assert shut.closed and shut.left_closed and shut.right_closed


def test_degenerate_eyes_are_flagged():
    face = _face(9, 9)
    pts = np.array(face.landmarks)
    pts[42:48] = 5.0
    r = EyesPlugin(net=None)(Face(box=[0, 0, 1, 1], score=1, landmarks=pts, confidence=np.ones(68), schema=SCHEMA_68), FRAME)
    assert not r.valid and not r.closed and r.to_dict()["ear"] is None
    with pytest.raises(ValueError):
        EyesPlugin(threshold=0)
