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


@pytest.mark.parametrize("plugin", [EyesPlugin(), MouthPlugin()], ids=lambda p: p.name)
def test_a_frame_the_crop_networks_cannot_cut_is_a_typed_error(plugin):
    """The eye and mouth networks cut crops out of the frame: a frame image that is not a non-empty
    uint8 array is refused with a ParameterError (Frame.crop_source), for a face they can measure."""
    from faceanalytics import SCHEMA_68
    from faceanalytics.core.errors import ParameterError
    from faceanalytics.geometry.face_templates import MEAN_SHAPE_68

    face = Face(box=[0, 0, 1, 1], score=1.0, landmarks=np.array(MEAN_SHAPE_68) + 20, confidence=np.ones(68), schema=SCHEMA_68)
    textured = np.random.default_rng(0).integers(0, 256, (150, 150, 3), np.uint8)  # bright enough to judge
    for image in (textured, textured[:, :, 1].copy()):
        frame = Frame(image)
        assert frame.crop_source() is frame.image and plugin(face, frame).valid
    for image in (np.zeros((150, 150, 3), np.float32), np.zeros((0, 150, 3), np.uint8), np.zeros((2, 150, 150, 3), np.uint8)):
        with pytest.raises(ParameterError, match=r"frame\.image must be a non-empty uint8 image"):
            plugin(face, Frame(image))
