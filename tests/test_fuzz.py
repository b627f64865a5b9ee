"""Property tests (hypothesis) over the public API and the file readers.

The property is the same everywhere: every input gives a result of the documented shape, or an
error from :class:`FaceAnalyticsError`; nothing else escapes, nothing crashes the interpreter,
nothing hangs (a watchdog ends a hung test with a traceback). Runs are derandomized, so the suite
sees the same cases every time; ``FACEANALYTICS_FUZZ_SCALE=10`` multiplies every case count and
draws fresh random cases (docs/reliability.md lists the counts).
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import SHARED
from fpenet_models import random_fpenet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from onnx import TensorProto, helper, numpy_helper

from faceanalytics import (
    AnnotationError,
    BoxError,
    CameraMatrixError,
    Detection,
    FaceAnalyticsError,
    FPENetRunner,
    ImageError,
    ModelFormatError,
    Pipeline,
    Stream,
    StreamError,
)
from faceanalytics.core.image import load_image, to_bgr_uint8
from faceanalytics.geometry.crop import validate_boxes
from faceanalytics.train.data import read_coco_keypoints, read_csv, read_pts

SCALE = float(os.environ.get("FACEANALYTICS_FUZZ_SCALE", "1"))

#: Cases per property at scale 1 (docs/reliability.md quotes these).
EXAMPLES = {
    "image_arrays": 800,
    "image_objects": 300,
    "boxes": 800,
    "pipeline": 400,
    "stream": 150,
    "pts": 400,
    "csv": 400,
    "coco": 400,
    "fixture_bytes": 200,
    "onnx_bytes": 400,
    "onnx_contract": 250,
    "tflite_bytes": 8,
}


def fuzz(name: str):
    return settings(
        max_examples=max(1, round(EXAMPLES[name] * SCALE)),
        deadline=None,
        database=None,
        derandomize=SCALE == 1,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


@pytest.fixture(autouse=True)
def _watchdog():
    """A hang ends the run with every thread's traceback instead of blocking the suite."""
    faulthandler.dump_traceback_later(300 * max(SCALE, 1), exit=True, file=sys.__stderr__)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def pipe(tmp_path_factory) -> Pipeline:
    model = random_fpenet(tmp_path_factory.mktemp("fuzz_models") / "m68.onnx", 68)
    return Pipeline(model, device="cpu", detector=_NoFaces())


class _NoFaces:
    def detect(self, image: np.ndarray) -> tuple[Detection, ...]:
        return ()


# --- images ----------------------------------------------------------------------------------------

_DTYPES = [np.uint8, np.uint16, np.float32, np.float64, np.int8, np.int32, np.int64, np.float16, np.bool_, np.complex64]


@st.composite
def image_arrays(draw) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from(_DTYPES)))
    ndim = draw(st.sampled_from([0, 1, 2, 2, 3, 3, 3, 4]))
    shape = [draw(st.integers(0, 9)) for _ in range(ndim)]
    if ndim == 3 and draw(st.booleans()):
        shape[2] = draw(st.sampled_from([1, 3, 4]))
    if dtype.kind == "f" and draw(st.booleans()):  # mostly the accepted [0, 1] range, at times anything
        elements = st.floats(0, 1, width=dtype.itemsize * 8)
    else:
        elements = hnp.from_dtype(dtype)
    arr = draw(hnp.arrays(dtype, tuple(shape), elements=elements))
    view = draw(st.sampled_from(["plain", "step", "reverse", "transpose", "fortran", "readonly"]))
    if view == "step" and arr.ndim >= 2:
        arr = arr[::2, ::-2]
    elif view == "reverse" and arr.ndim >= 1:
        arr = arr[::-1]
    elif view == "transpose" and arr.ndim >= 2:
        arr = arr.swapaxes(0, 1)
    elif view == "fortran":
        arr = np.asfortranarray(arr)
    elif view == "readonly":
        arr.setflags(write=False)
    return arr


