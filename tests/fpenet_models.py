"""Small FPENet-contract ONNX models built in the tests (no weights from anywhere else).

* :func:`random_fpenet`: a random convolution, then TAO's head: per-keypoint softmax over the
  80x80 map, soft-argmax coordinates (``softargmax``), softmax peaks (``softargmax:1``) and the
  heatmaps (``conv_keypoints_m80``).
* :func:`bright_spot_fpenet`: every keypoint is the soft-argmax of the *input* itself, i.e. the
  brightest spot of the crop. It checks crop geometry end to end: draw a spot, get it back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZE = 80


def _grid() -> np.ndarray:
    ys, xs = np.mgrid[0:SIZE, 0:SIZE]
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)  # (6400, 2): x, y pixel centres


def _head(nodes: list, inits: list, logits: str, k_src: int) -> None:
    """logits (B, k_src, 80, 80) -> heat, softargmax (B, k_src, 2), softargmax:1 (B, k_src)."""
    inits.append(numpy_helper.from_array(np.array([0, k_src, SIZE * SIZE], np.int64), "flat_shape"))
    inits.append(numpy_helper.from_array(_grid(), "grid"))
    inits.append(numpy_helper.from_array(np.array([0, k_src, SIZE, SIZE], np.int64), "map_shape"))
    nodes += [
        helper.make_node("Reshape", [logits, "flat_shape"], ["flat"]),
        helper.make_node("Softmax", ["flat"], ["prob"], axis=-1),
        helper.make_node("MatMul", ["prob", "grid"], ["xy"]),
        helper.make_node("ReduceMax", ["prob"], ["peak"], axes=[-1], keepdims=0),
        helper.make_node("Reshape", ["prob", "map_shape"], ["heat"]),
    ]


def _model(nodes: list, inits: list, inputs: list, outputs: list) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "fpenet_test", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def random_fpenet(
    path: Path,
    k: int = 68,
    *,
    batch: int | str = "N",
    input_name: str = "input_face_images",
    input_shape: tuple | None = None,
    conf_rank3: bool = False,
    outputs: tuple[str, ...] = ("conv_keypoints_m80", "softargmax", "softargmax:1"),
    seed: int = 0,
) -> Path:
    """A random-weight FPENet-contract model with ``k`` keypoints, saved to ``path``."""
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((k, 1, 3, 3)) * 2e-3).astype(np.float32)
    nodes: list = [helper.make_node("Conv", [input_name, "w"], ["logits"], pads=[1, 1, 1, 1])]
    inits = [numpy_helper.from_array(w, "w")]
    _head(nodes, inits, "logits", k)
    names = {"softargmax": "xy", "softargmax:1": "peak", "conv_keypoints_m80": "heat"}
    if conf_rank3:
        inits.append(numpy_helper.from_array(np.array([-1], np.int64), "last"))
        nodes.append(helper.make_node("Unsqueeze", ["peak", "last"], ["peak3"]))
        names["softargmax:1"] = "peak3"
    shapes = {
        "softargmax": [batch, k, 2],
        "softargmax:1": [batch, k, 1] if conf_rank3 else [batch, k],
        "conv_keypoints_m80": [batch, k, SIZE, SIZE],
    }
    outs = []
    for name in outputs:
        nodes.append(helper.make_node("Identity", [names[name]], [name]))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shapes[name]))
    shape = list(input_shape) if input_shape else [batch, 1, SIZE, SIZE]
    inp = helper.make_tensor_value_info(input_name, TensorProto.FLOAT, shape)
    onnx.save(_model(nodes, inits, [inp], outs), path)
    return path


def bright_spot_fpenet(path: Path, k: int = 68, *, beta: float = 0.5, batch: int | str = "N") -> Path:
    """A model whose ``k`` keypoints all sit at the soft-argmax of the input's brightness."""
    nodes: list = [helper.make_node("Mul", ["input_face_images", "beta"], ["logits"])]
    inits = [numpy_helper.from_array(np.array(beta, np.float32), "beta")]
    _head(nodes, inits, "logits", 1)
    inits.append(numpy_helper.from_array(np.array([1, k, 1], np.int64), "expand_pts"))
    inits.append(numpy_helper.from_array(np.array([1, k], np.int64), "expand_conf"))
    nodes += [
        helper.make_node("Expand", ["xy", "expand_pts"], ["softargmax"]),
        helper.make_node("Expand", ["peak", "expand_conf"], ["softargmax:1"]),
    ]
    inp = helper.make_tensor_value_info("input_face_images", TensorProto.FLOAT, [batch, 1, SIZE, SIZE])
    outs = [
        helper.make_tensor_value_info("softargmax", TensorProto.FLOAT, [batch, k, 2]),
        helper.make_tensor_value_info("softargmax:1", TensorProto.FLOAT, [batch, k]),
    ]
    onnx.save(_model(nodes, inits, [inp], outs), path)
    return path
