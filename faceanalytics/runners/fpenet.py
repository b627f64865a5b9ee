"""The FPENet landmark runner on onnxruntime, with NVIDIA TAO FPENet's deployable contract.

Contract (checked when a model loads):

* input ``input_face_images``: float32 ``N x 1 x 80 x 80``, gray, raw 0-255, no normalisation;
* output ``softargmax``: ``N x K x 2``, x and y in 80x80 crop pixels;
* output ``softargmax:1``: ``N x K`` (or ``N x K x 1``), each keypoint's softmax peak (the raw
  confidence; :meth:`FPENetRunner.landmarks` turns it into a probability for the registered models
  that have a :mod:`~faceanalytics.runners.point_confidence` calibration, and passes it through otherwise);
* any other output (TAO's ``conv_keypoints_m80`` heatmaps) is ignored and not computed;
* K = 68, 80 or 104; N dynamic, or fixed (inputs are then chunked and the last chunk padded).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort

from faceanalytics.core.errors import FaceAnalyticsError, ModelFormatError, ModelNotFoundError, ParameterError
from faceanalytics.core.schema import LandmarkSchema, schema_for
from faceanalytics.geometry.crop import crop_faces, crop_to_image, square_crop_matrices
from faceanalytics.runners.point_confidence import PointCalibration, calibration_for
from faceanalytics.runtime.device import Device, create_session
from faceanalytics.runtime.hub import landmark_model_path, sha256_file
from faceanalytics.runtime.joint_session import JointMember
from faceanalytics.runtime.registry import LANDMARK_MODELS, ModelSpec

__all__ = ["CONTRACT_FIX", "CROP_SIZE", "INPUT_NAME", "OUTPUT_CONFIDENCE", "OUTPUT_POINTS", "FPENetRunner"]

logger = logging.getLogger("faceanalytics")

INPUT_NAME = "input_face_images"
OUTPUT_POINTS = "softargmax"
OUTPUT_CONFIDENCE = "softargmax:1"
#: ONNX metadata key of a model's crop scale (crop side / face box side; absent: 1.0, the TAO crop).
CROP_SCALE_KEY = "crop_scale"
CROP_SIZE = 80
CONTRACT_FIX = "Export the model with the FPENet contract (docs/models.md) or pass a registered name such as 'fpenet68'"

#: Largest batch one onnxruntime call gets on the CPU. The N x K x 6400 softmax maps of larger
#: batches no longer fit the caches and throughput drops (docs/performance.md), so larger
#: batches are run in chunks of this size. GPU sessions take any batch whole.
CPU_MAX_BATCH = 8

def _dim(d: object) -> int | None:
    """A static dimension as int, ``None`` when symbolic or unknown."""
    return d if isinstance(d, int) and d > 0 else None


class FPENetRunner:
    """Runs an FPENet-contract ONNX model on face crops.

    Args:
        model: a registered name (``"fpenet68"``) or a path to an ONNX file.
        device: see :mod:`faceanalytics.runtime.device`.
        threads: onnxruntime intra-op threads (``None``: one per physical core).
        max_batch: most crops per onnxruntime call for dynamic-batch models; ``None``:
            :data:`CPU_MAX_BATCH` on the CPU, unlimited on a GPU.
        crop_scale: crop side over the face box's longer side. ``None`` (the default): the
            registered model's declared value, else the file's ``crop_scale`` metadata, else 1.0
            (TAO's crop, right for NVIDIA's FPENet models). Give it only for a file that lacks the
            metadata and was trained with another crop.

    Raises:
        ModelNotFoundError: no such name or file.
        ModelFormatError: the file is not ONNX, or breaks the contract (the message says how), or
            its ``crop_scale`` metadata is unusable or disagrees with the registry.
    """

    def __init__(
        self,
        model: str | os.PathLike,
        device: Device = "auto",
        threads: int | None = None,
        max_batch: int | None = None,
        crop_scale: float | None = None,
    ) -> None:
        if max_batch is not None and (not isinstance(max_batch, int) or max_batch < 1):
            raise ParameterError(f"max_batch must be a positive integer or None; got {max_batch!r}")
        if crop_scale is not None:
            _check_crop_scale(crop_scale, "crop_scale", ParameterError)
        path, spec = _locate(model)
        self.path: Path = path
        self.threads = threads
        #: an onnxruntime session, or a :class:`~faceanalytics.runtime.joint_session.JointMember` once the
        #: Pipeline shares one session with its detector
        self.session: ort.InferenceSession | JointMember = create_session(path, device, threads)
        try:
            self.batch_size, k = _check_contract(self.session, path)
        except FaceAnalyticsError:
            raise
        except Exception as exc:  # e.g. tensor names that are not UTF-8 in a corrupt file
            raise ModelFormatError(f"{path}: cannot read the model's inputs and outputs ({exc!r}); {CONTRACT_FIX}") from exc
        if k is None:
            k = self._probe_points()
        if k not in (68, 80, 104):
            raise ModelFormatError(
                f"{path}: output {OUTPUT_POINTS!r} has {k} keypoints; FPENet models have 68, 80 or 104. {CONTRACT_FIX}"
            )
        if spec is not None and spec.num_points != k:
            raise ModelFormatError(f"{path}: registered as {spec.num_points} points but returns {k}; reinstall faceanalytics")
        self.spec: ModelSpec | None = spec
        declared = _file_crop_scale(self.session, path)
        if spec is not None and declared is not None and abs(declared - spec.crop_scale) > 1e-9:
            raise ModelFormatError(
                f"{path}: metadata crop_scale {declared} but {spec.name!r} is registered with {spec.crop_scale}; "
                "reinstall faceanalytics"
            )
        #: crop side over the face box's longer side (see :func:`faceanalytics.geometry.crop.square_crop_matrices`)
        self.crop_scale: float = float(
            crop_scale if crop_scale is not None else spec.crop_scale if spec is not None else declared or 1.0
        )
        self.schema: LandmarkSchema = schema_for(k)
        self.name: str = spec.name if spec else path.name
        #: maps the raw peaks to calibrated per-point confidence (see :mod:`faceanalytics.runners.point_confidence`);
        #: ``None`` for a model without one (NVIDIA's, your own): its confidence is the raw peak
        self.calibration: PointCalibration | None = calibration_for(spec.name if spec else None) if k == 68 else None
        self._local = threading.local()  # per-thread reusable input buffer
        on_cpu = self.providers[0] == "CPUExecutionProvider"
        #: crops per onnxruntime call: the model's fixed batch, else ``max_batch`` (None: whole batches)
        self.chunk: int | None = self.batch_size or max_batch or (CPU_MAX_BATCH if on_cpu else None)

    @property
    def onnx_model(self) -> Path:
        """The ONNX file the session runs (for :mod:`faceanalytics.runtime.joint_session`)."""
        return self.path

    @property
    def providers(self) -> tuple[str, ...]:
        """The onnxruntime execution providers this model runs on, most preferred first."""
        return tuple(self.session.get_providers())

    @property
    def num_points(self) -> int:
        return self.schema.num_points

    def _probe_points(self) -> int:
        n = self.batch_size or 1
        pts, _ = self._run_raw(np.zeros((n, 1, CROP_SIZE, CROP_SIZE), np.float32))
        return int(pts.shape[1])

    def _run_raw(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        try:
            pts, conf = self.session.run([OUTPUT_POINTS, OUTPUT_CONFIDENCE], {INPUT_NAME: crops})
        except Exception as exc:  # onnxruntime's pybind errors
            raise ModelFormatError(f"{self.path}: inference failed on a {crops.shape} batch: {exc}. {CONTRACT_FIX}") from exc
        n = crops.shape[0]
        if pts.ndim != 3 or pts.shape[0] != n or pts.shape[2] != 2:
            raise ModelFormatError(f"{self.path}: {OUTPUT_POINTS!r} returned shape {pts.shape}, expected ({n}, K, 2)")
        conf = conf.reshape(conf.shape[0], -1) if conf.ndim == 3 and conf.shape[-1] == 1 else conf
        if conf.shape != pts.shape[:2]:
            raise ModelFormatError(f"{self.path}: {OUTPUT_CONFIDENCE!r} returned shape {conf.shape}, expected {pts.shape[:2]}")
        return pts.astype(np.float32, copy=False), conf.astype(np.float32, copy=False)

    def run(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks of a batch of crops.

        Args:
            crops: (M, 1, 80, 80) float32, gray, raw 0-255.

        Returns:
            ``(points, confidence)``: (M, K, 2) float32 in crop pixels and (M, K) float32, the
            model's raw ``softargmax:1`` peaks (never calibrated here).
        """
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[1:] != (1, CROP_SIZE, CROP_SIZE):
            raise ParameterError(f"crops must be (M, 1, {CROP_SIZE}, {CROP_SIZE}); got {crops.shape}")
        crops = np.ascontiguousarray(crops, dtype=np.float32)
        m, k = crops.shape[0], self.num_points
        if m == 0:
            return np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)
        b = self.chunk
        if b is None or (self.batch_size is None and m <= b):
            pts, conf = self._run_raw(crops)
        else:
            pts_parts, conf_parts = [], []
            for start in range(0, m, b):
                chunk = crops[start : start + b]
                if self.batch_size is not None and chunk.shape[0] < b:  # fixed-batch model: pad the last chunk
                    chunk = np.concatenate([chunk, np.zeros((b - chunk.shape[0], *chunk.shape[1:]), np.float32)])
                p, c = self._run_raw(chunk)
                pts_parts.append(p)
                conf_parts.append(c)
            pts, conf = np.concatenate(pts_parts)[:m], np.concatenate(conf_parts)[:m]
        if pts.shape[1] != k:
            raise ModelFormatError(f"{self.path}: returned {pts.shape[1]} keypoints, expected {k}")
        return pts, conf

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """(M, K) raw peaks -> the confidence :meth:`landmarks` reports: calibrated by
        :attr:`calibration` when the model has one, else the raw peaks themselves."""
        return raw if self.calibration is None else self.calibration(raw)

    def landmarks(self, image: np.ndarray, boxes: np.ndarray, *, raw: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks of faces in a frame.

        Args:
            image: HxW uint8 gray frame, or HxWx3 uint8 BGR (cropped first, then converted to
                gray; see :mod:`faceanalytics.geometry.crop`).
            boxes: (M, 4) face boxes ``x1, y1, x2, y2`` in frame pixels (already validated).
            raw: return the model's raw ``softargmax:1`` peaks even when it has a calibration.

        Returns:
            ``(points, confidence)``: (M, K, 2) float32 in frame pixels and (M, K) float32. The
            confidence is :meth:`calibrate`'s: for a registered model with a calibration, the
            probability that each point is within 10 % of the inter-ocular distance of its true
            place (:mod:`faceanalytics.runners.point_confidence`); for any other model, the raw peaks.
        """
        mats = square_crop_matrices(boxes, CROP_SIZE, self.crop_scale)
        buf = getattr(self._local, "buffer", None)
        if buf is None or buf.shape[0] < len(mats):
            buf = self._local.buffer = np.empty((max(len(mats), 8), 1, CROP_SIZE, CROP_SIZE), np.float32)
        pts, conf = self.run(crop_faces(image, mats, CROP_SIZE, out=buf))
        return crop_to_image(pts, mats).astype(np.float32), conf if raw else self.calibrate(conf)


def _check_crop_scale(value: object, what: str, error: type[Exception]) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise error(f"{what} must be a number between 0.5 and 4; got {value!r}") from None
    if not (0.5 <= v <= 4.0):
        raise error(f"{what} must be a number between 0.5 and 4; got {value!r}")
    return v


def _file_crop_scale(session: ort.InferenceSession, path: Path) -> float | None:
    """The model file's ``crop_scale`` metadata (written by ``faceanalytics.train``), ``None`` when absent."""
    try:
        raw = session.get_modelmeta().custom_metadata_map.get(CROP_SCALE_KEY)
    except Exception:  # a session without metadata access: treat as absent
        return None
    return None if raw is None else _check_crop_scale(raw, f"{path}: metadata {CROP_SCALE_KEY!r}", ModelFormatError)


def _locate(model: str | os.PathLike) -> tuple[Path, ModelSpec | None]:
    """Resolve a registered name or a path; a path whose digest matches a registered model gets its spec."""
    if isinstance(model, str) and model in LANDMARK_MODELS:
        return landmark_model_path(model)
    path = Path(model).expanduser()
    try:
        exists, is_file = path.exists(), path.is_file()
    except OSError as exc:  # e.g. a name too long for the file system
        raise ModelNotFoundError(f"not a usable landmark model path: {str(path)[:200]}: {exc.strerror or exc}") from None
    if not exists:
        if isinstance(model, str) and os.sep not in model and not model.endswith(".onnx"):
            return landmark_model_path(model)  # a name: explains what is registered
        raise ModelNotFoundError(f"landmark model file not found: {path}")
    if not is_file:
        raise ModelNotFoundError(f"landmark model path is not a file: {path}")
    digest = sha256_file(path)
    spec = next((s for s in LANDMARK_MODELS.values() if s.sha256 == digest), None)
    return path, spec


def _check_contract(session: ort.InferenceSession, path: Path) -> tuple[int | None, int | None]:
    """Validate inputs and outputs against the FPENet contract; return (fixed batch, K) with None for dynamic."""
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    problems: list[str] = []
    if INPUT_NAME not in inputs:
        problems.append(f"no input named {INPUT_NAME!r} (inputs: {', '.join(inputs) or 'none'})")
    if len(inputs) > 1:
        problems.append(f"expected exactly one input, found {len(inputs)}: {', '.join(inputs)}")
    for name in (OUTPUT_POINTS, OUTPUT_CONFIDENCE):
        if name not in outputs:
            problems.append(f"no output named {name!r} (outputs: {', '.join(outputs) or 'none'})")
    if problems:
        raise ModelFormatError(f"{path} is not an FPENet-contract model: " + "; ".join(problems) + f". {CONTRACT_FIX}")

    inp = inputs[INPUT_NAME]
    if inp.type != "tensor(float)":
        problems.append(f"input {INPUT_NAME!r} has type {inp.type}, expected tensor(float)")
    shape = list(inp.shape or [])
    if len(shape) != 4:
        problems.append(f"input {INPUT_NAME!r} has shape {shape}, expected [N, 1, 80, 80]")
    else:
        for axis, want in ((1, 1), (2, CROP_SIZE), (3, CROP_SIZE)):
            got = _dim(shape[axis])
            if got is not None and got != want:
                problems.append(f"input {INPUT_NAME!r} has shape {shape}, expected [N, 1, 80, 80]")
                break
    pts, conf = outputs[OUTPUT_POINTS], outputs[OUTPUT_CONFIDENCE]
    pshape, cshape = list(pts.shape or []), list(conf.shape or [])
    if pts.type != "tensor(float)" or conf.type != "tensor(float)":
        problems.append(f"outputs must be float tensors; got {pts.type} and {conf.type}")
    if len(pshape) != 3 or (_dim(pshape[2]) not in (None, 2)):
        problems.append(f"output {OUTPUT_POINTS!r} has shape {pshape}, expected [N, K, 2]")
    if len(cshape) not in (2, 3) or (len(cshape) == 3 and _dim(cshape[2]) not in (None, 1)):
        problems.append(f"output {OUTPUT_CONFIDENCE!r} has shape {cshape}, expected [N, K]")
    if problems:
        raise ModelFormatError(f"{path} is not an FPENet-contract model: " + "; ".join(problems) + f". {CONTRACT_FIX}")
    k = _dim(pshape[1]) or _dim(cshape[1])
    if _dim(pshape[1]) and _dim(cshape[1]) and pshape[1] != cshape[1]:
        raise ModelFormatError(f"{path}: {OUTPUT_POINTS!r} has {pshape[1]} keypoints but {OUTPUT_CONFIDENCE!r} has {cshape[1]}")
    return _dim(shape[0]), k
