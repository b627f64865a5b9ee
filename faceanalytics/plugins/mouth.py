"""Mouth cues: mouth aspect ratio (MAR), a mouth-open score and flag, and a smile score.

* ``mar``: the three inner vertical lip gaps (``schema.inner_lip_pairs``: 61-67, 62-66, 63-65)
  averaged, over the inner mouth width (the inner corners, 60-64). Pure geometry: about 0
  closed, 0.5 and more wide open. The Stream's yawns use it.
* ``smile`` and ``open_score``, both in [0, 1], by default from the **mouth-cue network**
  (:mod:`faceanalytics.runners.mouth_net`): a small CNN over the mouth crop (the mouth's
  appearance: teeth, the dark gap of an open mouth, the lip curve), aligned and scaled by the
  landmarks, joined with the mouth shape; trained by ``python -m faceanalytics.train.mouth`` on
  the calibration half of FER-2013 faces, smile = happy vs the four other expressions, open =
  surprise vs neutral.
* With ``MouthPlugin(net=None)`` both come from the landmarks alone: ``sigmoid(bias + weights .
  shape)``, two linear models over the **mouth shape** (:func:`faceanalytics.geometry.mouth.mouth_shape`), fitted by
  ``python benchmarks/calibrate_mouth.py --write`` (``faceanalytics/weights/mouth_calibration.json``,
  :func:`fitted_linear_models`).
* The **mouth shape**: the 20 lip points, the base of the nose (the subnasale, point 33; not the
  nose tip, 30) and the chin, in the face's own frame
  (origin between the outer eye corners, x along the eye line, y perpendicular to it, down the
  face), divided by the outer eye-corner distance, so independent of face size, position and
  roll; x is divided by ``cos(yaw)`` and y by ``cos(pitch)`` when the head pose is known (turning
  and nodding foreshorten the face). Mouth width and the lift of the mouth corners above the lip
  centre, the two cues of a smile, are linear in these coordinates; so are the lip gaps and the
  drop of the jaw of an open mouth.
* ``open``: ``open_score >= open_threshold`` (0.5: the two classes were balanced in the fit).

:func:`faceanalytics.geometry.mouth.mouth_features` keeps the hand-made features (MAR, mouth width and corner lift).
"""

from __future__ import annotations

import functools
import json
import math
import os

import numpy as np

from faceanalytics.core.errors import ModelFormatError, ModelNotFoundError, ParameterError
from faceanalytics.core.types import Face, Mouth
from faceanalytics.geometry.mouth import MOUTH_SHAPE_POINTS, face_mouth_shape, mouth_features
from faceanalytics.plugins.base import Frame, landmark_problem
from faceanalytics.runners.mouth_net import MouthNet
from faceanalytics.runtime.hub import shipped_path
from faceanalytics.runtime.registry import MOUTH_LINEAR_MODEL

__all__ = ["MouthPlugin", "fitted_linear_models"]

def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


class MouthPlugin:
    """MAR, mouth-open score and flag, and smile score.

    Args:
        open_threshold: ``open_score`` at or above which the mouth counts as open, in (0, 1).
        net: the mouth-cue network for ``smile`` and ``open_score``: a name in
            :data:`faceanalytics.runtime.registry.MOUTH_MODELS` or a path; ``None``: the linear models
            over the landmarks' mouth shape instead (no image needed, less accurate; see
            docs/plugins.md).
        smile_model, open_model: with ``net=None`` only: ``(bias, weights)`` of the linear models
            over :func:`mouth_shape` (44 weights each); ``None``: the fitted ones in
            ``faceanalytics/weights/mouth_calibration.json`` (:func:`fitted_linear_models`).

    Raises:
        ParameterError: a bad threshold or linear model, or linear models given with a network.
        ModelNotFoundError, ChecksumError, ModelFormatError: the network cannot be loaded.
    """

    name = "mouth"
    raw_landmarks = True  # in a smoothing Stream: mouth movements unflattened (plugins.base)

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
        fitted = fitted_linear_models() if smile_model is None or open_model is None else {}
        self.smile_model = _checked_model("smile_model", smile_model or fitted["smile"])
        self.open_model = _checked_model("open_model", open_model or fitted["open"])

    def __call__(self, face: Face, frame: Frame) -> Mouth:
        problem = landmark_problem(face)
        if problem:
            return Mouth(math.nan, False, math.nan, valid=False, reason=problem)
        mar = mouth_features(face.landmarks)[0]
        shape = face_mouth_shape(face)
        if not (math.isfinite(mar) and np.isfinite(shape).all()):
            return Mouth(math.nan, False, math.nan, valid=False, reason="mouth landmarks are degenerate or not finite")
        if self.net is not None:
            smile_logit, open_logit = self.net.checked_logits(frame.crop_source(), face.landmarks, shape)  # points checked above
        else:
            smile_logit = self.smile_model[0] + float(self.smile_model[1] @ shape)
            open_logit = self.open_model[0] + float(self.open_model[1] @ shape)
        smile, open_score = _sigmoid(smile_logit), _sigmoid(open_logit)
        return Mouth(mar, open_score >= self.open_threshold, smile, open_score)


@functools.cache
def fitted_linear_models() -> dict[str, tuple[float, np.ndarray]]:
    """The shipped linear models, ``{"smile": (bias, weights), "open": (bias, weights)}``, from
    ``faceanalytics/weights/mouth_calibration.json`` (declared with its sha256 in the registry).

    Raises:
        ModelNotFoundError, ChecksumError: the file is missing or altered (reinstall).
        ModelFormatError: the file is not for this mouth shape.
    """
    path = shipped_path(MOUTH_LINEAR_MODEL)
    if path is None:
        raise ModelNotFoundError(f"{MOUTH_LINEAR_MODEL.filename} should ship in the package; reinstall faceanalytics")
    data = json.loads(path.read_text())
    if data.get("points") != list(MOUTH_SHAPE_POINTS):
        points = list(MOUTH_SHAPE_POINTS)
        raise ModelFormatError(f"{path}: fitted over points {data.get('points')}, not the mouth shape's {points}")
    return {k: (float(data[k]["bias"]), np.asarray(data[k]["weights"], np.float64)) for k in ("smile", "open")}


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
