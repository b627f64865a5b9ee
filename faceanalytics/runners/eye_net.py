"""The eye-openness network: the probability that each eye is open, from how the eye looks.

Input, per eye (the contract of ``faceanalytics/weights/eye_openness.onnx``, checked at load):
``crop`` ``(N, 1, H, W)`` float32, gray levels 0-255: the **eye crop**
(:func:`faceanalytics.geometry.eye_crop.eye_crops`), an upright window centred between the
eye's corners, ``span`` eye widths wide, outer corner on the left, so the subject's left eye is
mirrored. ``W``, ``H`` and ``span`` are the file's metadata (``crop_width``, ``crop_height``,
``crop_span``). Output ``logits`` ``(N, 1)``: eye open; the runner applies the sigmoid. Per-crop
contrast normalisation is inside the graph.

The network is trained by ``python -m faceanalytics.train.eye_openness`` (see models/README.md).
It is tiny and runs on the CPU with one thread, whatever the pipeline's device.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np

from faceanalytics.core.errors import ModelFormatError, ParameterError
from faceanalytics.core.schema import IBUG_SLICE, SCHEMA_68
from faceanalytics.geometry.eye_crop import eye_crops
from faceanalytics.runners.crop_network import PairRun, network_path, read_crop_contract
from faceanalytics.runtime.device import create_session
from faceanalytics.runtime.hub import eye_model_path
from faceanalytics.runtime.registry import EYE_MODELS

__all__ = ["EyeOpennessNet"]

log = logging.getLogger("faceanalytics")

INPUT, OUTPUT = "crop", "logits"


class EyeOpennessNet:
    """An onnxruntime session of an eye-openness network.

    Args:
        model: a name in :data:`faceanalytics.runtime.registry.EYE_MODELS` (``"eye-openness"``) or a
            path to an ONNX file with the contract above.

    Raises:
        ModelNotFoundError: unknown name or missing file.
        ChecksumError: a shipped file whose digest differs from the registry.
        ModelFormatError: the file does not have the contract's input, output or metadata.
    """

    def __init__(self, model: str | os.PathLike = "eye-openness") -> None:
        path = network_path(model, EYE_MODELS, eye_model_path, "eye-openness")
        self.path = path
        self._session = create_session(path, "cpu", threads=1)  # tiny: a second thread or a GPU costs more
        self.width, self.height, self.span = self._check(path)
        self._pair = PairRun(self._session, {INPUT: (1, self.height, self.width)}, (OUTPUT, (1,)))
        log.debug("eye-openness model %s: %dx%d crop, %.2f eye widths wide", path, self.width, self.height, self.span)

    @property
    def providers(self) -> tuple[str, ...]:
        """The onnxruntime providers the session runs on (the CPU)."""
        return tuple(self._session.get_providers())

    def _check(self, path: Path) -> tuple[int, int, float]:
        c = read_crop_contract(self._session, INPUT, (), OUTPUT)
        if not c.problems and list(c.outputs[OUTPUT].shape)[1:] != [1]:
            c.problems.append(f"output {OUTPUT!r} must be (N, 1)")
        if c.problems:
            raise ModelFormatError(f"{path} is not an eye-openness model: " + "; ".join(c.problems))
        return c.width, c.height, c.span

    def openness(self, image: np.ndarray, landmarks: np.ndarray) -> tuple[float, float]:
        """``(left, right)`` probabilities that the subject's eyes are open, in [0, 1], of one face:
        its HxW gray or HxWx3 BGR uint8 image and (68+, 2) iBUG landmarks in its pixels.

        Raises:
            ParameterError: inputs of other shapes or types, points that are not finite, or eye
                corners that coincide (:class:`~faceanalytics.plugins.eyes.EyesPlugin` flags such
                faces before it asks).
        """
        image, points = np.asarray(image), np.asarray(landmarks, np.float64)
        if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)) or 0 in image.shape:
            raise ParameterError(f"image must be a non-empty HxW or HxWx3 uint8 array; got {image.dtype} {image.shape}")
        n = SCHEMA_68.num_points
        if points.ndim != 2 or points.shape[0] < n or points.shape[1] != 2 or not np.isfinite(points[IBUG_SLICE]).all():
            raise ParameterError(f"landmarks must be finite (68+, 2) iBUG points; got shape {points.shape}")
        found = self.checked_openness(image, points)
        if found is None:
            raise ParameterError("an eye's corners coincide: no eye crop")
        return found

    def checked_openness(self, image: np.ndarray, landmarks: np.ndarray) -> tuple[float, float] | None:
        """:meth:`openness` for inputs the caller has already checked (a uint8 image, finite iBUG
        landmarks: :class:`~faceanalytics.plugins.eyes.EyesPlugin` after ``landmark_problem``);
        None when an eye's corners coincide. This is the per-face path: no checks repeated."""
        crops = eye_crops(image, landmarks, self.width, self.height, self.span)
        if crops is None:
            return None
        inputs, _ = self._pair.buffers()
        inputs[INPUT][:, 0] = crops
        (left,), (right,) = self._pair.run().tolist()
        return 1.0 / (1.0 + math.exp(-left)), 1.0 / (1.0 + math.exp(-right))
