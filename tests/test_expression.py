"""The expression plugin: NVIDIA EmotionNet-contract files as drop-ins (a random-weight model of
that contract built here), contract checks, bad landmarks, smoothing over a track, and the
shipped ``expression-fer5`` on real FER-2013 faces (skipped without ../shared)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_path

from faceanalytics import Expression, Face, ModelFormatError, ModelNotFoundError, ParameterError
from faceanalytics.core.schema import SCHEMA_68
from faceanalytics.geometry.expression_input import INPUT_SIZE, expression_input, mirror_expression_input
from faceanalytics.geometry.face_templates import MEAN_SHAPE_68
from faceanalytics.plugins import ExpressionPlugin, Frame, TrackContext
from faceanalytics.runners.expression_net import EMOTIONNET_CLASSES, ExpressionNet

FRAME = Frame(np.full((300, 300, 3), 128, np.uint8))


def emotionnet_like(
    path: Path,
    *,
    classes: int = 6,
    input_shape: tuple = ("N", 1, INPUT_SIZE, 1),
    input_name: str = "input_landmarks:0",
    output_name: str = "softmax/Softmax:0",
    metadata: dict[str, str] | None = None,
    seed: int = 0,
) -> Path:
    """A random-weight model of the EmotionNet contract: reshape to (N, 136), one dense layer, softmax."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array((rng.normal(0, 3.0, (INPUT_SIZE, classes))).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.normal(0, 0.1, classes).astype(np.float32), "b")
    shape = numpy_helper.from_array(np.array([-1, INPUT_SIZE], np.int64), "shape")
    # centred on the mean face's input, so that the softmax is not saturated and shapes differ
    centre = numpy_helper.from_array(expression_input(_points()).astype(np.float32), "centre")
    nodes = [
        helper.make_node("Reshape", [input_name, "shape"], ["flat"]),
        helper.make_node("Sub", ["flat", "centre"], ["centred"]),
        helper.make_node("Gemm", ["centred", "w", "b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], [output_name], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "emotionnet_like",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["N", classes])],
        initializer=[w, b, shape, centre],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for k, v in (metadata or {}).items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def _points(mouth_open: float = 0.0) -> np.ndarray:
    """The mean face (pixels), its lower lip and jaw dropped by ``mouth_open`` face units."""
    p = np.array(MEAN_SHAPE_68, np.float64)
    if mouth_open:
        low = [*SCHEMA_68.jaw[4:13], *SCHEMA_68.outer_lips[7:], *SCHEMA_68.inner_lips[5:]]
        p[low, 1] += mouth_open * (p[:, 1].max() - p[:, 1].min())
    return p * 120 + np.array([90.0, 80.0])


def _face(points: np.ndarray) -> Face:
    return Face(box=[0, 0, 1, 1], score=1, landmarks=points, confidence=np.ones(len(points)), schema=SCHEMA_68)


@pytest.fixture(scope="module")
def emotionnet(tmp_path_factory) -> Path:
    return emotionnet_like(tmp_path_factory.mktemp("expr") / "emotionnet.onnx")


def test_an_emotionnet_contract_file_runs_as_a_drop_in(emotionnet):
    plugin = ExpressionPlugin(emotionnet)
    assert plugin.name == "expression" and plugin.classes == EMOTIONNET_CLASSES  # no metadata: NVIDIA's order
    assert plugin.net.input_shape == (1, INPUT_SIZE, 1)
    r = plugin(_face(_points()), FRAME)
    assert isinstance(r, Expression) and r.valid and r.reason == ""
    assert tuple(r.scores) == EMOTIONNET_CLASSES == r.classes
    probs = np.array(list(r.scores.values()))
    assert probs.sum() == pytest.approx(1.0, abs=1e-6) and (probs >= 0).all()
    assert r.label == EMOTIONNET_CLASSES[int(np.argmax(probs))]
    d = json.loads(json.dumps(r.to_dict()))
    assert d["label"] == r.label and set(d["scores"]) == set(EMOTIONNET_CLASSES) and d["valid"] is True
    # the same values as running the file by hand on the documented normalisation
    import onnxruntime as ort

    sess = ort.InferenceSession(str(emotionnet), providers=["CPUExecutionProvider"])
    x = expression_input(_points()).reshape(1, 1, INPUT_SIZE, 1)
    np.testing.assert_allclose(sess.run(None, {"input_landmarks:0": x})[0][0], probs, atol=1e-6)


def test_flat_inputs_batches_and_class_names(tmp_path):
    flat = emotionnet_like(tmp_path / "flat.onnx", input_shape=("N", INPUT_SIZE), classes=5,
                           metadata={"classes": "a, b,c,d,e"})  # fmt: skip
    net = ExpressionNet(flat)
    assert net.input_shape == (INPUT_SIZE,) and net.classes == ("a", "b", "c", "d", "e")
    batch = net.probabilities(np.stack([_points(), _points(0.1)]))
    assert batch.shape == (2, 5)
    np.testing.assert_allclose(batch[0], net.probabilities(_points()), atol=1e-6)
    assert ExpressionNet(flat, classes=list("vwxyz")).classes == tuple("vwxyz")
    fixed = emotionnet_like(tmp_path / "fixed.onnx", input_shape=(1, 1, INPUT_SIZE, 1))
    assert ExpressionNet(fixed).probabilities(np.stack([_points()] * 3)).shape == (3, 6)  # batch 1 only: one at a time
    with pytest.raises(ParameterError):
        ExpressionNet(flat, classes=["a", "a", "b", "c", "d"])


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"input_name": "landmarks"}, "no input 'input_landmarks:0'"),
        ({"output_name": "probs"}, "no output 'softmax/Softmax:0'"),
        ({"input_shape": ("N", 1, 68, 2)}, "136 values per face"),  # 136 values, but shaped as points: accepted
        ({"input_shape": ("N", 1, 140, 1)}, "136 values per face"),
        ({"classes": 7}, "7 classes but 6 are named"),
        ({"classes": 5, "metadata": {"classes": "a,b,c,d"}}, "5 classes but 4 are named"),
        ({"metadata": {"classes": "a,,b"}}, "empty class name"),
    ],
)
def test_wrong_contracts_raise_model_format_error(tmp_path, kwargs, words):
    if kwargs.get("input_shape") == ("N", 1, 68, 2):
        ExpressionNet(emotionnet_like(tmp_path / "points.onnx", **kwargs))  # 68 x 2 = 136 values: fine
        return
    path = emotionnet_like(tmp_path / "bad.onnx", **kwargs)
    with pytest.raises(ModelFormatError, match="EmotionNet contract") as info:
        ExpressionPlugin(path)
    assert words in str(info.value) and str(path) in str(info.value)