def _check_image(out: np.ndarray, source: np.ndarray) -> None:
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    assert out.shape[:2] == source.shape[:2] and out.flags.c_contiguous


@fuzz("image_arrays")
@given(image_arrays())
def test_any_array_is_an_image_or_an_image_error(arr):
    before = arr.tobytes()
    try:
        out = to_bgr_uint8(arr)
    except ImageError:
        pass
    else:
        _check_image(out, arr)
    assert arr.tobytes() == before  # the caller's array is never modified


@fuzz("image_objects")
@given(
    st.one_of(
        st.none(),
        st.integers(),
        st.floats(),
        st.binary(max_size=64),
        st.text(max_size=300),
        st.lists(st.integers(0, 255), max_size=12),
        st.sampled_from(["", ".", "/", "/dev/null", "a\x00b", "x" * 5000, "/proc/self/status", "tests"]),
    )
)
def test_any_object_is_an_image_or_an_error(obj):
    try:
        out = load_image(obj)
    except FaceAnalyticsError:
        return
    _check_image(out, out)


# --- boxes, camera matrices, the pipeline ------------------------------------------------------------

_wild = st.floats(allow_nan=True, allow_infinity=True)


@st.composite
def boxes_for(draw, w: int, h: int):
    """Boxes inside, across and outside a w x h image, empty, tiny, huge, NaN, inf, or malformed."""
    kind = draw(st.sampled_from(["near", "near", "near", "wild", "shape", "empty", "objects"]))
    if kind == "empty":
        return draw(st.sampled_from([[], np.zeros((0, 4)), ()]))
    if kind == "shape":
        return draw(st.lists(st.lists(_wild, min_size=0, max_size=6), max_size=3))
    if kind == "objects":
        return draw(st.sampled_from(["abcd", [None] * 4, [[1j, 0, 1, 1]], [[10**400, 0, 1, 1]], [{"x": 1}], object()]))
    if kind == "wild":
        return draw(st.lists(st.lists(_wild, min_size=4, max_size=4), min_size=1, max_size=3))
    out = []
    for _ in range(draw(st.integers(1, 3))):
        x1 = draw(st.floats(-2.0 * w, 2.0 * w))
        y1 = draw(st.floats(-2.0 * h, 2.0 * h))
        bw = draw(st.one_of(st.floats(1e-30, 1e-3), st.floats(0.5, 3.0 * w), st.floats(1e3, 1e30)))
        bh = draw(st.one_of(st.floats(1e-30, 1e-3), st.floats(0.5, 3.0 * h), st.floats(1e3, 1e30)))
        out.append([x1, y1, x1 + bw, y1 + bh])
    return draw(st.sampled_from([out, np.array(out, np.float32), np.array(out, np.float64), out[0]]))


@fuzz("boxes")
@given(st.data())
def test_boxes_are_checked_or_refused(data):
    w, h = data.draw(st.integers(1, 2000)), data.draw(st.integers(1, 2000))
    boxes = data.draw(boxes_for(w, h))
    try:
        out = validate_boxes(boxes, (w, h))
    except BoxError:
        return
    assert out.dtype == np.float32 and out.ndim == 2 and out.shape[1] == 4 and np.isfinite(out).all()
    assert (out[:, 2] > out[:, 0]).all() and (out[:, 3] > out[:, 1]).all()


_matrices = st.one_of(
    st.none(),
    st.just(np.array([[500.0, 0, 32], [0, 500.0, 24], [0, 0, 1]])),
    hnp.arrays(np.float64, (3, 3), elements=_wild),
    hnp.arrays(np.float64, st.sampled_from([(2, 2), (3, 4), (9,)]), elements=st.floats(-10, 10)),
    st.sampled_from(["K", [[1, 0, 0]], [[1, 0, 0], [0, 1, 0], [0, 0, 1]]]),
)


