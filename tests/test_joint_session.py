"""One onnxruntime session for the detector and the landmark model (faceanalytics.runtime.joint_session)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from fpenet_models import random_fpenet
from onnx import TensorProto, helper, numpy_helper

from faceanalytics import BlazeFaceDetector, Pipeline
from faceanalytics.runtime.hub import landmark_model_path
from faceanalytics.runtime.joint_session import JointMember, JointSession, share_cpu_threads
from faceanalytics.runtime.registry import DEFAULT_LANDMARK_MODEL
from faceanalytics.runtime.tflite_onnx import tflite_to_onnx

CPU = ["CPUExecutionProvider"]


def _scale_model(
    path, factor: float, opset: int = 13, out_type: int = TensorProto.FLOAT, n_out: int = 2, batch: int | str = "N"
) -> str:
    """x (batch, 3) float -> n_out outputs: x * factor, x * 2 * factor, ..."""
    nodes, inits, outs = [], [], []
    for j in range(n_out):
        inits.append(numpy_helper.from_array(np.array(factor * (j + 1), np.float32), f"f{j}"))
        nodes.append(helper.make_node("Mul", ["x", f"f{j}"], [f"m{j}"]))
        if out_type == TensorProto.FLOAT:
            nodes.append(helper.make_node("Identity", [f"m{j}"], [f"y{j}"]))
        else:
            nodes.append(helper.make_node("Cast", [f"m{j}"], [f"y{j}"], to=out_type))
        outs.append(helper.make_tensor_value_info(f"y{j}", out_type, [batch, 3]))
    graph = helper.make_graph(nodes, "scale", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3])], outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, path)
    return str(path)


def _runner(model):
    session = ort.InferenceSession(model if isinstance(model, bytes) else str(model), providers=CPU)
    return SimpleNamespace(session=session, onnx_model=model)


def test_each_member_runs_its_own_model(tmp_path):
    a, b = random_fpenet(tmp_path / "a.onnx", 68, seed=1), random_fpenet(tmp_path / "b.onnx", 80, seed=2)
    c = _scale_model(tmp_path / "c.onnx", 3.0, n_out=3)
    joint = JointSession([a, b])
    crops = np.random.default_rng(0).uniform(0, 255, (3, 1, 80, 80)).astype(np.float32)
    for member, path in zip(joint.members, (a, b), strict=True):
        alone = ort.InferenceSession(str(path), providers=CPU)
        want = alone.run(["softargmax", "softargmax:1"], {"input_face_images": crops})
        got = member.run(["softargmax", "softargmax:1"], {"input_face_images": crops})
        for w, g in zip(want, got, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-5)
        assert [i.name for i in member.get_inputs()] == ["input_face_images"]
        assert {o.name: o.type for o in member.get_outputs()}["softargmax"] == "tensor(float)"
        assert member.get_providers() == CPU
    assert joint.members[1].run(["softargmax:1"], {"input_face_images": crops})[0].shape == (3, 80)
    # three models, outputs in any order requested
    three = JointSession([_scale_model(tmp_path / "s1.onnx", 1.0, n_out=3), _scale_model(tmp_path / "s2.onnx", 10.0, n_out=3), c])
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    for member, f in zip(three.members, (1.0, 10.0, 3.0), strict=True):
        y2, y0 = member.run(["y2", "y0"], {"x": x})
        np.testing.assert_allclose(y0, x * f)
        np.testing.assert_allclose(y2, x * 3 * f)
    with pytest.raises(ValueError):
        three.members[0].run(["nope"], {"x": x})
    with pytest.raises(ValueError):
        three.members[0].run(None, {"y": x})


def test_the_joint_inputs_keep_each_models_fixed_sizes(tmp_path):
    """onnxruntime optimises a branch with the shapes it can infer: the outer inputs keep the
    models' fixed sizes (a BlazeFace branch with all sizes unknown kept 16 Add and ReLU nodes out
    of its convolutions). A branch that does not run gets an empty input, or zeros when its shape
    is fixed throughout."""
    a = random_fpenet(tmp_path / "a.onnx", 68, seed=1)
    fixed = _scale_model(tmp_path / "fixed.onnx", 2.0, n_out=3, batch=2)
    joint = JointSession([a, fixed])
    shapes = {i.name: i.shape for i in joint.session.get_inputs()}
    assert isinstance(shapes["m0/input_face_images"][0], str) and shapes["m0/input_face_images"][1:] == [1, 80, 80]
    assert shapes["m1/x"] == [2, 3]
    assert joint.idle_feeds["m0/input_face_images"].shape == (0, 1, 80, 80)
    assert joint.idle_feeds["m1/x"].shape == (2, 3)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(joint.members[1].run(None, {"x": x})[0], 2 * x)
    crops = np.random.default_rng(0).uniform(0, 255, (1, 1, 80, 80)).astype(np.float32)
    assert joint.members[0].run(["softargmax"], {"input_face_images": crops})[0].shape == (1, 68, 2)


@pytest.mark.parametrize(
    "case",
    ["opset", "output type", "output count", "one model", "gpu session"],
)
def test_models_that_cannot_share_keep_their_sessions(tmp_path, case):
    a = _scale_model(tmp_path / "a.onnx", 1.0)
    b = {
        "opset": lambda: _scale_model(tmp_path / "b.onnx", 2.0, opset=17),
        "output type": lambda: _scale_model(tmp_path / "b.onnx", 2.0, out_type=TensorProto.INT64),
        "output count": lambda: _scale_model(tmp_path / "b.onnx", 2.0, n_out=3),
    }.get(case, lambda: _scale_model(tmp_path / "b.onnx", 2.0))()
    runners = [_runner(a), _runner(b)]
    if case == "one model":
        runners = runners[:1]
    if case == "gpu session":
        runners[0].session = SimpleNamespace(get_providers=lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    before = [r.session for r in runners]
    assert share_cpu_threads(runners) is False
    assert [r.session for r in runners] == before
    if case in ("opset", "output type", "output count"):
        with pytest.raises(ValueError):
            JointSession([a, b])


def test_runners_share_one_session_and_give_the_same_outputs(tmp_path):
    a, b = _scale_model(tmp_path / "a.onnx", 1.5), _scale_model(tmp_path / "b.onnx", -2.0)
    runners = [_runner(a), _runner(b)]
    x = np.ones((4, 3), np.float32)
    want = [r.session.run(None, {"x": x}) for r in runners]
    assert share_cpu_threads(runners, threads=1) is True
    assert all(isinstance(r.session, JointMember) for r in runners)
    assert runners[0].session.joint is runners[1].session.joint
    for r, w in zip(runners, want, strict=True):
        for got, expected in zip(r.session.run(None, {"x": x}), w, strict=True):
            np.testing.assert_array_equal(got, expected)


def test_the_pipeline_joins_its_detector_and_landmark_model(detector_home, astronaut):
    joined = Pipeline(device="cpu")
    separate = Pipeline(device="cpu", detector=BlazeFaceDetector(device="cpu"))  # the caller's detector: not joined
    assert isinstance(joined.landmarker.session, ort.InferenceSession)  # until the detector exists
    assert joined.detector is not None and separate.detector is not None  # created on first use
    assert isinstance(joined.landmarker.session, JointMember)
    assert joined.detector.onnx_runner.session.joint is joined.landmarker.session.joint
    assert isinstance(separate.landmarker.session, ort.InferenceSession)
    assert joined.providers == ("CPUExecutionProvider",)
    a, b = joined(astronaut), separate(astronaut)
    assert len(a.faces) == len(b.faces) == 1
    np.testing.assert_allclose(a.faces[0].box, b.faces[0].box, atol=1e-3)
    np.testing.assert_allclose(a.faces[0].landmarks, b.faces[0].landmarks, atol=1e-3)
    assert a.faces[0].head_pose.yaw == pytest.approx(b.faces[0].head_pose.yaw, abs=1e-3)


def test_the_converted_detector_and_the_shipped_model_join_exactly(detector_home):
    det = tflite_to_onnx(detector_home / "face_detection_short_range.tflite")
    lm, _ = landmark_model_path(DEFAULT_LANDMARK_MODEL)
    joint = JointSession([det, lm])
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (1, 128, 128, 3)).astype(np.float32)
    crops = rng.uniform(0, 255, (2, 1, 80, 80)).astype(np.float32)
    for member, model, feed in ((joint.members[0], det, {"input": x}), (joint.members[1], str(lm), {"input_face_images": crops})):
        alone = ort.InferenceSession(model, providers=CPU)
        for got, want in zip(member.run(None, feed), alone.run(None, feed), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
