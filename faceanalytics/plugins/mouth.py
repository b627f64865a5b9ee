"""Mouth cues: mouth aspect ratio (MAR), a mouth-open score and flag, and a smile score.

* ``mar``: the three inner vertical lip gaps (61-67, 62-66, 63-65) averaged, over the inner
  mouth width (60-64). Pure geometry: about 0 closed, 0.5 and more wide open. The Stream's yawns
  use it.
* ``smile`` and ``open_score``, both in [0, 1], by default from the **mouth-cue network**
  (:mod:`faceanalytics.plugins.mouth_net`): a small CNN over the mouth crop (the mouth's
  appearance: teeth, the dark gap of an open mouth, the lip curve), aligned and scaled by the
  landmarks, joined with the mouth shape; trained by ``python -m faceanalytics.train.mouth`` on
  the calibration half of FER-2013 faces, smile = happy vs the four other expressions, open =
  surprise vs neutral.
* With ``MouthPlugin(net=None)`` both come from the landmarks alone: ``sigmoid(bias + weights .
  shape)``, two linear models over the **mouth shape** (:func:`mouth_shape`), fitted by
  ``python benchmarks/calibrate_mouth.py --write`` (:mod:`faceanalytics.plugins.mouth_calibration`).
* The **mouth shape**: the 20 lip points, the nose tip and the chin, in the face's own frame
  (origin between the outer eye corners, x along the eye line, y perpendicular to it, down the
  face), divided by the outer eye-corner distance, so independent of face size, position and
  roll; x is divided by ``cos(yaw)`` and y by ``cos(pitch)`` when the head pose is known (turning
  and nodding foreshorten the face). Mouth width and the lift of the mouth corners above the lip
  centre, the two cues of a smile, are linear in these coordinates; so are the lip gaps and the
  drop of the jaw of an open mouth.
* ``open``: ``open_score >= open_threshold`` (0.5: the two classes were balanced in the fit).

:func:`mouth_features` keeps the hand-made features (MAR, mouth width and corner lift).
"""

from __future__ import annotations

import math
import os

import numpy as np

from ..errors import ParameterError
from ..types import Face, Mouth
from . import mouth_calibration
from .base import Frame, landmark_problem
from .mouth_net import MouthNet

__all__ = ["MOUTH_SHAPE_POINTS", "MouthPlugin", "face_mouth_shape", "mouth_features", "mouth_shape"]

_MOUTH_POINTS = [36, 45, 48, 51, 54, 57, 60, 61, 62, 63, 64, 65, 66, 67]  # eye corners, lips

#: iBUG 68 indices of the mouth shape: outer lips 48-59, inner lips 60-67, nose tip 33, chin 8.
MOUTH_SHAPE_POINTS: tuple[int, ...] = (*range(48, 68), 33, 8)
_SHAPE_INDEX = np.array(MOUTH_SHAPE_POINTS)


def mouth_features(points: np.ndarray, pitch_deg: float | None = None) -> tuple[float, float, float]:
    """``(mar, width, lift)`` of (68+, 2) iBUG landmarks; NaN when degenerate.

    ``width``: outer mouth-corner distance (48-54) over the outer eye-corner distance; ``lift``:
    how far the mouth corners sit above the middle of the lips, ``((y51 + y57) / 2 - (y48 + y54) /
    2)`` in the face's frame, over the eye-corner distance, divided by ``cos(pitch)`` when given.
    """
    p = np.asarray(points, np.float64)
    if not np.isfinite(p[:68]).all():
        return math.nan, math.nan, math.nan
    (ex0, ey0), (ex1, ey1), c48, c51, c54, c57, c60, c61, c62, c63, c64, c65, c66, c67 = p[_MOUTH_POINTS].tolist()
    iod = math.hypot(ex1 - ex0, ey1 - ey0)
    if iod < 1e-6:
        return math.nan, math.nan, math.nan
    # Distances do not change with roll; "up" is the normal of the eye line (the face's own y axis).
    nx, ny = -(ey1 - ey0) / iod, (ex1 - ex0) / iod
    inner_width = math.dist(c64, c60)
    gaps = (math.dist(c61, c67) + math.dist(c62, c66) + math.dist(c63, c65)) / 3
    mar = gaps / inner_width if inner_width > 1e-6 * iod else math.nan
    width = math.dist(c54, c48) / iod
    lift = (nx * (c51[0] + c57[0] - c48[0] - c54[0]) + ny * (c51[1] + c57[1] - c48[1] - c54[1])) / (2 * iod)
    if pitch_deg is not None and np.isfinite(pitch_deg):
        lift /= max(math.cos(math.radians(pitch_deg)), 0.5)
    return mar, width, lift


