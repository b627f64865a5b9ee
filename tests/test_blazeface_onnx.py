"""BlazeFace on onnxruntime: the TFLite->ONNX conversion, anchors, weighted NMS, and agreement with MediaPipe."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import shared_path

from faceanalytics import BlazeFaceDetector, ModelFormatError
from faceanalytics.runners.blazeface import OnnxBlazeFace, ssd_anchors, weighted_nms
from faceanalytics.runtime.tflite_onnx import _same_pads, tflite_to_onnx


def test_anchors_match_the_network_outputs():
    a = ssd_anchors()
    assert a.shape == (896, 2)
    # 16x16 cells with 2 anchors at stride 8, then 8x8 cells with 6 anchors at stride 16
    np.testing.assert_allclose(a[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(a[1], a[0])
    np.testing.assert_allclose(a[2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(a[512], [0.5 / 8, 0.5 / 8])
    np.testing.assert_allclose(a[512 + 5], a[512])
    np.testing.assert_allclose(a[-1], [7.5 / 8, 7.5 / 8])


def test_tensorflow_same_padding():
    assert _same_pads((128, 128), (5, 5), (1, 1)) == [2, 2, 2, 2]
    assert _same_pads((128, 128), (5, 5), (2, 2)) == [1, 1, 2, 2]  # the extra row/column goes at the end
    assert _same_pads((16, 16), (2, 2), (2, 2)) == [0, 0, 0, 0]


def test_weighted_nms_golden_values():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    kps = np.array([[[2, 2]], [[4, 4]], [[55, 55]]], np.float32)
    scores = np.array([0.9, 0.6, 0.8], np.float32)
    b, k, s = weighted_nms(boxes, kps, scores)
    np.testing.assert_allclose(s, [0.9, 0.8])
    np.testing.assert_allclose(b[0], [0.4, 0.4, 10.4, 10.4], atol=1e-5)  # (0.9 * 0 + 0.6 * 1) / 1.5
    np.testing.assert_allclose(k[0, 0], [2.8, 2.8], atol=1e-5)
    np.testing.assert_allclose(b[1], boxes[2])
    e = weighted_nms(np.zeros((0, 4), np.float32), np.zeros((0, 6, 2), np.float32), np.zeros(0, np.float32))
    assert e[0].shape == (0, 4) and e[1].shape == (0, 6, 2) and e[2].shape == (0,)


def test_conversion_refuses_unsupported_operators(detector_home):
    with pytest.raises(ModelFormatError, match=r"DENSIFY.*not supported"):
        tflite_to_onnx(detector_home / "face_detection_full_range_sparse.tflite")


@pytest.mark.parametrize("block", [8, 16])
def test_channels_rounded_up_to_blocks_give_the_same_outputs(detector_home, block):
    """Widened activations (zero channels up to a multiple of ``block``) change no output, and the
    channel paddings inside one block count become no-ops instead of identity convolutions."""
    import onnx
    import onnxruntime as ort

    path = detector_home / "face_detection_short_range.tflite"
    plain, wide = tflite_to_onnx(path), tflite_to_onnx(path, channel_block=block)
    x = np.random.default_rng(2).uniform(-1, 1, (2, 128, 128, 3)).astype(np.float32)
    outs = [ort.InferenceSession(m, providers=["CPUExecutionProvider"]).run(None, {"input": x}) for m in (plain, wide)]
    for a, b in zip(*outs, strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, atol=2e-4, rtol=1e-5)

    def convs(model: bytes) -> list:
        return [n for n in onnx.load_from_string(model).graph.node if n.op_type == "Conv"]

    assert len(convs(wide)) < len(convs(plain))
    weights = [t for t in onnx.load_from_string(wide).graph.initializer if t.name.startswith("w")]
    odd = {t.dims[0] for t in weights if t.dims[0] % block}
    assert odd <= {2, 6}  # only the score heads (2 and 6 anchors a cell) keep their own width


def test_conversion_refuses_garbage(tmp_path):
    bad = tmp_path / "garbage.tflite"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFormatError, match=r"garbage\.tflite"):
        tflite_to_onnx(bad)


def test_backends(detector_home, astronaut):
    assert BlazeFaceDetector("short").backend == "onnx"
    assert BlazeFaceDetector("short", backend="mediapipe").backend == "mediapipe"
    full = BlazeFaceDetector("full")
    assert full.backend == "mediapipe" and full.providers == ()
    full.close()
    with pytest.raises(ValueError, match="onnx backend runs the 'short' model only"):
        BlazeFaceDetector("full", backend="onnx")
    with pytest.raises(ValueError, match="unknown detector backend"):
        BlazeFaceDetector("short", backend="tflite")
    det = BlazeFaceDetector("short", device="cpu")
    assert det.providers == ("CPUExecutionProvider",)
    det.close()
    with pytest.raises(RuntimeError, match="closed"):
        det.detect(astronaut)


def test_onnx_backend_agrees_with_mediapipe_on_real_faces(detector_home, astronaut):
    """Same faces, scores within 0.01, keypoints within 1 px and boxes within MediaPipe's whole-pixel
    rounding, on real faces of several sizes and aspect ratios (boxes inside the image: MediaPipe
    clips boxes that cross its border, we do not)."""
    folder = shared_path("data", "landmarks68", "images")
    images = [cv2.imread(str(f)) for f in sorted(folder.iterdir())[::60]]
    images += [astronaut, cv2.copyMakeBorder(astronaut, 80, 20, 0, 0, cv2.BORDER_REPLICATE), cv2.resize(astronaut, (300, 300))]
    onnx = BlazeFaceDetector("short", backend="onnx", device="cpu")
    mp = BlazeFaceDetector("short", backend="mediapipe")
    compared = 0
    try:
        for img in images:
            a, b = mp.detect(img), onnx.detect(img)
            assert len(a) == len(b)
            h, w = img.shape[:2]
            for p, q in zip(a, b, strict=True):
                assert abs(p.score - q.score) < 0.01
                np.testing.assert_allclose(p.keypoints, q.keypoints, atol=1.0)
                if q.box[0] >= 0 and q.box[1] >= 0 and q.box[2] <= w and q.box[3] <= h:
                    np.testing.assert_allclose(p.box, q.box, atol=2.0)
                    compared += 1
    finally:
        mp.close()
    assert compared >= 10


def test_onnx_detector_is_deterministic_and_batch_free(detector_home, astronaut):
    det = OnnxBlazeFace(detector_home / "face_detection_short_range.tflite", device="cpu")
    first = det.detect(astronaut)
    again = det.detect(astronaut.copy())
    assert len(first) == 1 and np.array_equal(first[0].box, again[0].box)
    assert det.detect(np.zeros((240, 320, 3), np.uint8)) == ()
