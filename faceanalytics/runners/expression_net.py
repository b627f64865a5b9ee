"""Expression networks of NVIDIA's EmotionNet contract: class probabilities from 68 landmarks.

The contract (NVIDIA TAO EmotionNet, as DeepStream's emotion sample runs it), checked at load:

* one input ``input_landmarks:0``, float32, holding **136 values per face**: the 68 iBUG points as
  ``x0, y0, x1, y1, ...``. TAO's EmotionNet declares it ``(N, 1, 136, 1)`` (``tao-converter -p
  input_landmarks:0,1x1x136x1,...``); a plain ``(N, 136)`` is accepted too: the runner reshapes
  to whatever the file declares, provided the dimensions after the batch multiply to 136.
* one output ``softmax/Softmax:0``, ``(N, C)`` class probabilities.
* class names: the file's ``classes`` metadata (comma-separated) when present, else EmotionNet's
  order (:data:`EMOTIONNET_CLASSES`: neutral, happy, surprise, squint, disgust, scream; NGC's
  EmotionNet model card); ``ExpressionNet(classes=...)`` overrides both. ``C`` must equal their
  number.

The landmarks are normalised by :func:`faceanalytics.geometry.expression_input.expression_input`
(the points' square bounding box mapped to [0, 1]; see there for what and why). The shipped
``expression-fer5`` (``python -m faceanalytics.train.expression``) has exactly these tensor names
and shapes. Tiny: it runs on the CPU with one thread, whatever the pipeline's device.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from faceanalytics.core.errors import ModelFormatError, ParameterError
from faceanalytics.core.schema import IBUG_SLICE, SCHEMA_68
from faceanalytics.geometry.expression_input import INPUT_SIZE, expression_input
from faceanalytics.runners.crop_network import network_path
from faceanalytics.runtime.device import create_session
from faceanalytics.runtime.hub import expression_model_path
from faceanalytics.runtime.registry import EXPRESSION_MODELS

__all__ = ["EMOTIONNET_CLASSES", "INPUT", "OUTPUT", "ExpressionNet"]

log = logging.getLogger("faceanalytics")

INPUT, OUTPUT = "input_landmarks:0", "softmax/Softmax:0"

#: NVIDIA EmotionNet's classes in its output order (NGC model card, TAO EmotionNet v1.0).
EMOTIONNET_CLASSES = ("neutral", "happy", "surprise", "squint", "disgust", "scream")


def _dim(d: object) -> int | None:
    return d if isinstance(d, int) and d > 0 else None


def _checked_classes(classes: Sequence[str] | str, what: str) -> tuple[str, ...] | str:
    """The class names, or what is wrong with them (a string)."""
    names = tuple(c.strip() for c in classes.split(",")) if isinstance(classes, str) else tuple(str(c).strip() for c in classes)
    if not names or "" in names:
        return f"{what} has an empty class name: {classes!r}"
    if len(set(names)) != len(names):
        return f"{what} repeats a class name: {classes!r}"
    return names


class ExpressionNet:
    """An onnxruntime session of an expression network of the EmotionNet contract.

    Args:
        model: a name in :data:`faceanalytics.runtime.registry.EXPRESSION_MODELS`
            (``"expression-fer5"``) or a path to an ONNX file of the contract above (NVIDIA's
            EmotionNet exported to ONNX, for one).
        classes: the output's class names, in order; ``None``: the file's ``classes`` metadata,
            else :data:`EMOTIONNET_CLASSES`.

    Raises:
        ModelNotFoundError: unknown name or missing file.
        ChecksumError: a shipped file whose digest differs from the registry.
        ModelFormatError: the file is not ONNX, or its input, output or class count do not match
            the contract (the message names what is wrong).
        ParameterError: ``classes`` given with an empty or repeated name.
    """

    def __init__(self, model: str | os.PathLike = "expression-fer5", *, classes: Sequence[str] | None = None) -> None:
        if classes is not None:
            given = _checked_classes(classes, "classes")
            if isinstance(given, str):
                raise ParameterError(given)
        path = network_path(model, EXPRESSION_MODELS, expression_model_path, "expression")
        self.path = path
        self._session = create_session(path, "cpu", threads=1)  # tiny: a second thread or a GPU costs more
        self.input_shape, self.classes = self._check(path, given if classes is not None else None)
        self._fixed_batch = _dim(self._session.get_inputs()[0].shape[0])
        log.debug("expression model %s: input %s, classes %s", path, self.input_shape, ",".join(self.classes))

    @property
    def providers(self) -> tuple[str, ...]:
        """The onnxruntime providers the session runs on (the CPU)."""
        return tuple(self._session.get_providers())

    def _check(self, path: Path, classes: tuple[str, ...] | str | None) -> tuple[tuple[int, ...], tuple[str, ...]]:
        """The declared per-face input shape (after the batch dimension) and the class names."""
        inputs = {i.name: i for i in self._session.get_inputs()}
        outputs = {o.name: o for o in self._session.get_outputs()}
        problems: list[str] = []
        shape: tuple[int, ...] = ()
        if INPUT not in inputs:
            problems.append(f"no input {INPUT!r} (inputs: {', '.join(inputs) or 'none'})")
        else:
            if len(inputs) > 1:
                problems.append(f"inputs other than {INPUT!r}: {', '.join(n for n in inputs if n != INPUT)}")
            inp = inputs[INPUT]
            dims = [_dim(d) for d in list(inp.shape)[1:]]
            if inp.type != "tensor(float)":
                problems.append(f"input {INPUT!r} is {inp.type}, not tensor(float)")
            if not inp.shape or None in dims or math.prod(dims) != INPUT_SIZE:  # type: ignore[arg-type]
                want = f"must hold {INPUT_SIZE} values per face, e.g. (N, 1, {INPUT_SIZE}, 1) or (N, {INPUT_SIZE})"
                problems.append(f"input {INPUT!r} {list(inp.shape)} {want}")
            else:
                shape = tuple(d for d in dims if d is not None)
        if OUTPUT not in outputs:
            problems.append(f"no output {OUTPUT!r} (outputs: {', '.join(outputs) or 'none'})")
        if classes is None:
            meta = self._session.get_modelmeta().custom_metadata_map
            classes = _checked_classes(meta["classes"], "metadata 'classes'") if "classes" in meta else EMOTIONNET_CLASSES
        if isinstance(classes, str):
            problems.append(classes)
        elif OUTPUT in outputs:
            out = list(outputs[OUTPUT].shape)
            n = _dim(out[-1]) if len(out) >= 2 else None
            if len(out) < 2 or any(_dim(d) != 1 for d in out[1:-1]):
                problems.append(f"output {OUTPUT!r} {out} must be (N, classes)")
            elif n is not None and n != len(classes):
                problems.append(f"output {OUTPUT!r} has {n} classes but {len(classes)} are named ({','.join(classes)})")
        if problems:
            raise ModelFormatError(f"{path} is not an expression model of the EmotionNet contract: " + "; ".join(problems))
        assert not isinstance(classes, str)
        return shape, classes

    def probabilities(self, landmarks: np.ndarray) -> np.ndarray:
        """Class probabilities, ``(C,)`` of one face's (68+, 2) iBUG landmarks in image pixels, or
        ``(N, C)`` of ``(N, 68+, 2)``; each row sums to 1.

        Raises:
            ParameterError: landmarks of another shape, not finite, or collapsed to a point
                (:class:`~faceanalytics.plugins.ExpressionPlugin` flags such faces before it asks).
            ModelFormatError: the network's output does not have one finite probability per class.
        """
        p = np.asarray(landmarks, np.float64)
        single = p.ndim == 2
        batch = p[None] if single else p
        n = SCHEMA_68.num_points
        if batch.ndim != 3 or batch.shape[1] < n or batch.shape[2] != 2:
            raise ParameterError(f"landmarks must be finite (68+, 2) or (N, 68+, 2) iBUG points; got shape {p.shape}")
        x = expression_input(batch[:, IBUG_SLICE])
        if not np.isfinite(x).all():  # NaN or infinite points give NaN inputs, as does a face collapsed to a point
            raise ParameterError("landmarks must be finite and not collapse to a point: no expression input")
        x = x.reshape(len(x), *self.input_shape)
        if self._fixed_batch == 1 and len(x) > 1:  # a file exported for one face at a time
            raw = np.concatenate([self._session.run([OUTPUT], {INPUT: x[i : i + 1]})[0] for i in range(len(x))])
        else:
            raw = self._session.run([OUTPUT], {INPUT: x})[0]
        out = np.asarray(raw, np.float64).reshape(len(x), -1)
        if out.shape[1] != len(self.classes) or not np.isfinite(out).all():
            n = len(self.classes)
            raise ModelFormatError(f"{self.path}: output {out.shape} is not one finite probability per class ({n})")
        out = np.clip(out, 0.0, None)
        out /= np.maximum(out.sum(axis=1, keepdims=True), 1e-12)
        return out[0] if single else out
