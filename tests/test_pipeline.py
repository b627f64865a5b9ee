from __future__ import annotations

import json
import re
import threading

import cv2
import numpy as np
import pytest
from conftest import shared_path

from faceanalytics import (
    BoxError,
    Detection,
    FaceAnalyticsError,
    ImageDecodeError,
    ImageError,
    ImageNotFoundError,
    ModelNotFoundError,
    Pipeline,
    Result,
)


class _NoDetector:
    """A detector that must not be called."""

    def detect(self, image):
        raise AssertionError("detector called although boxes were given")


class _Fixed:
    def __init__(self, *boxes):
        self.boxes = boxes

    def detect(self, image):
        return tuple(Detection(box=b, score=0.9) for b in self.boxes)


@pytest.fixture(scope="module")
def box_pipe(fpenet68):
    """A pipeline that needs no detector weights (for tests that pass boxes or fail earlier)."""
    return Pipeline(fpenet68, detector=_NoDetector(), device="cpu")


@pytest.fixture(scope="module")
def pipe(detector_home, fpenet68):
    with Pipeline(fpenet68, device="cpu") as p:
        yield p


def test_astronaut_one_face_with_68_points_inside_its_box(pipe, astronaut):
    result = pipe(astronaut)
    assert isinstance(result, Result) and result.image_size == (512, 512)
    (face,) = result.faces
    assert face.landmarks.shape == (68, 2) and face.landmarks.dtype == np.float32
    assert face.confidence.shape == (68,) and face.box.shape == (4,)
    x1, y1, x2, y2 = face.box
    xs, ys = face.landmarks[:, 0], face.landmarks[:, 1]
    assert ((xs >= x1) & (xs <= x2) & (ys >= y1) & (ys <= y2)).all()
    assert face.detector_keypoints.shape == (6, 2)
    assert 0 < face.score <= 1


def test_paths_work_like_arrays(pipe, astronaut, astronaut_file):
    a, b = pipe(astronaut), pipe(astronaut_file)
    np.testing.assert_allclose(a.faces[0].landmarks, b.faces[0].landmarks)


def test_no_face_gives_an_empty_tuple(pipe, cat):
    result = pipe(cat)
    assert result.faces == () and len(result) == 0
    assert result.to_dict() == {"image_size": {"width": 451, "height": 300}, "faces": []}


def test_boxes_skip_detection(fpenet68, astronaut):
    pipe = Pipeline(fpenet68, detector=_NoDetector(), device="cpu")
    result = pipe(astronaut, boxes=[[177, 82, 272, 177], [0, 0, 100, 100]])
    assert [f.score for f in result.faces] == [1.0, 1.0]
    np.testing.assert_array_equal(result.faces[1].box, [0, 0, 100, 100])  # caller's order kept
    assert result.faces[0].detector_keypoints.shape == (0, 2)
    assert pipe(astronaut, boxes=[]).faces == ()
    with pytest.raises(BoxError):
        pipe(astronaut, boxes=[[600, 600, 700, 700]])


def test_faces_are_largest_first_and_capped(fpenet68, astronaut):
    small, big, mid = [10, 10, 30, 30], [100, 100, 300, 300], [300, 50, 400, 150]
    pipe = Pipeline(fpenet68, detector=_Fixed(small, big, mid), device="cpu")
    areas = [float((f.box[2] - f.box[0]) * (f.box[3] - f.box[1])) for f in pipe(astronaut).faces]
    assert areas == sorted(areas, reverse=True) and len(areas) == 3
    capped = Pipeline(fpenet68, detector=_Fixed(small, big, mid), device="cpu", max_faces=1)
    (only,) = capped(astronaut).faces
    np.testing.assert_array_equal(only.box, big)
    assert len(capped.detect(astronaut)) == 1


def test_to_dict_and_json(pipe, astronaut):
    result = pipe(astronaut)
    d = json.loads(result.to_json())
    assert d == json.loads(json.dumps(result.to_dict()))
    face = d["faces"][0]
    assert set(face) == {"box", "score", "schema", "landmarks", "confidence", "detector_keypoints", "head_pose", "eyes", "mouth"}
    assert set(face["head_pose"]) >= {"yaw", "pitch", "roll", "rotation_vector", "translation", "reprojection_error"}
    assert set(face["eyes"]) >= {"left_ear", "right_ear", "ear", "left_closed", "right_closed", "closed"}
    assert len(face["landmarks"]) == 68 and len(face["landmarks"][0]) == 2 and face["schema"] == "ibug68"


