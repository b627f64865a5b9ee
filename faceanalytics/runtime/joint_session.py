"""One onnxruntime session for several models, so that on the CPU they share one thread pool.

Every onnxruntime session owns a pool of worker threads, and the workers spin for a moment after
each run, waiting for more work. Image mode runs the detector and then the landmark model on every
frame; with a pool each, the two pools spin against each other on a small machine. On 2 cores
that cost more than a second detector thread gains (docs/performance.md), so the detector used to
run on one thread: 0.64 ms a frame instead of 0.40.

:func:`share_cpu_threads` puts the models under one ``If`` node (one branch per model, chosen by
an index input) in one session, and gives each runner a :class:`JointMember` that behaves like the
subset of ``onnxruntime.InferenceSession`` they use. A call runs only its own branch, and both
models now use the same spinning threads. (onnxruntime's process-wide pools,
``set_global_thread_pool_sizes``, would share threads too, but every other session in the process,
the application's own included, would then have to give up its private pool.)

Joining is an optimisation, never a requirement: models on a GPU, models of different opsets, and
models whose outputs are not all float tensors of the same count keep their own sessions.
Numerically, onnxruntime optimises a branch almost as it optimises the model alone: the converted
BlazeFace gives the same outputs to within 3e-5 (of its 128-pixel input; float rounding of a
differently fused graph), the landmark model identical ones.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import onnxruntime as ort

from faceanalytics.core.errors import ParameterError
from faceanalytics.runtime.device import create_session

__all__ = ["JointMember", "JointSession", "share_cpu_threads"]

logger = logging.getLogger("faceanalytics")

_SELECT = "faceanalytics_joint_select"
_CPU = "CPUExecutionProvider"
_TYPES = {1: "float", 10: "float16", 11: "double", 6: "int32", 7: "int64", 2: "uint8", 3: "int8", 9: "bool"}
_FLOAT = "tensor(float)"


class JoinableRunner(Protocol):
    """What :func:`share_cpu_threads` needs of a model runner."""

    session: Any  # an onnxruntime.InferenceSession (replaced by a JointMember)

    @property
    def onnx_model(self) -> str | os.PathLike | bytes:
        """The model the session was created from."""


@dataclass(frozen=True)
class _NodeInfo:
    """Name, shape and type of a model input or output (as ``onnxruntime.NodeArg`` reports them)."""

    name: str
    shape: list[int | str | None]
    type: str


class JointMember:
    """One model of a :class:`JointSession`, with the ``InferenceSession`` methods the runners use:
    ``run``, ``get_inputs``, ``get_outputs``, ``get_providers``."""

    def __init__(self, joint: JointSession, index: int, inputs: list[_NodeInfo], outputs: list[_NodeInfo]) -> None:
        self.joint, self.index = joint, index
        self._inputs, self._outputs = inputs, outputs
        self._output_index = {o.name: i for i, o in enumerate(outputs)}
        self._select = np.array(index, np.int64)

    def run(self, output_names: Sequence[str] | None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        names = list(output_names) if output_names else [o.name for o in self._outputs]
        unknown = [n for n in names if n not in self._output_index]
        if unknown or set(feeds) != {i.name for i in self._inputs}:
            raise ParameterError(f"model {self.index} of a joint session: outputs {names}, inputs {sorted(feeds)}")
        full = dict(self.joint.idle_feeds)
        full[_SELECT] = self._select
        for name, value in feeds.items():
            full[self.joint.outer_name(self.index, name)] = value
        outs = self.joint.session.run(None, full)
        return [outs[self._output_index[n]] for n in names]

    def get_inputs(self) -> list[_NodeInfo]:
        return list(self._inputs)

    def get_outputs(self) -> list[_NodeInfo]:
        return list(self._outputs)

    def get_providers(self) -> list[str]:
        return self.joint.session.get_providers()

    def __repr__(self) -> str:
        return f"JointMember(model {self.index} of {len(self.joint.members)}, providers={self.get_providers()})"


class JointSession:
    """Several ONNX models in one CPU onnxruntime session (see the module docstring).

    Args:
        models: ONNX files or serialized models.
        threads: the session's intra-op threads; ``None``: onnxruntime's default (one per
            physical core).

    Raises:
        ParameterError: the models cannot be joined (the message says why; a ``ValueError``).
        ModelFormatError: onnxruntime cannot load the joint model.
    """

    def __init__(self, models: Sequence[str | os.PathLike | bytes], threads: int | None = None) -> None:
        import onnx  # a runtime dependency (the detector's conversion uses it); imported when needed

        protos = [onnx.load_from_string(m) if isinstance(m, bytes) else onnx.load(os.fspath(m)) for m in models]
        if len(protos) < 2:
            raise ParameterError("a joint session needs at least two models")
        imports = _opset_imports(protos)
        counts = {len(p.graph.output) for p in protos}
        if len(counts) != 1:
            raise ParameterError(f"the models have different numbers of outputs: {[len(p.graph.output) for p in protos]}")
        self.members: list[JointMember] = []
        branches = []
        outer_inputs = [onnx.helper.make_tensor_value_info(_SELECT, onnx.TensorProto.INT64, [])]
        self.idle_feeds: dict[str, np.ndarray] = {}
        for k, proto in enumerate(protos):
            outputs = [_info(v) for v in proto.graph.output]
            if any(o.type != _FLOAT for o in outputs):
                raise ParameterError(f"model {k} has outputs that are not float tensors")
            inputs = _model_inputs(proto.graph)
            for v in inputs:
                elem = v.type.tensor_type.elem_type
                name = self.outer_name(k, v.name)
                # The model's own input shape, its fixed sizes kept: onnxruntime optimises a branch
                # with the shapes it can infer, and with every size unknown it fuses less (BlazeFace
                # kept 16 Add and ReLU nodes out of its convolutions, 45 µs a run).
                shape = v.type.tensor_type.shape.dim
                dims = [d.dim_value if d.HasField("dim_value") else f"{name}_{j}" for j, d in enumerate(shape)]
                outer_inputs.append(onnx.helper.make_tensor_value_info(name, elem, dims))
                dtype = onnx.helper.tensor_dtype_to_np_dtype(elem)
                # what a branch that does not run gets: empty where a size may vary (a fully fixed
                # shape gets zeros of that shape, made once)
                self.idle_feeds[name] = np.zeros([0 if isinstance(d, str) else d for d in dims], dtype)
            branches.append(_branch(proto, k, self))
            self.members.append(JointMember(self, k, [_info(v) for v in inputs], outputs))
        n_out = counts.pop()
        outs = [f"faceanalytics_joint_out{j}" for j in range(n_out)]
        # If(select == 0, model 0, If(select == 1, model 1, ... model n-1)), producing ``outs``
        nodes = list(_select_graph(branches, 0, outs).node)
        outer_outputs = [onnx.helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None) for o in outs]
        graph = onnx.helper.make_graph(nodes, "faceanalytics_joint", outer_inputs, outer_outputs)
        model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid(d, v) for d, v in imports.items()])
        model.ir_version = min(p.ir_version for p in protos)
        self.session = create_session(model.SerializeToString(), "cpu", threads, label="joint session")

    @staticmethod
    def outer_name(index: int, name: str) -> str:
        return f"m{index}/{name}"


def _opset_imports(protos: Sequence[Any]) -> dict[str, int]:
    """The joint model's opsets: each operator domain that a model's nodes use, at the version
    every model declares for it (the same for all, else the models cannot be joined)."""
    joint: dict[str, int] = {}
    for k, proto in enumerate(protos):
        declared = {o.domain: o.version for o in proto.opset_import}
        declared[""] = declared.get("", declared.pop("ai.onnx", 0))
        used = {n.domain if n.domain != "ai.onnx" else "" for n in proto.graph.node} | {""}
        for domain in used:
            version = declared.get(domain)
            if version is None:
                raise ParameterError(f"model {k} uses operator domain {domain!r} without declaring its opset")
            if joint.setdefault(domain, version) != version:
                raise ParameterError(f"the models use opset {joint[domain]} and {version} of domain {domain or 'ai.onnx'!r}")
    return joint


def _model_inputs(graph: Any) -> list[Any]:
    """The graph's real inputs (older exporters also list the initializers as inputs)."""
    weights = {t.name for t in graph.initializer}
    return [v for v in graph.input if v.name not in weights]