def test_missing_files_and_bad_settings(tmp_path, emotionnet):
    with pytest.raises(ModelNotFoundError):
        ExpressionPlugin(tmp_path / "missing.onnx")
    with pytest.raises(ModelNotFoundError):
        ExpressionPlugin("no-such-model")
    for bad in (-1, math.nan, "fast"):
        with pytest.raises(ParameterError):
            ExpressionPlugin(emotionnet, smoothing=bad)


def test_bad_landmarks_give_invalid_results_never_raise(emotionnet):
    plugin = ExpressionPlugin(emotionnet)
    nan = _points()
    nan[30] = np.nan
    for points in (nan, np.zeros((68, 2)), np.tile([[5.0, 5.0]], (68, 1)), np.stack([np.arange(68.0)] * 2, axis=1)):
        r = plugin(_face(points), FRAME)
        assert not r.valid and r.reason and r.label == "" and dict(r.scores) == {}
        assert r.to_dict()["label"] is None
        state = plugin.new_state(TrackContext(1, 0.0, {}))
        assert not plugin(_face(points), Frame(FRAME.image, timestamp=0.0), state).valid


def test_a_track_smooths_over_time_and_converges(emotionnet):
    plugin = ExpressionPlugin(emotionnet, smoothing=0.3)
    a, b = _face(_points()), _face(_points(0.15))
    raw_a, raw_b = (np.array(list(plugin(f, FRAME).scores.values())) for f in (a, b))
    assert np.abs(raw_a - raw_b).max() > 0.05  # the random model tells the two shapes apart
    state = plugin.new_state(TrackContext(1, 0.0, {}))
    t = 0.0
    first = plugin(a, Frame(FRAME.image, timestamp=t), state)
    np.testing.assert_allclose(list(first.scores.values()), raw_a, atol=1e-9)  # nothing to average yet
    t += 1 / 30
    step = np.array(list(plugin(b, Frame(FRAME.image, timestamp=t), state).scores.values()))
    w = 1 - math.exp(-(1 / 30) / 0.3)
    np.testing.assert_allclose(step, raw_a + w * (raw_b - raw_a), atol=1e-9)  # the documented average
    assert np.abs(step - raw_b).max() > 0.03  # lags the changing input
    assert step.sum() == pytest.approx(1.0)
    for _ in range(60):  # two seconds of the same face: the average reaches it
        t += 1 / 30
        last = plugin(b, Frame(FRAME.image, timestamp=t), state)
    np.testing.assert_allclose(list(last.scores.values()), raw_b, atol=1e-3)
    assert last.label == EMOTIONNET_CLASSES[int(np.argmax(raw_b))]
    # smoothing=0: raw per frame even in a track
    off = ExpressionPlugin(emotionnet, smoothing=0)
    s = off.new_state(TrackContext(1, 0.0, {}))
    off(a, Frame(FRAME.image, timestamp=0.0), s)
    np.testing.assert_allclose(list(off(b, Frame(FRAME.image, timestamp=0.03), s).scores.values()), raw_b, atol=1e-9)


