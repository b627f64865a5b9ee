"""Convert a small TFLite convolutional network (BlazeFace short range) to ONNX, in memory.

The BlazeFace weights are MediaPipe's (downloaded by the user, never shipped). Running them on
onnxruntime instead of through the MediaPipe Tasks graph removes the graph's scheduling and
image-conversion overhead (most of the detector's time on a CPU) and lets the detector use the
same execution providers as the landmark model.

Supported operators: DEQUANTIZE of constant float16 weights, CONV_2D, DEPTHWISE_CONV_2D, ADD,
RELU, RELU6, PAD, MAX_POOL_2D, RESHAPE, CONCATENATION (float32 activations). Anything else
raises :class:`~faceanalytics.core.errors.ModelFormatError` naming the operator, so callers can fall
back to MediaPipe (the sparse full-range model uses DENSIFY and stays there).

Layout: TFLite is NHWC, ONNX convolutions are NCHW. The graph input stays NHWC (``N x H x W x C``,
batch dynamic); 4-D activations are kept NCHW inside and transposed back before a RESHAPE, so
the outputs have TFLite's shapes and values.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from faceanalytics.core.errors import ModelFormatError

__all__ = ["tflite_to_onnx"]

_NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}


def _same_pads(
    in_hw: Sequence[int], kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int] = (1, 1)
) -> list[int]:
    """TensorFlow SAME padding as explicit ONNX pads ``[top, left, bottom, right]`` (extra at the end)."""
    pads_before, pads_after = [], []
    for size, k, s, d in zip(in_hw, kernel, stride, dilation, strict=True):
        out = -(-size // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        pads_before.append(total // 2)
        pads_after.append(total - total // 2)
    return pads_before + pads_after


def tflite_to_onnx(path: str | os.PathLike, channel_block: int = 1) -> bytes:
    """The serialized ONNX model equivalent to the TFLite file at ``path``.

    Args:
        channel_block: with more than 1, 4-D activations inside the network carry their channels
            rounded up to a multiple of this, the extra channels zero (weights and biases padded
            with zeros; the outputs are unchanged). onnxruntime's blocked convolutions (16 channels
            a block with AVX-512, 8 with AVX2) compute on rounded-up channels anyway; with the
            rounding explicit, BlazeFace's channel padding between layers of one block count
            (24 -> 28 -> 32 channels, ...) becomes a no-op instead of an identity convolution.

    Raises:
        ModelFormatError: unreadable file or an unsupported operator/tensor type.
    """
    try:
        import tflite
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as exc:  # pragma: no cover - both are dependencies
        raise ModelFormatError(f"converting {path} needs the 'onnx' and 'tflite' packages: {exc}") from exc

    path = Path(path)
    try:
        buf = path.read_bytes()
        model = tflite.Model.GetRootAsModel(buf, 0)
        graph = model.Subgraphs(0) if model.SubgraphsLength() else None
        one_input = graph is not None and graph.InputsLength() == 1
    except Exception as exc:  # flatbuffers raises assorted errors (struct.error, TypeError...) on garbage
        raise ModelFormatError(f"{path}: not a readable TFLite model ({type(exc).__name__}: {exc})") from exc
    if not one_input:
        raise ModelFormatError(f"{path}: not a TFLite model with one input graph")
    try:
        return _convert(tflite, helper, numpy_helper, TensorProto, model, graph, path, max(int(channel_block), 1))
    except ModelFormatError:
        raise
    except Exception as exc:  # a malformed flatbuffer surfaces as IndexError, ValueError, struct.error...
        raise ModelFormatError(f"{path}: cannot convert this TFLite model to ONNX ({type(exc).__name__}: {exc})") from exc


def _convert(tflite, helper, numpy_helper, TensorProto, model, graph, path: Path, block: int = 1) -> bytes:  # noqa: N803
    """The conversion proper (the modules are passed in: they are imported lazily)."""

    op_names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    names: dict[int, str] = {}
    consts: dict[int, np.ndarray] = {}
    nchw: set[int] = set()  # tensors held transposed (4-D activations)
    phys: dict[int, int] = {}  # channels a transposed tensor carries (its own, or rounded up to `block`)
    shapes: dict[int, tuple[int, ...]] = {}
    nodes: list = []
    inits: list = []

    def tname(i: int) -> str:
        if i not in names:
            names[i] = f"t{i}_" + graph.Tensors(i).Name().decode(errors="replace").replace("/", "_").replace(":", "_")
        return names[i]

    for i in range(graph.TensorsLength()):
        t = graph.Tensors(i)
        shapes[i] = tuple(int(v) for v in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        data = model.Buffers(t.Buffer()).DataAsNumpy()
        if t.Sparsity() is not None:  # sparse weights need DENSIFY, which is refused below
            continue
        if isinstance(data, np.ndarray) and data.size:
            dtype = {
                tflite.TensorType.FLOAT32: np.float32,
                tflite.TensorType.FLOAT16: np.float16,
                tflite.TensorType.INT32: np.int32,
            }
            if t.Type() not in dtype:
                raise ModelFormatError(f"{path}: constant tensor {t.Name()!r} has unsupported TFLite type {t.Type()}")
            consts[i] = np.frombuffer(data.tobytes(), dtype[t.Type()]).reshape(shapes[i])

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def activation(out_i: int, raw: str, fused: int) -> None:
        if fused == tflite.ActivationFunctionType.NONE:
            nodes.append(helper.make_node("Identity", [raw], [tname(out_i)]))
        elif fused == tflite.ActivationFunctionType.RELU:
            nodes.append(helper.make_node("Relu", [raw], [tname(out_i)]))
        elif fused == tflite.ActivationFunctionType.RELU6:
            bounds = [const(f"{raw}_lo", np.array(0, np.float32)), const(f"{raw}_hi", np.array(6, np.float32))]
            nodes.append(helper.make_node("Clip", [raw, *bounds], [tname(out_i)]))
        else:
            raise ModelFormatError(f"{path}: unsupported fused activation {fused}")

    def options(op, cls):
        table = op.BuiltinOptions()
        opt = cls()
        opt.Init(table.Bytes, table.Pos)
        return opt

    def wide(c: int) -> int:
        return -(-c // block) * block

    def true_channels(i: int) -> str:
        """A transposed tensor with only its own channels (a Slice when it carries extra ones)."""
        if phys.get(i, 0) == shapes[i][3]:
            return tname(i)
        name = f"{tname(i)}_sliced"
        args = [const(f"{name}_{n}", np.array(v, np.int64)) for n, v in (("lo", [0]), ("hi", [shapes[i][3]]), ("ax", [1]))]
        nodes.append(helper.make_node("Slice", [tname(i), *args], [name]))
        return name

    def op_kind(op) -> str:
        code = model.OperatorCodes(op.OpcodeIndex())
        return op_names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?")

    operators = [graph.Operators(k) for k in range(graph.OperatorsLength())]
    # tensors that a RESHAPE reads: the convolutions making them keep their own channels
    reshaped = {int(op.Inputs(0)) for op in operators if op_kind(op) == "RESHAPE" and op.InputsLength()}

    gin = graph.Inputs(0)
    in_shape = shapes[gin]
    nodes.append(helper.make_node("Transpose", ["input"], [tname(gin)], perm=[0, 3, 1, 2]))
    nchw.add(gin)
    phys[gin] = in_shape[3]

    for k, op in enumerate(operators):
        kind = op_kind(op)
        ins = [int(v) for v in op.InputsAsNumpy()] if op.InputsLength() else []
        out = int(op.Outputs(0))
        if kind == "DEQUANTIZE":
            if ins[0] not in consts:
                raise ModelFormatError(f"{path}: DEQUANTIZE of a non-constant tensor is not supported")
            consts[out] = consts[ins[0]].astype(np.float32)
        elif kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            x, w = ins[0], ins[1]
            weight = consts[w]
            src, cin = tname(x), phys.get(x, shapes[x][3])
            if kind == "CONV_2D":
                opt = options(op, tflite.Conv2DOptions)
                kernel = weight.transpose(0, 3, 1, 2)  # OHWI -> OIHW
                group = 1
                cout = kernel.shape[0] if out in reshaped else wide(kernel.shape[0])
                kernel = np.pad(kernel, ((0, cout - kernel.shape[0]), (0, cin - kernel.shape[1]), (0, 0), (0, 0)))
            else:
                opt = options(op, tflite.DepthwiseConv2DOptions)
                kernel = weight.transpose(3, 0, 1, 2)  # 1HW(C*M) -> (C*M)1HW
                if kernel.shape[0] != shapes[x][3]:  # a channel multiplier: on the tensor's own channels
                    src, cin = true_channels(x), shapes[x][3]
                group = cin
                cout = cin if kernel.shape[0] == shapes[x][3] else kernel.shape[0]
                kernel = np.pad(kernel, ((0, cout - kernel.shape[0]), (0, 0), (0, 0), (0, 0)))
            stride = (opt.StrideH(), opt.StrideW())
            dil = (opt.DilationHFactor() or 1, opt.DilationWFactor() or 1)
            ksize = kernel.shape[2:]
            pads = _same_pads(shapes[x][1:3], ksize, stride, dil) if opt.Padding() == tflite.Padding.SAME else [0, 0, 0, 0]
            inputs = [src, const(f"w{k}", kernel.astype(np.float32))]
            if len(ins) > 2 and ins[2] >= 0:
                bias = consts[ins[2]].astype(np.float32)
                inputs.append(const(f"b{k}", np.pad(bias, (0, cout - len(bias)))))
            raw = f"conv{k}"
            nodes.append(
                helper.make_node("Conv", inputs, [raw], strides=list(stride), pads=pads, dilations=list(dil), group=group)
            )
            activation(out, raw, opt.FusedActivationFunction())
            nchw.add(out)
            phys[out] = cout
        elif kind == "ADD":
            opt = options(op, tflite.AddOptions)
            same = len({phys.get(i) for i in ins}) == 1 and all(i in nchw for i in ins)
            own = [tname(i) if same or i not in nchw else true_channels(i) for i in ins]  # equal channels
            a, b = (const(f"c{k}_{i}", consts[i]) if i in consts else name for i, name in zip(ins, own, strict=True))
            raw = f"add{k}"
            nodes.append(helper.make_node("Add", [a, b], [raw]))
            activation(out, raw, opt.FusedActivationFunction())
            if ins[0] in nchw:
                nchw.add(out)
                phys[out] = phys[ins[0]] if same else shapes[out][3]
        elif kind in ("RELU", "RELU6"):
            fused = tflite.ActivationFunctionType.RELU if kind == "RELU" else tflite.ActivationFunctionType.RELU6
            activation(out, tname(ins[0]), fused)
            if ins[0] in nchw:
                nchw.add(out)
                phys[out] = phys[ins[0]]
        elif kind == "PAD":
            p = consts[ins[1]].reshape(-1, 2)  # NHWC (before, after) per axis
            if ins[0] not in nchw:
                raise ModelFormatError(f"{path}: PAD of a non-4-D tensor is not supported")
            cin, cout = phys[ins[0]], shapes[out][3]
            if not p[:3].any() and p[3, 0] == 0 and wide(cout) == cin:
                # zero channels appended within the rounded-up channels: they are there already
                nodes.append(helper.make_node("Identity", [tname(ins[0])], [tname(out)]))
                phys[out] = cin
            elif not p[:3].any() and p[3, 0] == 0:
                # zero channels appended (BlazeFace's residual shortcuts): a 1x1 convolution with an
                # identity block keeps onnxruntime's blocked conv layout, where a Pad forces reorders
                eye = np.zeros((wide(cout), cin, 1, 1), np.float32)
                eye[np.arange(cin), np.arange(cin)] = 1.0
                nodes.append(helper.make_node("Conv", [tname(ins[0]), const(f"padw{k}", eye)], [tname(out)]))
                phys[out] = wide(cout)
            else:
                order = [0, 3, 1, 2]
                pads = [int(p[a, 0]) for a in order] + [int(p[a, 1]) for a in order]
                src = true_channels(ins[0]) if p[3].any() else tname(ins[0])
                nodes.append(helper.make_node("Pad", [src, const(f"pads{k}", np.array(pads, np.int64))], [tname(out)]))
                phys[out] = shapes[out][3] if p[3].any() else phys[ins[0]]
            nchw.add(out)
        elif kind == "MAX_POOL_2D":
            opt = options(op, tflite.Pool2DOptions)
            ksize, stride = (opt.FilterHeight(), opt.FilterWidth()), (opt.StrideH(), opt.StrideW())
            pads = _same_pads(shapes[ins[0]][1:3], ksize, stride) if opt.Padding() == tflite.Padding.SAME else [0, 0, 0, 0]
            raw = f"pool{k}"
            pool = helper.make_node("MaxPool", [tname(ins[0])], [raw], kernel_shape=list(ksize), strides=list(stride), pads=pads)
            nodes.append(pool)
            activation(out, raw, opt.FusedActivationFunction())
            nchw.add(out)
            phys[out] = phys[ins[0]]
        elif kind == "RESHAPE":
            src = tname(ins[0])
            if ins[0] in nchw:
                src = true_channels(ins[0])
                nodes.append(helper.make_node("Transpose", [src], [f"nhwc{k}"], perm=[0, 2, 3, 1]))
                src = f"nhwc{k}"
            new_shape = np.array([0, *shapes[out][1:]], np.int64)  # 0: keep the (dynamic) batch
            nodes.append(helper.make_node("Reshape", [src, const(f"shape{k}", new_shape)], [tname(out)]))
        elif kind == "CONCATENATION":
            opt = options(op, tflite.ConcatenationOptions)
            axis = opt.Axis() % len(shapes[out])
            if all(i in nchw for i in ins):
                axis = _NHWC_TO_NCHW_AXIS[axis]
                nchw.add(out)
            elif any(i in nchw for i in ins):
                raise ModelFormatError(f"{path}: CONCATENATION of mixed layouts is not supported")
            raw = f"concat{k}"
            parts = [true_channels(i) if i in nchw else tname(i) for i in ins]
            nodes.append(helper.make_node("Concat", parts, [raw], axis=axis))
            activation(out, raw, opt.FusedActivationFunction())
            if out in nchw:
                phys[out] = shapes[out][3]
        else:
            raise ModelFormatError(f"{path}: TFLite operator {kind} is not supported by the ONNX conversion")

    outputs = []
    for j in range(graph.OutputsLength()):
        o = graph.Outputs(j)
        if o in nchw:
            raise ModelFormatError(f"{path}: 4-D graph outputs are not supported")
        oname = graph.Tensors(o).Name().decode(errors="replace")
        nodes.append(helper.make_node("Identity", [tname(o)], [oname]))
        outputs.append(helper.make_tensor_value_info(oname, TensorProto.FLOAT, ["N", *shapes[o][1:]]))
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *in_shape[1:]])
    onnx_graph = helper.make_graph(nodes, path.stem, [inp], outputs, inits)
    opset = [helper.make_opsetid("", 17)]
    proto = helper.make_model(onnx_graph, opset_imports=opset, producer_name="faceanalytics.runtime.tflite_onnx")
    proto.ir_version = 8
    return proto.SerializeToString()