def mouth_shape(points: np.ndarray, yaw_deg: float | None = None, pitch_deg: float | None = None) -> np.ndarray:
    """(44,) mouth shape of (68+, 2) iBUG landmarks: the ``MOUTH_SHAPE_POINTS`` as ``x0, y0, x1,
    y1, ...`` in the face's frame (see the module docstring); all NaN when degenerate."""
    p = np.asarray(points, np.float64)
    out = np.full(2 * len(MOUTH_SHAPE_POINTS), np.nan)
    if p.ndim != 2 or p.shape[0] < 68 or p.shape[1] != 2 or not np.isfinite(p[:68]).all():
        return out
    eye = p[45] - p[36]
    iod = math.hypot(*eye)
    if iod < 1e-6:
        return out
    c, s = eye / iod
    q = (p[_SHAPE_INDEX] - (p[36] + p[45]) / 2) @ np.array([[c, -s], [s, c]]) / iod
    if yaw_deg is not None and math.isfinite(yaw_deg):
        q[:, 0] /= max(math.cos(math.radians(yaw_deg)), 0.5)
    if pitch_deg is not None and math.isfinite(pitch_deg):
        q[:, 1] /= max(math.cos(math.radians(pitch_deg)), 0.5)
    return q.reshape(-1)


def face_mouth_shape(face: Face, points: np.ndarray | None = None) -> np.ndarray:
    """:func:`mouth_shape` of ``points`` (default: the face's landmarks), corrected with the face's
    head pose when it has a valid one (the plugin's input, and what the fits and training use)."""
    pose = face.head_pose
    yaw, pitch = (pose.yaw, pose.pitch) if pose is not None and pose.valid else (None, None)
    return mouth_shape(face.landmarks if points is None else points, yaw, pitch)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


class MouthPlugin:
    """MAR, mouth-open score and flag, and smile score.

    Args:
        open_threshold: ``open_score`` at or above which the mouth counts as open, in (0, 1).
        net: the mouth-cue network for ``smile`` and ``open_score``: a name in
            :data:`faceanalytics.registry.MOUTH_MODELS` or a path; ``None``: the linear models
            over the landmarks' mouth shape instead (no image needed, less accurate; see
            docs/plugins.md).
        smile_model, open_model: with ``net=None`` only: ``(bias, weights)`` of the linear models
            over :func:`mouth_shape` (44 weights each); ``None``: the fitted ones in
            :mod:`faceanalytics.plugins.mouth_calibration`.

    Raises:
        ParameterError: a bad threshold or linear model, or linear models given with a network.
        ModelNotFoundError, ChecksumError, ModelFormatError: the network cannot be loaded.
    """

    name = "mouth"

    def __init__(
        self,
        open_threshold: float = 0.5,
        net: str | os.PathLike | None = "mouth-cues",
        smile_model: tuple[float, np.ndarray] | None = None,
        open_model: tuple[float, np.ndarray] | None = None,
    ) -> None:
        if not 0.0 < float(open_threshold) < 1.0:
            raise ParameterError(f"open_threshold must be in (0, 1); got {open_threshold}")
        if net is not None and (smile_model is not None or open_model is not None):
            raise ParameterError("smile_model and open_model are the linear shape models; pass net=None to use them")
        self.open_threshold = float(open_threshold)
        self.net = MouthNet(net) if net is not None else None
        self.smile_model = _checked_model("smile_model", smile_model or mouth_calibration.SMILE)
        self.open_model = _checked_model("open_model", open_model or mouth_calibration.OPEN)

    def __call__(self, face: Face, frame: Frame) -> Mouth:
        problem = landmark_problem(face)
        if problem:
            return Mouth(math.nan, False, math.nan, valid=False, reason=problem)
        mar = mouth_features(face.landmarks)[0]
        shape = face_mouth_shape(face)
        if not (math.isfinite(mar) and np.isfinite(shape).all()):
            return Mouth(math.nan, False, math.nan, valid=False, reason="mouth landmarks are degenerate or not finite")
        if self.net is not None:
            smile_logit, open_logit = self.net.logits(frame.image, face.landmarks, shape)
        else:
            smile_logit = self.smile_model[0] + float(self.smile_model[1] @ shape)
            open_logit = self.open_model[0] + float(self.open_model[1] @ shape)
        smile, open_score = _sigmoid(smile_logit), _sigmoid(open_logit)
        return Mouth(mar, open_score >= self.open_threshold, smile, open_score)


def _checked_model(name: str, model: tuple[float, np.ndarray] | tuple[float, tuple[float, ...]]) -> tuple[float, np.ndarray]:
    try:
        bias, weights = model
        w = np.asarray(weights, np.float64).reshape(-1)
        b = float(bias)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be (bias, weights); got {model!r}") from None
    if w.shape != (2 * len(MOUTH_SHAPE_POINTS),) or not (np.isfinite(w).all() and math.isfinite(b)):
        raise ParameterError(f"{name} needs a finite bias and {2 * len(MOUTH_SHAPE_POINTS)} finite weights; got {w.shape}")
    return b, w
