from __future__ import annotations

import numpy as np
import pytest

from faceanalytics import SCHEMA_68, SCHEMA_104, Face
from faceanalytics.geometry.affine import apply_affine
from faceanalytics.geometry.face_templates import FIVE_POINT_112, MEAN_SHAPE_68
from faceanalytics.plugins.alignment import AlignmentPlugin, five_points, template_points
from faceanalytics.plugins.base import Frame


def _rot(angle, scale, t):
    a = np.deg2rad(angle)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), t[0]], [scale * np.sin(a), scale * np.cos(a), t[1]]])


def _face(points, schema=SCHEMA_68):
    n = schema.num_points
    return Face(box=[0, 0, 1, 1], score=1.0, landmarks=points, confidence=np.ones(n), schema=schema)


def test_five_point_template_of_the_mean_shape_is_the_standard_one():
    # The 68-point template is placed so that its five points fit the standard template.
    assert np.abs(five_points(MEAN_SHAPE_68, SCHEMA_68) - FIVE_POINT_112).max() < 3.0
    np.testing.assert_allclose(template_points("5pt"), FIVE_POINT_112)
    np.testing.assert_allclose(template_points("5pt", 224), (FIVE_POINT_112 + 0.5) * 2 - 0.5)
    zoomed = template_points("5pt", 112, margin=0.5)
    assert np.ptp(zoomed[:, 0]) == pytest.approx(np.ptp(FIVE_POINT_112[:, 0]) / 2)


@pytest.mark.parametrize("template", ["5pt", "68pt"])
def test_a_moved_face_is_warped_back_onto_the_template(template):
    m_true = _rot(25, 2.5, [300, 120])
    pts = apply_affine(m_true, MEAN_SHAPE_68)  # the mean face, rotated, scaled and shifted
    image = np.zeros((600, 700, 3), np.uint8)
    result = AlignmentPlugin(template, size=160, margin=0.1)(_face(pts), Frame(image))
    assert result.valid and result.crop.shape == (160, 160, 3) and result.template == template
    dst = template_points(template, 160, 0.1)
    mapped = apply_affine(result.matrix, pts)
    if template == "68pt":
        np.testing.assert_allclose(mapped, dst, atol=1e-6)
    else:
        np.testing.assert_allclose(five_points(mapped, SCHEMA_68), dst, atol=3.0 * 160 / 112)
    np.testing.assert_allclose(apply_affine(result.inverse, mapped), pts, atol=1e-6)


def test_crop_content_follows_the_face():
    image = np.zeros((400, 400, 3), np.uint8)
    pts = apply_affine(_rot(0, 2.0, [100, 50]), MEAN_SHAPE_68)
    nose = pts[30].round().astype(int)
    image[nose[1] - 2 : nose[1] + 3, nose[0] - 2 : nose[0] + 3] = 255
    crop = AlignmentPlugin("68pt")(_face(pts), Frame(image)).crop
    y, x = np.unravel_index(crop[..., 0].argmax(), crop.shape[:2])
    assert abs(x - MEAN_SHAPE_68[30, 0]) < 2 and abs(y - MEAN_SHAPE_68[30, 1]) < 2


def test_104_point_faces_align_on_their_first_68():
    pts = np.vstack([apply_affine(_rot(-10, 1.5, [50, 60]), MEAN_SHAPE_68), np.zeros((36, 2))])
    for template in ("5pt", "68pt"):
        r = AlignmentPlugin(template)(_face(pts, SCHEMA_104), Frame(np.zeros((300, 300, 3), np.uint8)))
        assert r.valid


def test_degenerate_faces_are_flagged():
    r = AlignmentPlugin()(_face(np.full((68, 2), 5.0)), Frame(np.zeros((10, 10, 3), np.uint8)))
    assert not r.valid and r.crop.shape == (0, 0, 3) and "degenerate" in r.reason
    r = AlignmentPlugin("68pt")(_face(np.full((68, 2), np.nan)), Frame(np.zeros((10, 10, 3), np.uint8)))
    assert not r.valid and "finite" in r.reason


def test_bad_arguments():
    for kwargs in ({"template": "3pt"}, {"size": 4}, {"margin": -1}):
        with pytest.raises(ValueError):
            AlignmentPlugin(**kwargs)
