"""The mouth-cue network: smile and mouth-open logits from how the mouth looks and where the lips are.

Inputs, per face (the contract of ``faceanalytics/weights/mouth_cues.onnx``, checked at load):

* ``crop`` ``(N, 1, H, W)`` float32, gray levels 0-255: the **mouth crop**, an upright window
  centred on the mean of the 20 lip points, ``span`` outer eye-corner distances wide, rotated
  so that the eye line is horizontal (:func:`mouth_crop`). ``W``, ``H`` and ``span`` are the
  file's metadata (``crop_width``, ``crop_height``, ``crop_span``).
* ``shape`` ``(N, 44)`` float32: :func:`faceanalytics.geometry.mouth.mouth_shape`, pose-corrected.

Output ``logits`` ``(N, 2)``: smile, mouth open; the plugin applies the sigmoid. Per-crop
contrast normalisation and the standardisation of the shape are inside the graph.

The network is trained by ``python -m faceanalytics.train.mouth`` (see models/README.md). It is
small (about 20,000 weights) and runs on the CPU with one thread, whatever the pipeline's device.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import cv2
import numpy as np

from faceanalytics.core.errors import ModelFormatError, ParameterError
from faceanalytics.core.schema import IBUG_SLICE, SCHEMA_68
from faceanalytics.geometry.face_frame import eye_corner_distance
from faceanalytics.geometry.mouth import MOUTH_SHAPE_POINTS
from faceanalytics.runners.crop_network import PairRun, network_path, read_crop_contract
from faceanalytics.runtime.device import create_session
from faceanalytics.runtime.hub import mouth_model_path
from faceanalytics.runtime.registry import MOUTH_MODELS

__all__ = ["MouthNet", "mouth_crop", "mouth_crop_matrix", "shape_mirror"]

log = logging.getLogger("faceanalytics")

CROP_INPUT, SHAPE_INPUT, OUTPUT = "crop", "shape", "logits"
SHAPE_SIZE = 44
_LIPS = list(SCHEMA_68.mouth)  # the 20 lip points, outer and inner


def shape_mirror() -> tuple[np.ndarray, np.ndarray]:
    """``(index, sign)`` such that the mouth shape of the mirrored face is ``shape[index] * sign``
    (left and right points swap, x changes sign)."""
    flip = SCHEMA_68.flip_permutation
    pos = {p: i for i, p in enumerate(MOUTH_SHAPE_POINTS)}
    points = [pos[flip[p]] for p in MOUTH_SHAPE_POINTS]
    index = np.array([2 * q + k for q in points for k in (0, 1)])
    sign = np.tile(np.array([-1.0, 1.0], np.float32), len(points))
    return index, sign


def mouth_crop_matrix(landmarks: np.ndarray, width: int, height: int, span: float) -> np.ndarray:
    """(2, 3) affine from image pixels to the mouth crop of (68+, 2) iBUG landmarks.

    The crop is ``span`` outer eye-corner distances wide, centred on the mean of the 20 lip points
    (``SCHEMA_68.mouth``), its x axis along the eye line. Returns NaN when the eye corners coincide."""
    p = np.asarray(landmarks, np.float64)
    (xr, yr), (xl, yl) = p[SCHEMA_68.right_eye_outer].tolist(), p[SCHEMA_68.left_eye_outer].tolist()
    iod = eye_corner_distance(p)
    if not iod > 1e-6:
        return np.full((2, 3), np.nan)
    k = width / (span * iod)
    c, s = (xl - xr) / iod * k, (yl - yr) / iod * k
    mx, my = (p[_LIPS].sum(axis=0) / len(_LIPS)).tolist()
    return np.array([[c, s, width / 2 - c * mx - s * my], [-s, c, height / 2 + s * mx - c * my]])


def mouth_crop(image: np.ndarray, landmarks: np.ndarray, width: int, height: int, span: float) -> np.ndarray:
    """``(height, width)`` uint8 gray mouth crop of a gray or BGR image (see :func:`mouth_crop_matrix`).

    When the face is more than twice the crop's scale, the mouth's region of the image is first
    halved (2x2 area averaging) until it is not, so that the crop does not alias. Pixels outside
    the image repeat the border.

    Raises:
        ParameterError: the outer eye corners coincide (or the points are not finite).
    """
    (a, b, tx), (c, d, ty) = mouth_crop_matrix(landmarks, width, height, span).tolist()  # plain floats below
    if not all(math.isfinite(v) for v in (a, b, tx, c, d, ty)):
        raise ParameterError("the outer eye corners (36, 45) coincide or are not finite: no mouth crop")
    scale = math.hypot(a, b)
    if scale < 0.5:
        # the crop's footprint in the image: a rotated rectangle around the point the crop's centre
        # comes from; its axis-aligned half extents
        det = a * d - b * c
        u, v = width / 2 - tx, height / 2 - ty
        cx, cy = (d * u - b * v) / det, (a * v - c * u) / det
        ca, sa = abs(a) / scale**2, abs(b) / scale**2
        ex, ey = (ca * width + sa * height) / 2 + 2, (sa * width + ca * height) / 2 + 2
        h, w = image.shape[:2]
        x0, y0 = max(int(cx - ex), 0), max(int(cy - ey), 0)
        x1, y1 = min(math.ceil(cx + ex), w), min(math.ceil(cy + ey), h)
        if x1 - x0 >= 4 and y1 - y0 >= 4:
            roi = image[y0:y1, x0:x1]
            tx, ty = tx + a * x0 + b * y0, ty + c * x0 + d * y0  # the same map from the region's pixels
            while scale < 0.5 and min(roi.shape[:2]) >= 4:
                rh, rw = roi.shape[0] // 2, roi.shape[1] // 2
                roi = cv2.resize(roi[: 2 * rh, : 2 * rw], (rw, rh), interpolation=cv2.INTER_AREA)
                # new pixel u covers old pixels 2u and 2u + 1: old = 2 new + 0.5
                tx, ty = tx + (a + b) / 2, ty + (c + d) / 2
                a, b, c, d = 2 * a, 2 * b, 2 * c, 2 * d
                scale *= 2
            image = roi
    m = np.array([[a, b, tx], [c, d, ty]])
    out = cv2.warpAffine(image, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return cv2.cvtColor(out, cv2.COLOR_BGR2GRAY) if out.ndim == 3 else out


class MouthNet:
    """An onnxruntime session of a mouth-cue network.

    Args:
        model: a name in :data:`faceanalytics.runtime.registry.MOUTH_MODELS` (``"mouth-cues"``) or a path to
            an ONNX file with the contract above.

    Raises:
        ModelNotFoundError: unknown name or missing file.
        ChecksumError: a shipped file whose digest differs from the registry.
        ModelFormatError: the file does not have the contract's inputs, output or metadata.
    """

    def __init__(self, model: str | os.PathLike = "mouth-cues") -> None:
        path = network_path(model, MOUTH_MODELS, mouth_model_path, "mouth-cue")
        self.path = path
        self._session = create_session(path, "cpu", threads=1)  # tiny: a second thread or a GPU costs more
        self.width, self.height, self.span = self._check(path)
        self._mirror_index, self._mirror_sign = shape_mirror()
        inputs = {CROP_INPUT: (1, self.height, self.width), SHAPE_INPUT: (SHAPE_SIZE,)}
        self._pair = PairRun(self._session, inputs, (OUTPUT, (2,)))
        log.debug("mouth-cue model %s: %dx%d crop, %.2f eye distances wide", path, self.width, self.height, self.span)

    @property
    def providers(self) -> tuple[str, ...]:
        """The onnxruntime providers the session runs on (the CPU)."""
        return tuple(self._session.get_providers())

    def _check(self, path: Path) -> tuple[int, int, float]:
        c = read_crop_contract(self._session, CROP_INPUT, (SHAPE_INPUT,), OUTPUT)
        if not c.problems and list(c.inputs[SHAPE_INPUT].shape)[1:] != [SHAPE_SIZE]:
            c.problems.append(f"input {SHAPE_INPUT!r} must be (N, {SHAPE_SIZE})")
        if not c.problems and list(c.outputs[OUTPUT].shape)[1:] != [2]:
            c.problems.append(f"output {OUTPUT!r} must be (N, 2): smile, open")
        if c.problems:
            raise ModelFormatError(f"{path} is not a mouth-cue model: " + "; ".join(c.problems))
        return c.width, c.height, c.span

    def logits(self, image: np.ndarray, landmarks: np.ndarray, shape: np.ndarray) -> tuple[float, float]:
        """``(smile, open)`` logits of one face: its HxW gray or HxWx3 BGR uint8 image, (68+, 2)
        landmarks in its pixels, and its (44,) mouth shape (:func:`~faceanalytics.geometry.mouth.mouth_shape`).

        The face and its mirror image are scored in one batch and the logits averaged: the cues
        are symmetric, and averaging the two removes part of the network's noise (held-out AUCs
        +0.003 smile, +0.006 open).

        Raises:
            ParameterError: inputs of other shapes or types, points that are not finite, or eye
                corners that coincide (:class:`~faceanalytics.plugins.mouth.MouthPlugin` flags such
                faces before it asks).
        """
        image, points = np.asarray(image), np.asarray(landmarks, np.float64)
        shape = np.asarray(shape, np.float32)
        if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)) or 0 in image.shape:
            raise ParameterError(f"image must be a non-empty HxW or HxWx3 uint8 array; got {image.dtype} {image.shape}")
        n = SCHEMA_68.num_points
        if points.ndim != 2 or points.shape[0] < n or points.shape[1] != 2 or not np.isfinite(points[IBUG_SLICE]).all():
            raise ParameterError(f"landmarks must be finite (68+, 2) iBUG points; got shape {points.shape}")
        if shape.shape != (SHAPE_SIZE,) or not np.isfinite(shape).all():
            raise ParameterError(f"shape must be a finite ({SHAPE_SIZE},) mouth shape; got {shape.shape}")
        return self.checked_logits(image, points, shape)

    def checked_logits(self, image: np.ndarray, landmarks: np.ndarray, shape: np.ndarray) -> tuple[float, float]:
        """:meth:`logits` for inputs the caller has already checked (a uint8 image, finite iBUG
        landmarks, a finite (44,) shape: :class:`~faceanalytics.plugins.mouth.MouthPlugin`). This is
        the per-face path: no checks repeated, the batch written in place.

        Raises:
            ParameterError: the outer eye corners coincide.
        """
        crop = mouth_crop(image, landmarks, self.width, self.height, self.span)
        inputs, _ = self._pair.buffers()
        crops, shapes = inputs[CROP_INPUT], inputs[SHAPE_INPUT]
        crops[0, 0] = crop
        crops[1, 0] = crop[:, ::-1]
        shapes[0] = shape
        np.multiply(shape[self._mirror_index], self._mirror_sign, out=shapes[1], casting="unsafe")
        (s0, o0), (s1, o1) = self._pair.run().tolist()
        return (s0 + s1) / 2, (o0 + o1) / 2
