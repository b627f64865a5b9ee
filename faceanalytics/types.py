"""Result types: frozen dataclasses with numpy geometry and ``to_dict()`` / ``to_json()``.

Coordinates are in input-image pixels, origin at the top-left corner, x to the right, y down,
with pixel centres on integer coordinates (OpenCV's convention: ``cv2.circle(img, (x, y))`` marks
the point). Boxes are ``x1, y1, x2, y2``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .schema import LandmarkSchema

__all__ = ["DETECTOR_KEYPOINT_NAMES", "Detection", "Face", "Result"]

#: Names of the six BlazeFace keypoints, in order (sides are the subject's).
DETECTOR_KEYPOINT_NAMES: tuple[str, ...] = (
    "right_eye",
    "left_eye",
    "nose_tip",
    "mouth_center",
    "right_ear_tragion",
    "left_ear_tragion",
)


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float32, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Detection:
    """One face found by a detector.

    Attributes:
        box: (4,) float32 ``x1, y1, x2, y2`` in input pixels.
        score: detector confidence in [0, 1].
        keypoints: (6, 2) float32 detector keypoints in input pixels, named by
            :data:`DETECTOR_KEYPOINT_NAMES`; (0, 2) where the detector gives none.
    """

    box: np.ndarray
    score: float
    keypoints: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))

    def __post_init__(self) -> None:
        object.__setattr__(self, "box", _readonly(self.box).reshape(4))
        object.__setattr__(self, "keypoints", _readonly(self.keypoints).reshape(-1, 2))
        object.__setattr__(self, "score", float(self.score))

    @property
    def area(self) -> float:
        """Box area in square pixels."""
        return float(max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1]))


@dataclass(frozen=True, eq=False)
class Face:
    """One face with its landmarks.

    Attributes:
        box: (4,) float32 ``x1, y1, x2, y2`` in input pixels: the detector's box, or the caller's
            when boxes were passed in.
        score: detector confidence in [0, 1]; 1.0 for a caller-supplied box.
        landmarks: (N, 2) float32 ``x, y`` in input pixels, N = 68, 80 or 104, ordered as ``schema``.
        confidence: (N,) float32 per-point confidence: the peak of each keypoint's softmax map
            (FPENet's ``softargmax:1``), in [0, 1]; comparable within one model only.
        schema: what each landmark index means (``face.schema.left_eye`` are indices).
        detector_keypoints: (6, 2) float32 BlazeFace keypoints in input pixels, (0, 2) when the
            box came from the caller.
    """

    box: np.ndarray
    score: float
    landmarks: np.ndarray
    confidence: np.ndarray
    schema: LandmarkSchema
    detector_keypoints: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))

    def __post_init__(self) -> None:
        object.__setattr__(self, "box", _readonly(self.box).reshape(4))
        object.__setattr__(self, "landmarks", _readonly(self.landmarks).reshape(-1, 2))
        object.__setattr__(self, "confidence", _readonly(self.confidence).reshape(-1))
        object.__setattr__(self, "detector_keypoints", _readonly(self.detector_keypoints).reshape(-1, 2))
        object.__setattr__(self, "score", float(self.score))
        n = self.schema.num_points
        if self.landmarks.shape != (n, 2) or self.confidence.shape != (n,):
            raise ValueError(
                f"schema {self.schema.name} has {n} points but landmarks are {self.landmarks.shape} "
                f"and confidence {self.confidence.shape}"
            )

    def region(self, name: str) -> np.ndarray:
        """Landmarks of a named region of the schema, e.g. ``face.region("left_eye")`` -> (k, 2)."""
        idx = getattr(self.schema, name, None)
        if not isinstance(idx, tuple) or not idx:
            raise KeyError(f"schema {self.schema.name} has no region {name!r}; it has {sorted(self.schema.regions)}")
        return self.landmarks[list(idx)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: arrays become lists of floats."""
        return {
            "box": self.box.tolist(),
            "score": self.score,
            "schema": self.schema.name,
            "landmarks": self.landmarks.tolist(),
            "confidence": self.confidence.tolist(),
            "detector_keypoints": self.detector_keypoints.tolist(),
        }


@dataclass(frozen=True, eq=False)
class Result:
    """Everything found in one image.

    Attributes:
        faces: faces, largest box first; ``()`` when there is no face.
        image_size: ``(width, height)`` of the input in pixels.
    """

    faces: tuple[Face, ...]
    image_size: tuple[int, int]

    def __len__(self) -> int:
        return len(self.faces)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``{"image_size": {"width", "height"}, "faces": [...]}``."""
        w, h = self.image_size
        return {"image_size": {"width": int(w), "height": int(h)}, "faces": [f.to_dict() for f in self.faces]}

    def to_json(self, **kwargs: Any) -> str:
        """``json.dumps(self.to_dict(), **kwargs)``."""
        return json.dumps(self.to_dict(), **kwargs)