@fuzz("pipeline")
@given(st.data())
def test_the_pipeline_gives_one_face_per_box_or_an_error(pipe, data):
    h, w = data.draw(st.integers(1, 96)), data.draw(st.integers(1, 96))
    image = data.draw(hnp.arrays(np.uint8, (h, w, 3)))
    boxes = data.draw(boxes_for(w, h))
    k = data.draw(_matrices)
    try:
        result = pipe(image, boxes=boxes, camera_matrix=k)
    except (BoxError, CameraMatrixError):
        return
    n = len(validate_boxes(boxes, (w, h)))
    assert len(result.faces) == n and result.image_size == (w, h)
    for face in result.faces:
        assert face.landmarks.shape == (68, 2) and face.confidence.shape == (68,)
        assert face.head_pose is not None and face.eyes is not None and face.mouth is not None
        json.dumps(face.to_dict())  # serialisable whatever the landmarks are


# --- the stream ---------------------------------------------------------------------------------------


class _ScriptedDetector:
    """Returns whatever the test draws: boxes on, across or off the frame, empty, NaN."""

    def __init__(self, data) -> None:
        self.data = data

    def detect(self, image: np.ndarray) -> tuple[Detection, ...]:
        w = image.shape[1]
        boxes = self.data.draw(st.lists(st.lists(st.one_of(st.floats(-w, 2.0 * w), _wild), min_size=4, max_size=4), max_size=3))
        with np.errstate(over="ignore"):
            return tuple(Detection(box=np.array(b, np.float32), score=0.9) for b in boxes)


_timestamps = st.one_of(st.floats(-1, 1e6), st.just(float("nan")), st.just(float("inf")), st.sampled_from(["1", "soon", None]))


@fuzz("stream")
@given(st.data())
def test_a_stream_survives_any_frames_timestamps_and_detections(pipe, data):
    scripted = Pipeline(pipe.landmarker.path, device="cpu", detector=_ScriptedDetector(data))
    stream = Stream(scripted, detect_every=data.draw(st.integers(1, 3)))
    clock = 0.0
    for _ in range(data.draw(st.integers(1, 6))):
        h, w = data.draw(st.integers(8, 80)), data.draw(st.integers(8, 80))
        frame = data.draw(st.one_of(hnp.arrays(np.uint8, (h, w, 3)), st.just(np.zeros((0, 3))), st.just(None)))
        clock += 1 / 30
        t = data.draw(st.one_of(st.just(clock), _timestamps))
        try:
            res = stream(frame, t)
        except (StreamError, ImageError):
            continue
        live = {s.track_id for s in stream.summaries() if s.active}
        assert all(f.track_id in live for f in res.faces)
        assert all(f.landmarks.shape == (68, 2) for f in res.faces)
    events = stream.close()
    assert all(not e.complete for e in events)
    assert stream.close() == () and not any(s.active for s in stream.summaries())
    with pytest.raises(StreamError, match="closed"):
        stream(np.zeros((8, 8, 3), np.uint8), 1e9)


# --- annotation readers --------------------------------------------------------------------------------

_numbers = st.one_of(
    st.floats(-1e3, 1e3).map(lambda v: f"{v:g}"),
    st.sampled_from(["nan", "inf", "-inf", "1e40", "", "x", "1,5", "0x10", "１２", "1e-50"]),
)


def _write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    return path


def _check_points(pts: np.ndarray) -> None:
    assert pts.dtype == np.float32 and pts.ndim == 2 and pts.shape[1] == 2 and np.isfinite(pts).all()


_pts_lines = st.one_of(
    st.sampled_from(["version: 1", "n_points: 3", "n_points: 68", "n_points:", "n_points: x", "{", "}", "", "  "]),
    st.tuples(_numbers, _numbers).map(" ".join),
    _numbers,
    st.text(max_size=20),
)


@fuzz("pts")
@given(st.one_of(st.lists(_pts_lines, max_size=12).map("\n".join), st.binary(max_size=200)))
def test_pts_files_are_read_or_refused(workdir, content):
    try:
        pts = read_pts(_write(workdir, "x.pts", content))
    except AnnotationError:
        return
    _check_points(pts)


