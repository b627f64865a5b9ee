"""Where models run: the one place that turns ``device=`` into onnxruntime providers.

``device`` is ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"tensorrt"`` (TensorRT with
FP16 and an engine cache, then CUDA, then CPU) or an explicit onnxruntime providers list
(names or ``(name, options)`` pairs), passed through unchanged.

A GPU provider is used only after it has run a test inference (:func:`check_provider`): compiled
into onnxruntime is not enough (``onnxruntime-gpu`` lists CUDA and TensorRT on machines without a
GPU). The check looks for the NVIDIA driver first, then runs a one-node model on the provider in a
child process, whose native error output (missing ``libcublasLt`` and the like) it keeps to
itself; the answer is kept for the life of the process. ``auto`` uses CUDA when it passes, else
the CPU, quietly (one DEBUG line). An explicit GPU request that cannot be met logs one WARNING
line per process with the reason, and runs on the CPU. The active providers of a session are
``session.get_providers()``, shown to users as ``Pipeline.providers``; ``faceanalytics info``
shows every provider's check.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort

from faceanalytics.core.errors import DeviceError, ModelFormatError

__all__ = ["Device", "ProviderCheck", "check_provider", "create_session", "resolve_providers"]

logger = logging.getLogger("faceanalytics")

ProviderSpec = str | tuple[str, dict[str, Any]]
Device = str | Sequence[ProviderSpec]

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
_CUDA_RE = re.compile(r"^cuda(?::(\d+))?$")
_GPU_PROVIDERS = (TENSORRT, CUDA)


@dataclass(frozen=True)
class ProviderCheck:
    """Whether an onnxruntime execution provider really runs here.

    Attributes:
        name: provider name, e.g. ``"CUDAExecutionProvider"``.
        compiled: this onnxruntime build lists it (``onnxruntime.get_available_providers()``).
        works: a one-node test model ran on it and gave the right answer.
        reason: why it does not work (empty when it does).
    """

    name: str
    compiled: bool
    works: bool
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"compiled": self.compiled, "works": self.works, "reason": self.reason}


_checks: dict[str, ProviderCheck] = {}
_checks_lock = threading.Lock()

# Run in a child process: a failing GPU provider prints its native errors there, not here.
_PROBE = """
import json, sys
import numpy as np, onnxruntime as ort
name = sys.argv[1]
opts = ort.SessionOptions()
opts.log_severity_level = 3
s = ort.InferenceSession(sys.stdin.buffer.read(), sess_options=opts, providers=[name, "CPUExecutionProvider"])
y = s.run(None, {"x": np.arange(4, dtype=np.float32).reshape(1, 4)})[0]
print(json.dumps({"providers": s.get_providers(), "ok": bool(np.allclose(y, [[1, 2, 3, 4]]))}))
"""


def _probe_model() -> bytes:
    """A one-node ONNX model (``y = x + 1``), serialized."""
    from onnx import TensorProto, helper

    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["y"])],
        "probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [one],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8).SerializeToString()


def _nvidia_driver() -> str:
    """Empty when the NVIDIA driver library loads, else why not."""
    names = {"linux": ("libcuda.so.1", "libcuda.so"), "win32": ("nvcuda.dll",)}.get(sys.platform, ())
    if not names:
        return f"no CUDA on {sys.platform}"
    for name in names:
        try:
            ctypes.CDLL(name)
            return ""
        except OSError:
            continue
    return f"no NVIDIA driver ({names[0]} not found)"


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _first_error(stderr: str) -> str:
    lines = [_ANSI.sub("", line).strip() for line in stderr.splitlines() if line.strip()]
    for key in (".so", ".dll", "Error", "error", "Failed", "failed"):
        for line in lines:
            if key in line:
                return line.rsplit("with error: ", 1)[-1][-240:]
    return lines[-1][-240:] if lines else "no output"


def _run_probe(name: str) -> ProviderCheck:
    driver = _nvidia_driver()
    if driver:
        return ProviderCheck(name, True, False, driver)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, name], input=_probe_model(), capture_output=True, timeout=300, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return ProviderCheck(name, True, False, f"test inference could not start: {exc}")
    out = done.stdout.decode(errors="replace").strip().splitlines()
    try:
        answer = json.loads(out[-1]) if out else {}
    except ValueError:
        answer = {}
    if done.returncode != 0 or not answer:
        return ProviderCheck(name, True, False, _first_error(done.stderr.decode(errors="replace")))
    if answer["providers"][0] != name or not answer["ok"]:
        return ProviderCheck(name, True, False, _first_error(done.stderr.decode(errors="replace")))
    return ProviderCheck(name, True, True)


def check_provider(name: str) -> ProviderCheck:
    """Whether provider ``name`` runs a test inference here (checked once per process).

    The CPU provider always does. A GPU provider must be compiled into this onnxruntime, find
    the NVIDIA driver, and run a one-node model in a child process (a second or so with CUDA;
    longer with TensorRT, which builds an engine). Other providers are taken as working when
    compiled in: onnxruntime itself falls back to the CPU if they fail.
    """
    with _checks_lock:
        cached = _checks.get(name)
        if cached is not None:
            return cached
        if name not in ort.get_available_providers():
            result = ProviderCheck(name, False, False, f"not in this onnxruntime build ({_build_name()})")
        elif name in _GPU_PROVIDERS:
            result = _run_probe(name)
        else:
            result = ProviderCheck(name, True, True)
        _checks[name] = result
        logger.debug("provider check: %s", result)
        return result


def _build_name() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        for dist in ("onnxruntime-gpu", "onnxruntime"):
            try:
                return f"{dist} {version(dist)}"
            except PackageNotFoundError:
                continue
    except ImportError:  # pragma: no cover
        pass
    return f"onnxruntime {ort.__version__}"


def _trt_cache_dir() -> str:
    from faceanalytics.runtime.hub import home  # local import: hub imports nothing from here, but keep start-up light

    path = home() / "tensorrt"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a read-only cache (e.g. a shared models folder)
        path = Path(tempfile.gettempdir()) / "faceanalytics-tensorrt"
        path.mkdir(parents=True, exist_ok=True)
        logger.warning("cannot create the TensorRT engine cache in %s (%s); using %s", home(), exc, path)
    return str(path)


def resolve_providers(device: Device) -> list[ProviderSpec]:
    """The onnxruntime providers list for ``device``, most preferred first.

    Raises:
        DeviceError: for an unknown device string or a malformed providers list.
    """
    if isinstance(device, str):
        d = device.strip().lower()
        if d == "cpu":
            return [CPU]
        if d == "auto":
            return [CUDA, CPU] if check_provider(CUDA).works else [CPU]
        m = _CUDA_RE.match(d)
        if m:
            return [(CUDA, {"device_id": int(m.group(1) or 0)}), CPU]
        if d == "tensorrt":
            trt = {"trt_fp16_enable": True, "trt_engine_cache_enable": True, "trt_engine_cache_path": _trt_cache_dir()}
            return [(TENSORRT, trt), CUDA, CPU]
        raise DeviceError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda', 'cuda:N', 'tensorrt' or a providers list")
    if isinstance(device, Sequence) and len(device) > 0:
        out: list[ProviderSpec] = []
        for p in device:
            if isinstance(p, str):
                out.append(p)
            elif isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], dict):
                out.append((p[0], dict(p[1])))
            else:
                raise DeviceError(f"providers list entries must be names or (name, options) pairs; got {p!r}")
        return out
    raise DeviceError(f"device must be a string or a non-empty providers list; got {device!r}")


def _name(p: ProviderSpec) -> str:
    return p if isinstance(p, str) else p[0]


_warned: set[tuple[str, str]] = set()


def create_session(
    model: str | os.PathLike | bytes, device: Device = "auto", threads: int | None = None, *, label: str | None = None
) -> ort.InferenceSession:
    """An onnxruntime session for ``model`` (a path or serialized bytes) on ``device``.

    Providers that fail :func:`check_provider` are left out before onnxruntime sees them, so a
    missing GPU costs one warning line (once per process and reason), not onnxruntime's native
    error output.

    Args:
        threads: intra-op threads; ``None`` lets onnxruntime choose (one per physical core).
        label: the model's name in messages (default: its path, or ``<bytes>``).

    Raises:
        DeviceError: bad ``device`` or ``threads``.
        ModelFormatError: onnxruntime cannot load the file.
    """
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise DeviceError(f"threads must be a positive integer or None; got {threads!r}")
    providers = resolve_providers(device)
    wanted: list[ProviderSpec] = []
    refused: list[ProviderCheck] = []
    for p in providers:
        check = ProviderCheck(CPU, True, True) if _name(p) == CPU else check_provider(_name(p))
        if check.works:
            wanted.append(p)
        else:
            refused.append(check)
    if not wanted:
        wanted = [CPU]
    if refused:
        quiet = isinstance(device, str) and device.strip().lower() == "auto"
        reasons = "; ".join(f"{c.name}: {c.reason}" for c in refused)
        if not quiet and (str(device), reasons) not in _warned:
            _warned.add((str(device), reasons))
            logger.warning("device=%r cannot run here (%s); running on %s", device, reasons, ", ".join(map(_name, wanted)))

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.inter_op_num_threads = 1
    if threads is not None:
        opts.intra_op_num_threads = threads
    source: str | bytes = model if isinstance(model, bytes) else os.fspath(model)
    if label is None:
        label = "<bytes>" if isinstance(source, bytes) else str(Path(source))
    try:
        session = ort.InferenceSession(source, sess_options=opts, providers=wanted)
    except Exception as exc:  # onnxruntime raises its own pybind exception types
        raise ModelFormatError(
            f"onnxruntime cannot load model {label}: {exc}. The file is not a complete ONNX model (truncated or corrupt "
            "copy, or another format such as .tflite or .pt): copy or export it again"
        ) from exc
    active = session.get_providers()
    if active[0] != _name(wanted[0]):  # a provider that passed its check and still failed on this model
        logger.warning("device=%r: %s runs on %s (providers: %s)", device, label, active[0], active)
    logger.debug("%s runs on %s", label, active)
    return session
