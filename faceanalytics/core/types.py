"""Result types: frozen dataclasses with numpy geometry and ``to_dict()`` / ``to_json()``.

Coordinates are in input-image pixels, origin at the top-left corner, x to the right, y down,
with pixel centres on integer coordinates (OpenCV's convention: ``cv2.circle(img, (x, y))`` marks
the point). Boxes are ``x1, y1, x2, y2``.

JSON (``to_dict()`` / ``to_json()``) rounds every number to a fixed number of decimals by its unit,
so that no float32 noise (``129.09425354003906``) reaches it: pixels, degrees and millimetres to
:data:`PIXEL_DECIMALS` (2), dimensionless values (scores, confidences, EAR, MAR, radians) to
:data:`RATIO_DECIMALS` (4). NaN and infinities become ``null``. The arrays and attributes themselves
are not rounded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from faceanalytics.core.errors import ParameterError
from faceanalytics.core.schema import LandmarkSchema

__all__ = [
    "DETECTOR_KEYPOINT_NAMES",
    "PIXEL_DECIMALS",
    "RATIO_DECIMALS",
    "Alignment",
    "Detection",
    "Expression",
    "Eyes",
    "Face",
    "HeadPose",
    "Mouth",
    "Result",
]

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
        x1, y1, x2, y2 = (float(v) for v in self.box)  # Python floats: a huge box is inf, not a float32 overflow warning
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)


#: Decimals kept in JSON for pixels, degrees and millimetres (0.01 px: far below landmark error).
PIXEL_DECIMALS = 2
#: Decimals kept in JSON for dimensionless values: scores, confidences, EAR, MAR, radians.
RATIO_DECIMALS = 4


def _num(x: float, decimals: int) -> float | None:
    """A float for JSON rounded to ``decimals`` (no float32 noise, no ``-0.0``); NaN and infinities
    become ``None`` (null)."""
    x = float(x)
    return round(x, decimals) + 0.0 if math.isfinite(x) else None


def _nums(a: np.ndarray, decimals: int) -> list[Any]:
    """An array as nested lists of :func:`_num` values."""
    if a.ndim > 1:
        return [_nums(row, decimals) for row in a]
    return [_num(v, decimals) for v in a.tolist()]


@dataclass(frozen=True)
class Eyes:
    """Eye openness: a learned score per eye, and the eye aspect ratio (EAR, Soukupova and Cech 2016).

    ``left_openness``/``right_openness`` are the eye-openness network's probabilities that each
    eye is open (see docs/plugins.md). ``EAR = (|p1 - p5| + |p2 - p4|) / (2 |p0 - p3|)`` over an
    eye's six contour points: with the shipped landmarks about 0.22 for open eyes and 0.09 for
    closed ones. Left and right are the subject's.

    Attributes:
        left_ear, right_ear: per-eye EAR (dimensionless); NaN when the eye is degenerate.
        ear: mean of the two.
        left_closed, right_closed: per eye: openness below ``openness_threshold`` when the network
            ran, else EAR below ``threshold`` (so a wink shows as one eye).
        closed: the eyes are closed. With the network: ``openness`` (both eyes together) below
            ``openness_threshold``; a face with one eye clearly shut and the other not clearly
            open counts, and so may a wink. Without it: both EARs below ``threshold``.
        threshold: the EAR threshold (used for the flags only when openness is NaN).
        valid: False when the EARs could not be computed, or when the network is used and the
            face is too dark or flat to judge its eyes (the EARs are then still reported, but not
            used: the same conditions fool them); ``reason`` says why. An invalid result's closed
            flags are False, and a Stream feeds it to no event.
        left_openness, right_openness: probability in [0, 1] that the eye is open; NaN when not
            computed (``EyesPlugin(net=None)``, a Stream's adaptive EAR flags, or a face too dark
            to judge).
        openness_threshold: openness below which an eye, or the face's ``openness``, is closed;
            NaN when not used.
        openness: both eyes' evidence together, in [0, 1]: the logistic of the mean of the two
            eyes' log-odds (:func:`faceanalytics.plugins.eyes.combined_openness`); NaN when not
            computed.
    """

    left_ear: float
    right_ear: float
    ear: float
    left_closed: bool
    right_closed: bool
    closed: bool
    threshold: float
    valid: bool = True
    reason: str = ""
    left_openness: float = math.nan
    right_openness: float = math.nan
    openness_threshold: float = math.nan
    openness: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        return {
            "left_ear": _num(self.left_ear, RATIO_DECIMALS), "right_ear": _num(self.right_ear, RATIO_DECIMALS),
            "ear": _num(self.ear, RATIO_DECIMALS),
            "left_openness": _num(self.left_openness, RATIO_DECIMALS),
            "right_openness": _num(self.right_openness, RATIO_DECIMALS),
            "openness": _num(self.openness, RATIO_DECIMALS),
            "left_closed": self.left_closed, "right_closed": self.right_closed, "closed": self.closed,
            "valid": self.valid, "reason": self.reason,
        }


@dataclass(frozen=True)
class Mouth:
    """Mouth cues from the lips.

    Attributes:
        mar: mouth aspect ratio from the inner lips, mean of the three inner vertical gaps over the
            inner corner-to-corner width (dimensionless; about 0 closed, 0.5 and more wide open).
        open: ``open_score`` at or above the plugin's threshold (0.5 by default).
        smile: smile score in [0, 1]: a probability that the face is happy rather than neutral,
            surprised, sad or angry, from the mouth only (its crop and shape; see docs/plugins.md).
        open_score: mouth-open score in [0, 1] (fitted on surprised vs neutral faces).
        valid: False when the cues could not be computed; ``reason`` says why.
    """

    mar: float
    open: bool
    smile: float
    open_score: float = float("nan")
    valid: bool = True
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "mar": _num(self.mar, RATIO_DECIMALS),
            "open": self.open,
            "open_score": _num(self.open_score, RATIO_DECIMALS),
            "smile": _num(self.smile, RATIO_DECIMALS),
            "valid": self.valid,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Expression:
    """A facial expression from the 68 landmarks' shape (:class:`~faceanalytics.plugins.ExpressionPlugin`).

    In a :class:`~faceanalytics.Stream` the probabilities are smoothed over the track's recent
    frames (an exponential moving average, the plugin's ``smoothing`` time constant); for single
    images they are the network's own.

    Attributes:
        label: the most probable class (``""`` when ``valid`` is False).
        scores: probability of each class, in the model's class order (read-only mapping; they sum
            to 1). Empty when ``valid`` is False.
        classes: the model's class names in its output order (``expression-fer5``: neutral, happy,
            surprise, sad, angry; NVIDIA EmotionNet: neutral, happy, surprise, squint, disgust, scream).
        valid: False when the landmarks could not be read; ``reason`` says why.
    """

    label: str
    scores: Mapping[str, float]
    classes: tuple[str, ...]
    valid: bool = True
    reason: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "scores", MappingProxyType(dict(self.scores)))
        object.__setattr__(self, "classes", tuple(self.classes))

    def __hash__(self) -> int:
        return hash((self.label, tuple(self.scores.items()), self.classes, self.valid, self.reason))

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label or None,
            "scores": {k: _num(v, RATIO_DECIMALS) for k, v in self.scores.items()},
            "valid": self.valid,
            "reason": self.reason,
        }


@dataclass(frozen=True, eq=False)
class HeadPose:
    """Head pose from PnP against the 3D mean face.

    Camera frame as OpenCV's: x right, y down, z forward from the camera. The head frame has the
    same axes for a face looking straight into the camera. Angles in degrees (see docs/plugins.md
    for the figure): ``yaw`` positive when the subject turns to their left (face turns towards
    the image's right), ``pitch`` positive when the subject looks up, ``roll`` positive when the
    head tilts clockwise in the image.

    Attributes:
        yaw, pitch, roll: degrees.
        rotation_vector: (3,) Rodrigues vector, head -> camera (OpenCV ``rvec``).
        translation: (3,) head origin in the camera frame, mm (OpenCV ``tvec``).
        reprojection_error: RMS pixel distance between the landmarks used and the projected model.
        valid: False when PnP failed or gave a non-physical answer; ``reason`` says why (the numbers
            are then NaN).
    """

    yaw: float
    pitch: float
    roll: float
    rotation_vector: np.ndarray
    translation: np.ndarray
    reprojection_error: float
    valid: bool = True
    reason: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "rotation_vector", _readonly(self.rotation_vector).reshape(3))
        object.__setattr__(self, "translation", _readonly(self.translation).reshape(3))

    def to_dict(self) -> dict[str, Any]:
        return {
            "yaw": _num(self.yaw, PIXEL_DECIMALS), "pitch": _num(self.pitch, PIXEL_DECIMALS),
            "roll": _num(self.roll, PIXEL_DECIMALS),
            "rotation_vector": _nums(self.rotation_vector, RATIO_DECIMALS),  # radians
            "translation": _nums(self.translation, PIXEL_DECIMALS),  # mm
            "reprojection_error": _num(self.reprojection_error, PIXEL_DECIMALS),  # pixels
            "valid": self.valid, "reason": self.reason,
        }


@dataclass(frozen=True, eq=False)
class Alignment:
    """A face warped onto a canonical template (not part of the JSON: it is an image).

    Attributes:
        crop: (size, size, 3) uint8 BGR aligned face; empty (0, 0, 3) when ``valid`` is False.
        matrix: (2, 3) image -> crop similarity transform.
        inverse: (2, 3) crop -> image transform.
        template: template name, ``"5pt"`` or ``"68pt"``.
        valid, reason: as for the other plugin results.
    """

    crop: np.ndarray
    matrix: np.ndarray
    inverse: np.ndarray
    template: str
    valid: bool = True
    reason: str = ""


_BUILTIN_RESULTS = {"head_pose": HeadPose, "eyes": Eyes, "mouth": Mouth, "alignment": Alignment}


@dataclass(frozen=True, eq=False)
class Face:
    """One face with its landmarks.

    Attributes:
        box: (4,) float32 ``x1, y1, x2, y2`` in input pixels: the detector's box, or the caller's
            when boxes were passed in.
        score: in [0, 1]. Single images: the detector's confidence; 1.0 for a caller-supplied box.
            Video (:class:`~faceanalytics.Stream`): the detector's confidence on frames where the
            detector ran and found this face, else the tracking confidence: the last detector
            score x 0.99 per frame since x ``min(1, confidence.mean() / its mean at that
            detection)``, at most ``min_score`` when the detector ran and missed the face
            (docs/video.md).
        landmarks: (N, 2) float32 ``x, y`` in input pixels, N = 68, 80 or 104, ordered as ``schema``.
        confidence: (N,) float32 per-point confidence in [0, 1]. For faceanalytics' own models
            (``fpenet68`` and its INT8 and FP16 variants): the probability that the point lies
            within 10 % of the inter-ocular distance (outer eye corners) of its true place,
            calibrated on held-out identities (:mod:`faceanalytics.runners.point_confidence`,
            docs/models.md); about 0.9 on a clear face, lower on covered points, near 0 off a
            face. For other FPENet models (NVIDIA TAO's, your own): the raw peak of each
            keypoint's softmax map (``softargmax:1``), comparable within one model only.
        schema: what each landmark index means (``face.schema.left_eye`` are indices).
        detector_keypoints: (6, 2) float32 BlazeFace keypoints in input pixels, (0, 2) when the
            box came from the caller.
        head_pose, eyes, mouth, alignment: results of the built-in plugins; ``None`` when that
            plugin was not run.
        extras: results of user plugins, by plugin name.
        track_id: stable identity of the face across a video's frames (:class:`~faceanalytics.Stream`);
            ``None`` for single images.
    """

    box: np.ndarray
    score: float
    landmarks: np.ndarray
    confidence: np.ndarray
    schema: LandmarkSchema
    detector_keypoints: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    head_pose: HeadPose | None = None
    eyes: Eyes | None = None
    mouth: Mouth | None = None
    alignment: Alignment | None = None
    extras: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    track_id: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "extras", MappingProxyType(dict(self.extras)))
        object.__setattr__(self, "box", _readonly(self.box).reshape(4))
        object.__setattr__(self, "landmarks", _readonly(self.landmarks).reshape(-1, 2))
        object.__setattr__(self, "confidence", _readonly(self.confidence).reshape(-1))
        object.__setattr__(self, "detector_keypoints", _readonly(self.detector_keypoints).reshape(-1, 2))
        object.__setattr__(self, "score", float(self.score))
        n = self.schema.num_points
        if self.landmarks.shape != (n, 2) or self.confidence.shape != (n,):
            raise ParameterError(
                f"schema {self.schema.name} has {n} points but landmarks are {self.landmarks.shape} "
                f"and confidence {self.confidence.shape}"
            )

    def region(self, name: str) -> np.ndarray:
        """Landmarks of a named region, e.g. ``face.region("left_eye")`` -> (6, 2).

        ``name`` is any of ``face.schema.region_names``: a region (``jaw`` ... ``inner_lips``, and
        ``pupils``, ``ears``, ``eye_contours`` where the layout has them), a union (``nose``,
        ``mouth``) or a single point (``nose_tip``, ``chin``, ``left_eye_outer``, ...), which gives
        a (1, 2) array.

        Raises:
            KeyError: an unknown name; the message lists every valid one.
        """
        return self.landmarks[list(self.schema.indices(name))]

    def with_result(self, name: str, value: Any) -> Face:
        """A copy with a plugin's result attached: a built-in field, or ``extras[name]``."""
        if name in _BUILTIN_RESULTS:
            if not isinstance(value, _BUILTIN_RESULTS[name]):
                raise TypeError(f"plugin {name!r} must return {_BUILTIN_RESULTS[name].__name__}, got {type(value).__name__}")
            return self._with(name, value)
        return self._with("extras", MappingProxyType({**self.extras, name: value}))

    def _with(self, field_name: str, value: Any) -> Face:
        """A shallow copy with one field replaced; the other fields were checked at construction,
        so unlike ``dataclasses.replace`` this does not validate (and copy) the arrays again."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)  # what copy.copy does, without its generic protocol
        new.__dict__[field_name] = value
        return new

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: arrays become lists of floats, rounded as the module says (pixels to
        :data:`PIXEL_DECIMALS`, ``score`` and ``confidence`` to :data:`RATIO_DECIMALS`); NaN
        becomes null. Plugin results appear under their names (``head_pose``, ``eyes``, ``mouth``,
        user plugins' names, as their own ``to_dict()`` gives them) when they ran and offer
        ``to_dict()``; the alignment crop is never serialised."""
        d: dict[str, Any] = {} if self.track_id is None else {"track_id": self.track_id}
        d |= {
            "box": _nums(self.box, PIXEL_DECIMALS),
            "score": _num(self.score, RATIO_DECIMALS),
            "schema": self.schema.name,
            "landmarks": _nums(self.landmarks, PIXEL_DECIMALS),
            "confidence": _nums(self.confidence, RATIO_DECIMALS),
            "detector_keypoints": _nums(self.detector_keypoints, PIXEL_DECIMALS),
        }
        for name in ("head_pose", "eyes", "mouth"):
            value = getattr(self, name)
            if value is not None:
                d[name] = value.to_dict()
        for name, value in self.extras.items():
            if hasattr(value, "to_dict"):
                d[name] = value.to_dict()
        return d


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
        """JSON-ready dict: ``{"image_size": {"width", "height"}, "faces": [...]}``, numbers rounded
        by unit (see :meth:`Face.to_dict`)."""
        w, h = self.image_size
        return {"image_size": {"width": int(w), "height": int(h)}, "faces": [f.to_dict() for f in self.faces]}

    def to_json(self, **kwargs: Any) -> str:
        """``json.dumps(self.to_dict(), **kwargs)``: pixels with at most 2 decimals, scores and
        other dimensionless values with at most 4, never float32 noise such as ``129.09425354003906``."""
        return json.dumps(self.to_dict(), **kwargs)