_csv_headers = st.sampled_from(["file,identity,x0,y0", "file,identity", "identity,file", "", "\ufefffile,identity", "a"])


@fuzz("csv")
@given(
    st.one_of(
        st.tuples(
            _csv_headers,
            st.lists(st.lists(st.one_of(_numbers, st.text(max_size=6)), max_size=8).map(",".join), max_size=6),
        ).map(lambda hr: "\n".join([hr[0], *hr[1]])),
        st.binary(max_size=200),
        st.text(max_size=200),
    )
)
def test_landmark_csvs_are_read_or_refused(workdir, content):
    try:
        samples = read_csv(_write(workdir, "a.csv", content))
    except AnnotationError:
        return
    for s in samples:
        _check_points(s.points)
    assert len({s.points.shape for s in samples}) <= 1


_json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20,
)


@st.composite
def coco_docs(draw) -> str:
    kind = draw(st.sampled_from(["near", "near", "json", "text", "deep"]))
    if kind == "text":
        return draw(st.text(max_size=100))
    if kind == "deep":
        return "[" * draw(st.integers(1, 200_000))
    if kind == "json":
        return json.dumps(draw(_json_values))
    ids = draw(st.lists(st.one_of(st.integers(0, 3), st.text(max_size=2), st.none()), max_size=3))
    images = [{"id": i, "file_name": draw(st.one_of(st.text(max_size=10), st.integers()))} for i in ids]
    if draw(st.booleans()):
        images.append(draw(_json_values))
    anns = []
    for _ in range(draw(st.integers(0, 3))):
        kp = draw(st.one_of(st.lists(st.one_of(st.floats(), st.integers(), st.none()), max_size=12), _json_values))
        anns.append({"image_id": draw(st.one_of(st.integers(0, 3), _json_values)), "keypoints": kp})
    doc = {"images": images, "annotations": anns}
    if draw(st.booleans()):
        doc.pop(draw(st.sampled_from(["images", "annotations"])))
    return json.dumps(doc)


@fuzz("coco")
@given(st.one_of(coco_docs(), st.binary(max_size=100)))
def test_coco_keypoint_files_are_read_or_refused(workdir, content):
    try:
        samples = read_coco_keypoints(_write(workdir, "a.json", content))
    except AnnotationError:
        return
    for s in samples:
        _check_points(s.points)


def _fixture(*parts: str) -> bytes:
    path = SHARED.joinpath("data", "fixtures", *parts)
    if not path.is_file():
        pytest.skip(f"needs {path}")
    return path.read_bytes()


