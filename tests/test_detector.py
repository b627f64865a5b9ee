"""BlazeFace through MediaPipe Tasks on real faces (needs the weights from ../shared/models)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceanalytics import BlazeFaceDetector, Detection, Detector, ModelFormatError
from faceanalytics.core.types import DETECTOR_KEYPOINT_NAMES


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


#: Faces in WFLW's "Cheering" photo (1024x1024, ../shared/data/fixtures/wflw), counted by eye: 19,
#: two of them cut by the image border. Approximate centres (x, y) in pixels.
CHEERING_FACES = [
    (100, 30), (430, 50), (630, 40), (110, 190), (330, 200), (530, 260), (940, 170), (100, 360), (310, 410),
    (510, 390), (770, 350), (1000, 420), (90, 560), (300, 550), (570, 540), (800, 580), (260, 760), (510, 810),
    (790, 790),
]


def _matches(faces, centres, tolerance=40):
    """For each detection, the index of the hand-marked centre inside its box (or None)."""
    out = []
    for f in faces:
        cx, cy = (f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2
        near = [i for i, (x, y) in enumerate(centres) if abs(cx - x) < tolerance and abs(cy - y) < tolerance]
        out.append(near[0] if near else None)
    return out


@pytest.mark.parametrize("backend", ["onnx", "mediapipe"])
def test_the_default_detector_finds_a_group_photo(backend):
    """A group photo just works with the default (short-range) detector: it finds at least 14 of
    the 19 faces, each detection is one of them, and none is found twice."""
    from conftest import shared_path

    image = cv2.imread(str(shared_path("data", "fixtures", "wflw", "7_Cheering_Cheering_7_16.jpg")))
    det = BlazeFaceDetector("short", backend=backend)
    try:
        faces = det.detect(image)
        whole_only = BlazeFaceDetector("short", backend=backend, tile=None).detect(image)
    finally:
        det.close()
    hits = _matches(faces, CHEERING_FACES)
    assert None not in hits, [f.box.tolist() for f, h in zip(faces, hits, strict=True) if h is None]
    assert len(set(hits)) == len(hits)  # no face twice
    assert len(hits) >= 14
    assert len(whole_only) < 14  # what the tiles add: the whole image alone misses most of them
    for f in faces:
        x1, y1, x2, y2 = f.box
        assert 40 < x2 - x1 < 160 and 40 < y2 - y1 < 160  # face-sized boxes, mapped back from the tiles


def test_small_images_cost_one_pass(detector_home, astronaut):
    """Up to 1.25 tiles (640 px for the default) the detector runs once, as before tiles existed."""
    det = BlazeFaceDetector("short")
    calls = []
    once = det._detect_once

    def counted(image):
        calls.append(image.shape)
        return once(image)

    det._detect_once = counted
    frame = cv2.resize(astronaut, (640, 480))
    assert len(det.detect(frame)) == 1 and len(calls) == 1
    calls.clear()
    big = cv2.resize(astronaut, (1280, 960))
    faces = det.detect(big)
    assert len(calls) >= 1 + 4 * 3  # whole image, 4 x 3 tiles of 512 px at half-tile strides, second looks
    assert [c for c in calls if c == (512, 512, 3)] == [(512, 512, 3)] * 12
    best = max(faces, key=lambda f: f.score)  # the face, once: the tiles' copies merged into it
    assert 450 < best.box[0] < 480 and 320 < best.box[3] < 350 and best.score > 0.9
    assert all(float(_iou(best.box, f.box)) < 0.3 for f in faces if f is not best)
    assert all(max(f.box[2] - f.box[0], f.box[3] - f.box[1]) <= 256 for f in faces if f is not best)  # no tile-sized boxes


def _iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy)


@pytest.mark.parametrize("tile", [0, 32, 512.0, True, "512"])
def test_bad_tile_sizes_are_refused(tile):
    from faceanalytics import ParameterError

    with pytest.raises(ParameterError, match="tile"):
        BlazeFaceDetector("short", tile=tile)