_PIXEL_KEYS = {"box", "landmarks", "detector_keypoints", "yaw", "pitch", "roll", "translation", "reprojection_error"}


def _json_numbers(node, key=None):
    """(key, literal) for every number of a JSON document parsed with ``parse_float=str``."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _json_numbers(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _json_numbers(v, key)
    elif isinstance(node, str) and re.fullmatch(r"-?\d+\.\d+(e[-+]?\d+)?", node, re.IGNORECASE):
        yield key, node


def test_json_numbers_are_rounded_by_unit(detector_home, astronaut):
    """A real result (bundled model, every plugin): no float32 noise such as 129.09425354003906 in
    JSON; pixels, degrees and mm with at most PIXEL_DECIMALS, everything else RATIO_DECIMALS."""
    from faceanalytics.core.types import PIXEL_DECIMALS, RATIO_DECIMALS

    with Pipeline(device="cpu") as p:
        result = p(astronaut)
    (face,) = result.faces
    assert face.head_pose is not None and face.eyes is not None and face.mouth is not None
    literals = list(_json_numbers(json.loads(result.to_json(), parse_float=str)))
    assert len(literals) > 3 * 68
    for key, literal in literals:
        assert "e" not in literal.lower(), (key, literal)
        decimals = len(literal.split(".")[1])
        assert decimals <= (PIXEL_DECIMALS if key in _PIXEL_KEYS else RATIO_DECIMALS), (key, literal)
    d = result.to_dict()["faces"][0]
    np.testing.assert_allclose(d["box"], face.box, atol=0.5 * 10**-PIXEL_DECIMALS + 1e-4)
    np.testing.assert_allclose(d["landmarks"], face.landmarks, atol=0.5 * 10**-PIXEL_DECIMALS + 1e-4)
    np.testing.assert_allclose(d["confidence"], face.confidence, atol=0.5 * 10**-RATIO_DECIMALS + 1e-6)
    assert d["score"] == round(face.score, RATIO_DECIMALS)


def test_results_are_frozen(box_pipe, astronaut):
    face = box_pipe(astronaut, boxes=[[177, 82, 272, 177]]).faces[0]
    with pytest.raises(AttributeError):
        face.score = 0.1  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        face.landmarks[0, 0] = 1.0


@pytest.mark.parametrize("image", [None, np.zeros((0, 0, 3), np.uint8), np.full((50, 50, 3), 3.0)])
def test_bad_images(box_pipe, image):
    with pytest.raises(ImageError):
        box_pipe(image)


def test_converted_inputs_give_the_same_faces(pipe, astronaut):
    ref = pipe(astronaut).faces[0].landmarks
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    np.testing.assert_allclose(pipe(rgba).faces[0].landmarks, ref)
    np.testing.assert_allclose(pipe(astronaut.astype(np.float32) / 255).faces[0].landmarks, ref, atol=1e-3)
    np.testing.assert_allclose(pipe(astronaut.astype(np.uint16) * 257).faces[0].landmarks, ref)
    strided = np.zeros((512, 1024, 3), np.uint8)
    strided[:, ::2] = astronaut
    np.testing.assert_allclose(pipe(strided[:, ::2]).faces[0].landmarks, ref)
    gray = pipe(astronaut.mean(axis=2).astype(np.uint8))
    assert len(gray.faces) == 1


def test_missing_files(box_pipe, tmp_path):
    with pytest.raises(ImageNotFoundError):
        box_pipe(tmp_path / "nothing.jpg")


def test_bundled_model_by_default_and_unknown_names(astronaut):
    from faceanalytics.runtime.registry import DEFAULT_LANDMARK_MODEL, LANDMARK_MODELS

    pipe = Pipeline(detector=_NoDetector(), device="cpu")
    assert pipe.landmarker.spec is LANDMARK_MODELS[DEFAULT_LANDMARK_MODEL] and pipe.schema.num_points == 68
    face = pipe(astronaut, boxes=[[177, 82, 272, 177]]).faces[0]
    x1, y1, x2, y2 = face.box
    assert ((face.landmarks >= [x1 - 5, y1 - 5]) & (face.landmarks <= [x2 + 5, y2 + 15])).all()
    with pytest.raises(ModelNotFoundError, match="registered: fpenet68"):
        Pipeline("fpenet999")


def test_bad_arguments(fpenet68):
    for kwargs in ({"detector": "medium"}, {"detector": 42}, {"max_faces": 0}, {"min_score": -1}):
        with pytest.raises(ValueError):
            Pipeline(fpenet68, device="cpu", **kwargs)
    with pytest.raises(FaceAnalyticsError):
        Pipeline(fpenet68, device="npu")


def test_providers_are_visible(box_pipe):
    assert box_pipe.providers == ("CPUExecutionProvider",)
    assert "CPUExecutionProvider" in repr(box_pipe)


def test_threads_share_one_pipeline(pipe, astronaut):
    ref = pipe(astronaut).faces[0].landmarks
    out: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work():
        try:
            for _ in range(3):
                out.append(pipe(astronaut).faces[0].landmarks)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(out) == 12
    for lm in out:
        np.testing.assert_array_equal(lm, ref)


class _Width:
    """A user plugin: the box width, with to_dict()."""

    name = "width"

    def __call__(self, face, frame):
        class R:
            def __init__(self, w):
                self.w = w

            def to_dict(self):
                return {"px": self.w}

        assert face.eyes is not None  # runs after the built-ins it was given after
        return R(float(face.box[2] - face.box[0]))


def test_plugins_run_in_order_and_user_plugins_land_in_extras(fpenet68, astronaut):
    from faceanalytics.plugins import AlignmentPlugin, EyesPlugin

    pipe = Pipeline(fpenet68, detector=_NoDetector(), device="cpu", plugins=[EyesPlugin(), _Width(), AlignmentPlugin(size=64)])
    face = pipe(astronaut, boxes=[[177, 82, 272, 177]]).faces[0]
    assert face.head_pose is None and face.mouth is None
    assert face.eyes is not None and face.alignment is not None and face.alignment.crop.shape == (64, 64, 3)
    assert face.extras["width"].w == 95.0
    d = face.to_dict()
    assert d["width"] == {"px": 95.0} and "alignment" not in d and "head_pose" not in d
    bare = Pipeline(fpenet68, detector=_NoDetector(), device="cpu", plugins=[])
    assert set(bare(astronaut, boxes=[[177, 82, 272, 177]]).faces[0].to_dict()) == {
        "box",
        "score",
        "schema",
        "landmarks",
        "confidence",
        "detector_keypoints",
    }


def test_default_plugins(box_pipe, astronaut):
    face = box_pipe(astronaut, boxes=[[177, 82, 272, 177]]).faces[0]
    assert face.head_pose is not None and face.eyes is not None and face.mouth is not None and face.alignment is not None
    assert face.alignment.crop.shape == (112, 112, 3)


def test_plugin_arguments_are_checked(fpenet68):
    from faceanalytics.plugins import EyesPlugin

    with pytest.raises(ValueError, match="unique"):
        Pipeline(fpenet68, device="cpu", plugins=[EyesPlugin(), EyesPlugin()])
    with pytest.raises(ValueError, match="name"):
        Pipeline(fpenet68, device="cpu", plugins=[object()])


def test_camera_matrix_reaches_the_plugins(fpenet68, astronaut):
    from faceanalytics import CameraMatrixError

    seen = []

    class Intrinsics:
        name = "k"

        def __call__(self, face, frame):
            seen.append(frame.intrinsics)
            return None

    pipe = Pipeline(fpenet68, detector=_NoDetector(), device="cpu", plugins=[Intrinsics()])
    k = np.array([[800.0, 0, 256], [0, 800, 256], [0, 0, 1]])
    box = [[177, 82, 272, 177]]
    pipe(astronaut, boxes=box, camera_matrix=k)
    pipe(astronaut, boxes=box)
    np.testing.assert_array_equal(seen[0], k)
    np.testing.assert_allclose(seen[1], [[512, 0, 255.5], [0, 512, 255.5], [0, 0, 1]])  # estimated from the size
    for bad in (np.eye(2), np.full((3, 3), np.nan), [[-1, 0, 0], [0, 1, 0], [0, 0, 1]], "k"):
        with pytest.raises(CameraMatrixError):
            pipe(astronaut, boxes=box, camera_matrix=bad)


def test_the_callers_array_stays_writable(box_pipe, astronaut):
    image = astronaut.copy()
    box_pipe(image, boxes=[[177, 82, 272, 177]])
    assert image.flags.writeable


def test_unusable_boxes_from_a_custom_detector_are_dropped(fpenet68, astronaut):
    pipe = Pipeline(
        fpenet68, detector=_Fixed([10, 10, 10, 50], [600, 600, 700, 700], [np.nan, 0, 5, 5], [100, 100, 200, 200]), device="cpu"
    )
    (face,) = pipe(astronaut).faces
    np.testing.assert_array_equal(face.box, [100, 100, 200, 200])


def _same_faces(a: Result, b: Result) -> None:
    assert len(a.faces) == len(b.faces) >= 1 and a.image_size == b.image_size
    for fa, fb in zip(a.faces, b.faces, strict=True):
        np.testing.assert_array_equal(fa.box, fb.box)
        np.testing.assert_array_equal(fa.landmarks, fb.landmarks)
        assert fa.score == fb.score


def test_encoded_bytes_give_the_faces_of_the_array(pipe):
    """JPEG and PNG bytes, as web apps and queues carry them, decode to the array they encode."""
    face = cv2.imread(str(shared_path("data", "landmarks68", "images", "test_Abdullah_Gul_11.jpg")))
    png = cv2.imencode(".png", face)[1].tobytes()
    _same_faces(pipe(png), pipe(face))  # lossless
    jpeg = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    for data in (jpeg, bytearray(jpeg), memoryview(jpeg)):
        _same_faces(pipe(data), pipe(decoded))
    np.testing.assert_array_equal([d.box for d in pipe.detect(png)], [d.box for d in pipe.detect(face)])


@pytest.mark.parametrize("data", [b"", b"garbage" * 20, bytearray(b"\xff\xd8\xff" + bytes(100))])
def test_undecodable_bytes_raise_image_decode_error(box_pipe, data):
    with pytest.raises(ImageDecodeError):
        box_pipe(data, boxes=[[0, 0, 10, 10]])


def test_the_public_stages_compose_to_the_call(pipe, astronaut):
    """detect -> landmarks -> run_plugins, the stages a Stream or any other driver composes, give
    what pipe(image) gives; load() creates the detector up front."""
    from faceanalytics import Face
    from faceanalytics.plugins import Frame

    assert pipe.load() is pipe and pipe.detector is not None
    dets = pipe.detect(astronaut)
    lm = pipe.landmarks(astronaut, np.stack([d.box for d in dets]))
    assert lm.points.shape == (len(dets), 68, 2) and lm.confidence.shape == lm.peaks.shape == (len(dets), 68)
    faces = [
        Face(box=d.box, score=d.score, landmarks=p, confidence=c, schema=pipe.schema, detector_keypoints=d.keypoints)
        for d, p, c in zip(dets, lm.points, lm.confidence, strict=True)
    ]
    staged = pipe.run_plugins(faces, Frame(astronaut))
    called = pipe(astronaut).faces
    assert len(staged) == len(called) == 1
    a, b = staged[0], called[0]
    np.testing.assert_array_equal(a.landmarks, b.landmarks)
    np.testing.assert_array_equal(a.confidence, b.confidence)
    for name in ("head_pose", "eyes", "mouth"):
        np.testing.assert_equal(vars(getattr(a, name)), vars(getattr(b, name)))  # NaN == NaN here
    np.testing.assert_array_equal(a.alignment.matrix, b.alignment.matrix)
    empty = pipe.landmarks(astronaut, np.zeros((0, 4)))
    assert empty.points.shape == (0, 68, 2) and empty.confidence.shape == (0, 68)
    with pytest.raises(BoxError):
        pipe.landmarks(astronaut, [1.0, 2.0, 3.0])