@st.composite
def mutations(draw, data: bytes) -> bytes:
    """``data`` with a few bytes changed, a block spliced or zeroed, or cut short."""
    b = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "flip", "cut", "splice", "zero"]))
        if not b:
            break
        i = draw(st.integers(0, len(b) - 1))
        if op == "flip":
            b[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del b[i:]
        elif op == "splice":
            b[i : i + draw(st.integers(0, 64))] = draw(st.binary(max_size=64))
        else:
            b[i : i + draw(st.integers(1, 512))] = bytes(512)
    return bytes(b)


@fuzz("fixture_bytes")
@given(st.data())
def test_mutated_real_annotation_files_are_read_or_refused(workdir, data):
    which = data.draw(st.sampled_from(["pts", "json"]))
    if which == "pts":
        content = data.draw(mutations(_fixture("300vw", "001", "annot", "000006.pts")))
        with contextlib.suppress(AnnotationError):
            _check_points(read_pts(_write(workdir, "m.pts", content)))
    else:
        content = data.draw(mutations(_fixture("300w", "test_300w.json")))
        try:
            for s in read_coco_keypoints(_write(workdir, "m.json", content)):
                _check_points(s.points)
        except AnnotationError:
            pass


# --- model files ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def onnx_bytes(tmp_path_factory) -> bytes:
    return random_fpenet(tmp_path_factory.mktemp("onnx_seed") / "seed.onnx", 68).read_bytes()


def _runs_or_refuses(path: Path) -> None:
    try:
        runner = FPENetRunner(path, device="cpu", threads=1)
        pts, conf = runner.run(np.zeros((3, 1, 80, 80), np.float32))
    except ModelFormatError as exc:
        assert str(path) in str(exc)  # the message names the file
        return
    assert pts.shape == (3, runner.num_points, 2) and conf.shape == (3, runner.num_points)


@fuzz("onnx_bytes")
@given(st.data())
def test_corrupt_onnx_files_load_or_give_a_model_format_error(workdir, onnx_bytes, data):
    _runs_or_refuses(_write(workdir, "m.onnx", data.draw(mutations(onnx_bytes))))


_ELEM = {"float": TensorProto.FLOAT, "double": TensorProto.DOUBLE, "uint8": TensorProto.UINT8, "int64": TensorProto.INT64}
_NP = {"float": np.float32, "double": np.float64, "uint8": np.uint8, "int64": np.int64}


@st.composite
def contract_models(draw) -> onnx.ModelProto:
    """Models that follow the FPENet contract or break it in one or several ways: names, ranks,
    dimensions, element types, missing outputs, fixed batches. Outputs are constants, so any
    declared shape is a valid graph."""
    in_name = draw(st.sampled_from(["input_face_images", "input_face_images", "image"]))
    in_type = draw(st.sampled_from(["float", "float", "double", "uint8"]))
    dim = st.one_of(st.sampled_from(["N", 1, 80, 2]), st.integers(1, 4))
    in_shape = draw(st.one_of(st.just(["N", 1, 80, 80]), st.lists(dim, min_size=1, max_size=5)))
    inputs = [helper.make_tensor_value_info(in_name, _ELEM[in_type], in_shape)]
    if draw(st.integers(0, 5)) == 0:
        inputs.append(helper.make_tensor_value_info("extra", TensorProto.FLOAT, [1]))
    k = draw(st.sampled_from([68, 68, 80, 104, 5, 0]))
    batch = draw(st.sampled_from([1, 2, 3]))
    nodes, outputs = [], []
    for name, shape in (("softargmax", [batch, k, 2]), ("softargmax:1", [batch, k]), ("conv_keypoints_m80", [batch, k, 4])):
        if draw(st.integers(0, 6)) == 0:
            continue  # the output is missing
        shape = draw(st.one_of(st.just(shape), st.lists(st.integers(0, 4), min_size=1, max_size=4)))
        out_type = draw(st.sampled_from(["float", "float", "float", "double", "int64"]))
        value = np.full(shape, 40, _NP[out_type])
        nodes.append(helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value)))
        declared = [draw(st.sampled_from([d, "N"])) if i == 0 else d for i, d in enumerate(shape)]
        outputs.append(helper.make_tensor_value_info(name, _ELEM[out_type], declared))
    graph = helper.make_graph(nodes, "contract_fuzz", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


@fuzz("onnx_contract")
@given(contract_models())
def test_models_with_any_contract_load_or_say_what_is_wrong(workdir, model):
    path = workdir / "contract.onnx"
    onnx.save(model, path)
    _runs_or_refuses(path)


@fuzz("tflite_bytes")
@given(st.data())
def test_corrupt_tflite_files_load_or_give_a_model_format_error(workdir, data):
    """Each case costs a child process (about a second): the loader's own crash guard at work."""
    from faceanalytics import BlazeFaceDetector

    src = SHARED / "models" / "face_detection_short_range.tflite"
    if not src.is_file():
        pytest.skip(f"needs {src}")
    path = _write(workdir, f"m{data.draw(st.integers(0, 10**9))}.tflite", data.draw(mutations(src.read_bytes())))
    try:
        det = BlazeFaceDetector(model_path=path)
    except ModelFormatError as exc:
        assert str(path) in str(exc)
        return
    try:
        det.detect(np.zeros((48, 64, 3), np.uint8))
    except ModelFormatError:
        pass
    finally:
        det.close()
