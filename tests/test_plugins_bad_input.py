"""Every built-in plugin answers bad landmarks with a flagged result, never an exception."""

from __future__ import annotations

import numpy as np
import pytest

from faceanalytics import Face, LandmarkSchema
from faceanalytics.plugins import AlignmentPlugin, EyesPlugin, Frame, HeadPosePlugin, MouthPlugin

TINY = LandmarkSchema(
    name="five",
    num_points=5,
    jaw=(),
    right_eyebrow=(),
    left_eyebrow=(),
    nose_bridge=(),
    nose_lower=(),
    right_eye=(0,),
    left_eye=(1,),
    outer_lips=(2, 3, 4),
    inner_lips=(),
)
PLUGINS = [HeadPosePlugin(), EyesPlugin(), MouthPlugin(), AlignmentPlugin(), AlignmentPlugin("68pt")]
FRAME = Frame(np.zeros((100, 100, 3), np.uint8))


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.name)
def test_a_schema_with_too_few_points(plugin):
    face = Face(box=[0, 0, 1, 1], score=1.0, landmarks=np.zeros((5, 2)), confidence=np.ones(5), schema=TINY)
    result = plugin(face, FRAME)
    assert not result.valid and "68" in result.reason


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.name)
@pytest.mark.parametrize(
    "points",
    [np.full((68, 2), np.nan), np.zeros((68, 2)), np.column_stack([np.arange(68.0), np.arange(68.0)])],
    ids=["nan", "one point", "a line"],
)
def test_nan_and_degenerate_faces(plugin, points):
    from faceanalytics import SCHEMA_68

    face = Face(box=[0, 0, 1, 1], score=1.0, landmarks=points, confidence=np.ones(68), schema=SCHEMA_68)
    result = plugin(face, FRAME)
    assert not result.valid and result.reason