def _info(value: Any) -> _NodeInfo:
    tensor = value.type.tensor_type
    dims: list[int | str | None] = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim]
    return _NodeInfo(value.name, dims, f"tensor({_TYPES.get(tensor.elem_type, tensor.elem_type)})")


def _branch(proto: Any, index: int, joint: JointSession) -> Any:
    """The model's graph as an ``If`` branch: its inputs come from the outer graph, every other
    name is prefixed so that branches cannot clash, and its outputs keep their order."""
    import onnx

    graph = proto.graph
    inputs = {v.name for v in _model_inputs(graph)}

    def rename(name: str) -> str:
        if not name:
            return name
        return joint.outer_name(index, name) if name in inputs else f"b{index}/{name}"

    nodes = []
    for n, node in enumerate(graph.node):
        new = onnx.NodeProto()
        new.CopyFrom(node)
        new.name = f"b{index}/{n}/{node.name}"
        new.input[:] = [rename(i) for i in node.input]
        new.output[:] = [rename(o) for o in node.output]
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            raise ParameterError(f"model {index} has control flow ({node.op_type}); it keeps its own session")
        nodes.append(new)
    inits = []
    for t in graph.initializer:
        new_t = onnx.TensorProto()
        new_t.CopyFrom(t)
        new_t.name = rename(t.name)
        inits.append(new_t)
    outs = [onnx.helper.make_tensor_value_info(rename(o.name), o.type.tensor_type.elem_type, None) for o in graph.output]
    return onnx.helper.make_graph(nodes, f"branch{index}", [], outs, initializer=inits)


