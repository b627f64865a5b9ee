"""BlazeFace (short range) on onnxruntime: MediaPipe's weights, MediaPipe's decoding, no MediaPipe graph.

The network is MediaPipe's ``face_detection_short_range.tflite``, converted in memory by
:mod:`faceanalytics.runtime.tflite_onnx`. Pre- and post-processing follow MediaPipe's face detection
graph (``face_detection_short_range.pbtxt``), so the boxes are MediaPipe's:

* the image is letterboxed into 128x128 (aspect ratio kept, zero border), RGB scaled to [-1, 1];
* 896 SSD anchors (strides 8, 16, 16, 16; fixed size), box and six keypoint offsets divided by 128;
* scores are sigmoids of logits clipped to +-100, kept from ``min_score``;
* weighted non-maximum suppression (IoU > 0.3 merges, averaged by score);
* the letterbox is removed and coordinates scaled to the image.

Boxes are in continuous image coordinates (pixel edges on integers) like MediaPipe's; keypoints
put pixel centres on integers, like every landmark in faceanalytics.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np

from faceanalytics.core.errors import ModelFormatError
from faceanalytics.core.types import Detection
from faceanalytics.geometry.boxes import iou as box_iou
from faceanalytics.runtime.device import Device, create_session
from faceanalytics.runtime.tflite_onnx import tflite_to_onnx

__all__ = ["OnnxBlazeFace", "simd_channel_block", "ssd_anchors", "weighted_nms"]

INPUT_SIZE = 128
NUM_KEYPOINTS = 6
SUPPRESSION_IOU = 0.3


def ssd_anchors(size: int = INPUT_SIZE, strides: tuple[int, ...] = (8, 16, 16, 16)) -> np.ndarray:
    """(A, 2) anchor centres (x, y), normalised, in the order of the network's outputs.

    MediaPipe's SsdAnchorsCalculator with one aspect ratio plus the interpolated one (two anchors
    per layer and cell) and fixed anchor size; layers with the same stride share cells.
    """
    out = []
    layer = 0
    while layer < len(strides):
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            last += 1
        per_cell = 2 * (last - layer)
        cells = -(-size // strides[layer])
        ys, xs = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij")
        centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(centres, per_cell, axis=0))
        layer = last
    return np.concatenate(out).astype(np.float32)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou: float = SUPPRESSION_IOU):
    """MediaPipe's weighted non-maximum suppression.

    Args:
        boxes: (M, 4) ``x1, y1, x2, y2``; keypoints: (M, K, 2); scores: (M,).

    Returns:
        ``(boxes, keypoints, scores)`` of the kept detections, best first: each is the score-weighted
        mean of the detections overlapping the best remaining one by more than ``iou``, with that one's score.
    """
    order = np.argsort(-scores, kind="stable")
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    overlap = box_iou(boxes, boxes) > iou  # one (M, M) matrix instead of one row per kept box
    np.fill_diagonal(overlap, True)  # a degenerate best box (no area, IoU 0 with itself) stays alone
    remaining = np.ones(len(scores), bool)
    kept_b, kept_k, kept_s = [], [], []
    for top in range(len(scores)):
        if not remaining[top]:
            continue
        group = overlap[top] & remaining
        remaining &= ~group
        w = scores[group][:, None]
        kept_b.append((boxes[group] * w).sum(0) / w.sum())
        kept_k.append((keypoints[group] * w[:, :, None]).sum(0) / w.sum())
        kept_s.append(scores[top])
    if not kept_b:
        return np.zeros((0, 4), np.float32), np.zeros((0, keypoints.shape[1], 2), np.float32), np.zeros(0, np.float32)
    return np.array(kept_b, np.float32), np.array(kept_k, np.float32), np.array(kept_s, np.float32)


#: ``cv::CPU_AVX_512F`` of OpenCV's ``CpuFeatures`` (cvdef.h), the feature id that
#: ``cv2.checkHardwareSupport`` takes; the Python bindings of OpenCV 5 do not export the name.
_CV_CPU_AVX_512F = getattr(cv2, "CPU_AVX_512F", 13)


def simd_channel_block() -> int:
    """Channels per block of onnxruntime's blocked CPU convolutions: 16 with AVX-512, else 8.

    The converted BlazeFace carries its channels rounded up to this (``tflite_to_onnx``'s
    ``channel_block``): measured on an AVX-512 machine (docs/performance.md), the network takes
    0.64 ms instead of 0.85 with 16, 0.72-0.76 with 8 and 0.66-0.68 with 32 (a slow phase of the VM).
    The CPU's features come from OpenCV's public runtime check, ``cv2.checkHardwareSupport``
    (CPUID, and whether the operating system saves the AVX-512 registers); 8 when it cannot tell.
    Either block gives the same detections (within 4e-5, ``tests/test_blazeface_onnx.py``).
    """
    try:
        avx512 = bool(cv2.checkHardwareSupport(_CV_CPU_AVX_512F))
    except (cv2.error, TypeError, AttributeError):
        return 8
    return 16 if avx512 else 8


class OnnxBlazeFace:
    """BlazeFace short range on onnxruntime (see the module docstring).

    Args:
        model_path: MediaPipe's ``face_detection_short_range.tflite``.
        min_score: minimum detection confidence in [0, 1].
        device: as for :class:`faceanalytics.FPENetRunner`.
        threads: onnxruntime threads; ``None``: 1, as the detector runs next to the landmark
            model's pool (a :class:`~faceanalytics.Pipeline` then joins both into one session,
            :mod:`faceanalytics.runtime.joint_session`, and both use all cores).

    Thread-safe: the session is shared, buffers are per call.
    """

    def __init__(
        self, model_path: str | os.PathLike, min_score: float = 0.5, device: Device = "auto", threads: int | None = None
    ):
        self.model_path = Path(model_path)
        self.min_score = float(min_score)
        #: the converted model (serialized), its channels rounded up to onnxruntime's blocks
        self.onnx_model: bytes = tflite_to_onnx(self.model_path, channel_block=simd_channel_block())
        self.session = create_session(self.onnx_model, device, 1 if threads is None else threads, label=str(self.model_path))
        self._outputs = ("regressors", "classificators")
        missing = [o for o in self._outputs if o not in {x.name for x in self.session.get_outputs()}]
        if missing:
            raise ModelFormatError(f"{self.model_path}: not a BlazeFace short-range model (no output {missing[0]!r})")
        self.anchors = ssd_anchors()
        self._local = threading.local()
        try:  # a file that converts but cannot run (or has other output shapes) fails here, not in detect()
            raw, logits = self.session.run(list(self._outputs), {"input": np.zeros((1, INPUT_SIZE, INPUT_SIZE, 3), np.float32)})
        except Exception as exc:  # onnxruntime's own exception types
            raise ModelFormatError(f"{self.model_path}: the converted BlazeFace model cannot run ({exc})") from exc
        if raw.shape != (1, len(self.anchors), 16) or logits.shape != (1, len(self.anchors), 1):
            raise ModelFormatError(
                f"{self.model_path}: not a BlazeFace short-range model (outputs {raw.shape} and {logits.shape}, "
                f"expected (1, {len(self.anchors)}, 16) and (1, {len(self.anchors)}, 1))"
            )

    @property
    def providers(self) -> tuple[str, ...]:
        return tuple(self.session.get_providers())

    def _letterbox(self, image: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        """(1, 128, 128, 3) float32 RGB in [-1, 1], and the side S of the square and its offsets."""
        h, w = image.shape[:2]
        side = float(max(h, w))
        s = INPUT_SIZE / side
        ox, oy = (side - w) / 2.0, (side - h) / 2.0
        # MediaPipe maps the square's corners onto the tensor's corners (no pixel-centre shift);
        # matching it exactly matters: the landmark model was trained on these boxes.
        m = np.array([[s, 0.0, s * ox], [0.0, s, s * oy]])
        small = cv2.warpAffine(image, m, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)  # (a strided numpy channel flip is ten times slower)
        buf = getattr(self._local, "buf", None)
        if buf is None:
            buf = self._local.buf = np.empty((1, INPUT_SIZE, INPUT_SIZE, 3), np.float32)
        np.multiply(rgb, 1.0 / 127.5, out=buf[0], casting="unsafe")
        buf -= 1.0
        return buf, side, ox, oy

    def detect(self, image: np.ndarray) -> tuple[Detection, ...]:
        """Faces in an HxWx3 uint8 BGR image, best first."""
        x, side, ox, oy = self._letterbox(image)
        try:
            raw, logits = self.session.run(list(self._outputs), {"input": x})
        except Exception as exc:  # onnxruntime's own exception types
            raise ModelFormatError(f"{self.model_path}: BlazeFace failed on a {image.shape} image: {exc}") from exc
        raw, logits = raw[0], logits[0, :, 0]
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -100.0, 100.0).astype(np.float64)))
        keep = np.flatnonzero(scores >= self.min_score)
        scores = scores[keep]
        if len(keep) == 0:
            return ()
        a = self.anchors[keep]
        r = raw[keep] / INPUT_SIZE
        centre = r[:, :2] + a
        half = r[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        kps = r[:, 4 : 4 + 2 * NUM_KEYPOINTS].reshape(-1, NUM_KEYPOINTS, 2) + a[:, None, :]
        boxes, kps, kept = weighted_nms(boxes, kps, scores)
        # letterbox normalised -> continuous image coordinates
        boxes = boxes * side - np.array([ox, oy, ox, oy], np.float32)
        kps = kps * side - np.array([ox, oy], np.float32) - 0.5  # pixel centres on integers
        return tuple(
            Detection(box=b.astype(np.float32), score=float(min(max(s, 0.0), 1.0)), keypoints=k.astype(np.float32))
            for b, k, s in zip(boxes, kps, kept, strict=True)
        )
