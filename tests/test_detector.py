"""BlazeFace through MediaPipe Tasks on real faces (needs the weights from ../shared/models)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceanalytics import BlazeFaceDetector, Detection, Detector, ModelFormatError
from faceanalytics.types import DETECTOR_KEYPOINT_NAMES


@pytest.fixture(scope="module")
def short(detector_home):
    det = BlazeFaceDetector("short")
    yield det
    det.close()


def test_one_face_on_the_astronaut(short, astronaut):
    (face,) = short.detect(astronaut)
    x1, y1, x2, y2 = face.box
    assert 150 < x1 < 200 and 60 < y1 < 110 and 250 < x2 < 300 and 150 < y2 < 200
    assert 0.7 < face.score <= 1.0
    assert face.keypoints.shape == (len(DETECTOR_KEYPOINT_NAMES), 2)
    right_eye, left_eye, nose = face.keypoints[:3]
    assert right_eye[0] < left_eye[0]  # the subject's right eye is on the image's left
    assert x1 < nose[0] < x2 and y1 < nose[1] < y2


def test_no_face_on_the_cat(short, cat):
    assert short.detect(cat) == ()


def test_full_range_model(detector_home, astronaut):
    det = BlazeFaceDetector("full", min_score=0.5)
    try:
        (face,) = det.detect(astronaut)
        assert 150 < face.box[0] < 200
    finally:
        det.close()
    with pytest.raises(RuntimeError, match="closed"):
        det.detect(astronaut)


def test_min_score_filters(detector_home, astronaut):
    strict = BlazeFaceDetector("short", min_score=0.99)
    assert strict.detect(astronaut) == ()
    strict.close()
    with pytest.raises(ValueError, match="min_score"):
        BlazeFaceDetector("short", min_score=1.5)
    with pytest.raises(ValueError, match="unknown BlazeFace model"):
        BlazeFaceDetector("long")


def test_a_file_that_is_not_a_tflite_model(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model" * 100)
    with pytest.raises(ModelFormatError, match=r"bad\.tflite"):
        BlazeFaceDetector("short", model_path=bad)


def test_several_faces_in_a_mosaic(detector_home, astronaut):
    """Three real faces (the astronaut's, at three sizes) on one canvas: the full-range model
    finds all three."""
    face = astronaut[40:300, 120:340]
    canvas = np.full((400, 720, 3), 90, np.uint8)
    x = 10
    for width in (220, 160, 120):
        tile = cv2.resize(face, (width, round(width * face.shape[0] / face.shape[1])), interpolation=cv2.INTER_AREA)
        canvas[20 : 20 + tile.shape[0], x : x + tile.shape[1]] = tile
        x += width + 20
    det = BlazeFaceDetector("full")
    try:
        faces = det.detect(canvas)
    finally:
        det.close()
    assert len(faces) == 3
    centres = sorted(float((f.box[0] + f.box[2]) / 2) for f in faces)
    assert centres[0] < 240 < centres[1] < 440 < centres[2]


def test_protocol_is_structural():
    class Fixed:
        def detect(self, image):
            return (Detection(box=[0, 0, 10, 10], score=0.5),)

    assert isinstance(Fixed(), Detector)
    assert not isinstance(object(), Detector)