def _select_graph(branches: list[Any], k: int, targets: list[str]) -> Any:
    import onnx

    if k == len(branches) - 1:
        return _with_outputs(branches[k], targets)
    cond = f"faceanalytics_joint_is{k}"
    index = onnx.helper.make_tensor(f"{cond}_value", onnx.TensorProto.INT64, [], [k])
    nodes = [
        onnx.helper.make_node("Constant", [], [f"{cond}_index"], value=index),
        onnx.helper.make_node("Equal", [_SELECT, f"{cond}_index"], [cond]),
        onnx.helper.make_node(
            "If",
            [cond],
            targets,
            then_branch=_with_outputs(branches[k], [f"{t}_b{k}" for t in targets]),
            else_branch=_select_graph(branches, k + 1, [f"{t}_r{k}" for t in targets]),
        ),
    ]
    outs = [onnx.helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None) for t in targets]
    return onnx.helper.make_graph(nodes, f"select{k}", [], outs)


def _with_outputs(graph: Any, names: list[str]) -> Any:
    """``graph`` with Identity nodes copying its outputs to ``names``."""
    import onnx

    copies = [onnx.helper.make_node("Identity", [o.name], [t]) for o, t in zip(graph.output, names, strict=True)]
    nodes = [*graph.node, *copies]
    outs = [onnx.helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None) for t in names]
    return onnx.helper.make_graph(nodes, graph.name, [], outs, initializer=list(graph.initializer))


def share_cpu_threads(runners: Sequence[JoinableRunner], threads: int | None = None) -> bool:
    """Give ``runners`` one joint session with a pool of ``threads`` (``None``: onnxruntime's
    default) when they all run on the CPU alone; returns whether they were joined."""
    if len(runners) < 2:
        return False
    for r in runners:
        session = getattr(r, "session", None)
        if not isinstance(session, ort.InferenceSession) or session.get_providers() != [_CPU]:
            return False
    try:
        joint = JointSession([r.onnx_model for r in runners], threads)
    except Exception as exc:  # onnx, onnxruntime or ValueError: joining is only an optimisation
        logger.debug("models keep their own onnxruntime sessions: %s", exc)
        return False
    for runner, member in zip(runners, joint.members, strict=True):
        runner.session = member
    logger.debug("%d models share one onnxruntime session (one CPU thread pool)", len(runners))
    return True
