"""Drawing results onto images, apart from analysis: ``annotate(image, result) -> image``."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import cv2
import numpy as np

from faceanalytics.core.image import ImageInput, load_image
from faceanalytics.core.schema import LandmarkSchema
from faceanalytics.core.types import Result

if TYPE_CHECKING:
    from faceanalytics.video.results import StreamFrame

__all__ = ["annotate"]

# BGR colours per region.
_COLOURS: dict[str, tuple[int, int, int]] = {
    "jaw": (200, 200, 200),
    "right_eyebrow": (0, 165, 255),
    "left_eyebrow": (0, 165, 255),
    "nose_bridge": (255, 255, 0),
    "nose_lower": (255, 255, 0),
    "right_eye": (0, 255, 0),
    "left_eye": (0, 255, 0),
    "outer_lips": (0, 0, 255),
    "inner_lips": (147, 20, 255),
    "pupils": (255, 0, 255),
    "ears": (255, 128, 0),
    "eye_contours": (0, 255, 128),
}
_BOX = (255, 200, 0)
_SHIFT = 4  # sub-pixel drawing: coordinates scaled by 2**4


@functools.cache
def _point_colours(schema: LandmarkSchema) -> tuple[tuple[int, int, int], ...]:
    """The colour of each point: that of its region (computed once per schema)."""
    colours = [_COLOURS["jaw"]] * schema.num_points
    for name, idx in schema.regions.items():
        for i in idx:
            colours[i] = _COLOURS[name]
    return tuple(colours)


def _fixed(p: np.ndarray) -> tuple[int, int]:
    return round(float(p[0]) * (1 << _SHIFT)), round(float(p[1]) * (1 << _SHIFT))


def annotate(
    image: ImageInput,
    result: Result | StreamFrame,
    *,
    boxes: bool = True,
    landmarks: bool = True,
    lines: bool = True,
    scores: bool = True,
) -> np.ndarray:
    """A copy of ``image`` (HxWx3 uint8 BGR) with each face's box, score (or track id, for
    stream frames) and landmarks drawn.

    ``image`` is converted as in :func:`faceanalytics.core.image.load_image`; the input is not modified.
    Sizes scale with each face.
    """
    out = load_image(image).copy()
    for face in result.faces:
        x1, y1, x2, y2 = (float(v) for v in face.box)
        size = max(x2 - x1, y2 - y1, 1.0)
        thick = max(1, round(size / 120))
        radius = max(1.0, size / 90)
        if boxes:
            cv2.rectangle(out, _fixed(np.array([x1, y1])), _fixed(np.array([x2, y2])), _BOX, thick, cv2.LINE_AA, _SHIFT)
        if scores:
            label = f"#{face.track_id}" if face.track_id is not None else f"{face.score:.2f}"
            cv2.putText(
                out,
                label,
                (int(x1), max(0, int(y1) - 4)),
                cv2.FONT_HERSHEY_SIMPLEX,
                max(0.35, size / 300),
                _BOX,
                thick,
                cv2.LINE_AA,
            )
        if not landmarks:
            continue
        pts = face.landmarks
        colours = _point_colours(face.schema)
        if lines:
            for a, b in face.schema.connections:
                cv2.line(out, _fixed(pts[a]), _fixed(pts[b]), colours[a], max(1, thick // 2), cv2.LINE_AA, _SHIFT)
        for i, colour in enumerate(colours):
            cv2.circle(out, _fixed(pts[i]), int(radius * (1 << _SHIFT)), colour, -1, cv2.LINE_AA, _SHIFT)
    return out
