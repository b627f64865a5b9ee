"""Face alignment: a least-squares similarity (Umeyama) from the landmarks to a canonical template."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from faceanalytics.core.errors import ParameterError
from faceanalytics.core.schema import IBUG_SLICE, LandmarkSchema
from faceanalytics.core.types import Alignment, Face
from faceanalytics.geometry.affine import GeometryError, invert_affine, similarity_transform
from faceanalytics.geometry.face_templates import FIVE_POINT_112, MEAN_SHAPE_68
from faceanalytics.plugins.base import Frame, landmark_problem

__all__ = ["AlignmentPlugin", "five_points", "template_points"]

_TEMPLATES = ("5pt", "68pt")


def five_points(landmarks: np.ndarray, schema: LandmarkSchema) -> np.ndarray:
    """(5, 2) points in the order of the 5-point template: image-left eye centre (the subject's
    right eye), image-right eye centre, nose tip, image-left mouth corner, image-right mouth corner."""
    return _five_point_weights(schema) @ np.asarray(landmarks, np.float64)


@functools.lru_cache(maxsize=16)
def _five_point_weights(schema: LandmarkSchema) -> np.ndarray:
    """(5, N) matrix whose product with (N, 2) landmarks gives :func:`five_points`."""
    w = np.zeros((5, schema.num_points))
    groups = (schema.right_eye, schema.left_eye, (schema.nose_tip,), (schema.mouth_right,), (schema.mouth_left,))
    for row, idx in enumerate(groups):
        w[row, list(idx)] = 1.0 / len(idx)
    w.setflags(write=False)
    return w


def template_points(template: str, size: int = 112, margin: float = 0.0) -> np.ndarray:
    """Template points in a ``size x size`` crop.

    ``margin`` zooms out: 0 is the standard 112x112 framing scaled to ``size``; 0.2 adds 20 % of
    the face's framing on every side (the template shrinks by 1 / 1.4 about the centre).
    """
    base = {"5pt": FIVE_POINT_112, "68pt": MEAN_SHAPE_68}[template]
    centre = 55.5  # pixel-centre coordinates of a 112-pixel crop
    pts = centre + (base - centre) / (1.0 + 2.0 * margin)
    return (pts + 0.5) * (size / 112.0) - 0.5


class AlignmentPlugin:
    """Aligned face crops.

    Args:
        template: ``"5pt"`` (eye centres, nose tip, mouth corners; the standard 112x112
            face-recognition template) or ``"68pt"`` (all 68 iBUG points onto their mean shape).
        size: output side in pixels.
        margin: extra framing on every side, as a fraction (see :func:`template_points`).
    """

    name = "alignment"

    def __init__(self, template: str = "5pt", size: int = 112, margin: float = 0.0) -> None:
        if template not in _TEMPLATES:
            raise ParameterError(f"template must be one of {_TEMPLATES}; got {template!r}")
        if not isinstance(size, int) or size < 8:
            raise ParameterError(f"size must be an integer >= 8; got {size!r}")
        if not 0.0 <= margin <= 2.0:
            raise ParameterError(f"margin must be in [0, 2]; got {margin}")
        self.template, self.size, self.margin = template, size, float(margin)
        self._dst = template_points(template, size, margin)

    def __call__(self, face: Face, frame: Frame) -> Alignment:
        try:
            problem = landmark_problem(face)
            if problem:
                raise GeometryError(problem)
            src = five_points(face.landmarks, face.schema) if self.template == "5pt" else face.landmarks[IBUG_SLICE]
            m = similarity_transform(src, self._dst)
            inv = invert_affine(m)
        except GeometryError as exc:
            empty = np.zeros((0, 0, 3), np.uint8)
            nan = np.full((2, 3), np.nan)
            return Alignment(empty, nan, nan, self.template, valid=False, reason=str(exc))
        crop = cv2.warpAffine(frame.image, m, (self.size, self.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        return Alignment(crop, m, inv, self.template)