def test_a_stream_gives_each_track_smoothed_expressions(detector_home, astronaut):
    from faceanalytics import Pipeline, Stream

    plugin = ExpressionPlugin()
    pipe = Pipeline(device="cpu", plugins=[plugin])
    single = pipe(astronaut).faces[0].extras["expression"]
    assert single.valid and single.label in plugin.classes
    with Stream(pipe) as stream:
        seen = [f.extras["expression"] for i in range(4) for f in stream(astronaut, i / 30).faces]
    assert len(seen) == 4 and all(e.valid and sum(e.scores.values()) == pytest.approx(1.0) for e in seen)
    assert seen[-1].label == single.label  # a still face: the average stays on its label


def test_the_input_is_invariant_to_position_and_scale_and_mirrors():
    x = expression_input(_points())
    assert x.shape == (INPUT_SIZE,) and x.dtype == np.float32 and x.min() >= 0 and x.max() <= 1
    np.testing.assert_allclose(expression_input(_points() * 3 + 17), x, atol=1e-6)
    mirrored = _points()
    mirrored[:, 0] = 500 - mirrored[:, 0]
    mirrored = mirrored[list(SCHEMA_68.flip_permutation)]
    np.testing.assert_allclose(mirror_expression_input(x), expression_input(mirrored), atol=1e-6)
    np.testing.assert_allclose(mirror_expression_input(mirror_expression_input(x)), x, atol=1e-6)


def test_the_shipped_model_loads_with_its_checksum():
    """(A tampered file: tests/test_model_files.py, with the other plugins' networks.)"""
    import faceanalytics.runtime.hub as hub
    from faceanalytics.runtime.registry import EXPRESSION_MODELS

    spec = EXPRESSION_MODELS["expression-fer5"]
    src = hub.package_weights_dir() / spec.filename
    assert hub.expression_model_path("expression-fer5")[0] == src and src.stat().st_size == spec.size
    plugin = ExpressionPlugin()
    assert plugin.classes == ("neutral", "happy", "surprise", "sad", "angry")  # from the file's metadata
    assert plugin.net.input_shape == (1, INPUT_SIZE, 1) and plugin.net.providers == ("CPUExecutionProvider",)
    r = plugin(_face(_points()), FRAME)
    assert r.valid and sum(r.scores.values()) == pytest.approx(1.0, abs=1e-5)


def test_happy_faces_score_happier_than_neutral_ones(detector_home):
    root = shared_path("data", "expressions")
    from faceanalytics import Pipeline
    from faceanalytics.train.expressions import load, split

    held = split(root)["held_out"]
    pipe = Pipeline(device="cpu", plugins=[ExpressionPlugin()])
    happy: dict[str, list[float]] = {"happy": [], "neutral": []}
    flips = []
    for cls in happy:
        for f in held[cls][:12]:
            image, box = load(f)
            res = pipe(image)
            face = res.faces[0] if res.faces else pipe(image, boxes=np.asarray(box, np.float32)[None]).faces[0]
            r = face.extras["expression"]
            assert r.valid
            happy[cls].append(r.scores["happy"])
            # the mirror image's face scores about the same (the model saw mirrored faces)
            flipped = pipe(np.ascontiguousarray(image[:, ::-1]))
            if flipped.faces:
                flips.append(abs(flipped.faces[0].extras["expression"].scores["happy"] - r.scores["happy"]))
    assert np.mean(happy["happy"]) > np.mean(happy["neutral"]) + 0.2, happy
    assert np.median(flips) < 0.15, flips
