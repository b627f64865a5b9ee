"""Facial expression from the 68 landmarks, by a network of NVIDIA's EmotionNet contract.

``ExpressionPlugin()`` runs the shipped ``expression-fer5`` (neutral, happy, surprise, sad,
angry; trained on FER-2013 by ``python -m faceanalytics.train.expression``, see models/README.md);
``ExpressionPlugin("path/to/emotionnet.onnx")`` runs NVIDIA's EmotionNet exported to ONNX, or any
file of that contract (:mod:`faceanalytics.runners.expression_net`: input ``input_landmarks:0``
with 136 values per face, output ``softmax/Softmax:0``). The landmarks go in normalised to their
square bounding box (:func:`faceanalytics.geometry.expression_input.expression_input`).

The result (:class:`~faceanalytics.core.types.Expression`) lands in ``face.extras["expression"]``.

**Over time**: in a :class:`~faceanalytics.Stream` each track keeps its own state, and the class
probabilities are an exponential moving average over its frames with time constant ``smoothing``
seconds: a frame ``dt`` seconds after the previous one moves the average by
``1 - exp(-dt / smoothing)`` of the way to its own probabilities (0.3 s: a change shows half-way
after about 0.2 s, whatever the frame rate). The label is the class of the highest *smoothed*
probability, so it does not flicker with single noisy frames. Single images (no state) give the
network's own probabilities; ``smoothing=0`` turns the average off.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from faceanalytics.core.errors import ParameterError
from faceanalytics.core.types import Expression, Face
from faceanalytics.plugins.base import Frame, TrackContext, landmark_problem
from faceanalytics.runners.expression_net import ExpressionNet

__all__ = ["ExpressionPlugin", "ExpressionState"]


@dataclass
class ExpressionState:
    """One track's smoothed probabilities and the timestamp of the frame they include last."""

    probabilities: np.ndarray | None = None
    timestamp: float | None = None


class ExpressionPlugin:
    """Expression class probabilities and label per face (``face.extras["expression"]``).

    Args:
        model: a name in :data:`faceanalytics.runtime.registry.EXPRESSION_MODELS`
            (``"expression-fer5"``) or a path to an ONNX file of the EmotionNet contract.
        smoothing: in a Stream, the time constant in seconds of the probabilities' exponential
            moving average (see the module docstring); 0 for none.
        classes: the output's class names, overriding the file's ``classes`` metadata and the
            EmotionNet default order.

    Raises:
        ParameterError: a negative or non-finite ``smoothing``, or bad ``classes``.
        ModelNotFoundError, ChecksumError, ModelFormatError: the network cannot be loaded.
    """

    name = "expression"

    def __init__(
        self,
        model: str | os.PathLike = "expression-fer5",
        *,
        smoothing: float = 0.3,
        classes: Sequence[str] | None = None,
    ) -> None:
        try:
            tau = float(smoothing)
        except (TypeError, ValueError):
            raise ParameterError(f"smoothing must be a number of seconds; got {smoothing!r}") from None
        if not (math.isfinite(tau) and tau >= 0):
            raise ParameterError(f"smoothing must be a finite number of seconds >= 0; got {smoothing!r}")
        self.smoothing = tau
        self.net = ExpressionNet(model, classes=classes)

    @property
    def classes(self) -> tuple[str, ...]:
        """The model's class names, in its output order."""
        return self.net.classes

    def new_state(self, track: TrackContext) -> ExpressionState:
        """A fresh per-track state (a Stream calls this when a track starts)."""
        return ExpressionState()

    def __call__(self, face: Face, frame: Frame, state: ExpressionState | None = None) -> Expression:
        problem = landmark_problem(face)
        if problem:
            return Expression("", {}, self.classes, valid=False, reason=problem)
        probs = self.net.probabilities(face.landmarks)
        if state is not None:
            probs = self._smoothed(probs, frame.timestamp, state)
        return Expression(self.classes[int(np.argmax(probs))], dict(zip(self.classes, probs.tolist(), strict=True)), self.classes)

    def _smoothed(self, probs: np.ndarray, t: float | None, state: ExpressionState) -> np.ndarray:
        prev, last = state.probabilities, state.timestamp
        if prev is not None and self.smoothing > 0:
            if t is not None and last is not None:
                dt = max(t - last, 0.0)
                a = 1.0 - math.exp(-dt / self.smoothing)
            else:
                a = 1.0  # no timestamps: nothing to average over
            probs = prev + a * (probs - prev)
        state.probabilities, state.timestamp = probs, t
        return probs
