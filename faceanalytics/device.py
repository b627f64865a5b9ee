"""Where models run: the one place that turns ``device=`` into onnxruntime providers.

``device`` is ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"tensorrt"`` (TensorRT with
FP16 and an engine cache, then CUDA, then CPU) or an explicit onnxruntime providers list
(names or ``(name, options)`` pairs), passed through unchanged.

``auto`` asks for CUDA when this onnxruntime build has it and keeps it only if the session really
runs there; otherwise it uses the CPU, quietly. An explicit GPU request that ends on the CPU
logs a warning. The active providers of a session are ``session.get_providers()``, shown to
users as ``Pipeline.providers``.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import onnxruntime as ort

from .errors import DeviceError, ModelFormatError

__all__ = ["Device", "create_session", "resolve_providers"]

logger = logging.getLogger("faceanalytics")

ProviderSpec = str | tuple[str, dict[str, Any]]
Device = str | Sequence[ProviderSpec]

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
_CUDA_RE = re.compile(r"^cuda(?::(\d+))?$")


def _trt_cache_dir() -> str:
    from .hub import home  # local import: hub imports nothing from here, but keep start-up light

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
            return [CUDA, CPU] if CUDA in ort.get_available_providers() else [CPU]
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


def create_session(model: str | os.PathLike | bytes, device: Device = "auto", threads: int | None = None) -> ort.InferenceSession:
    """An onnxruntime session for ``model`` (a path or serialized bytes) on ``device``.

    Args:
        threads: intra-op threads; ``None`` lets onnxruntime choose (one per physical core).

    Raises:
        DeviceError: bad ``device`` or ``threads``.
        ModelFormatError: onnxruntime cannot load the file.
    """
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise DeviceError(f"threads must be a positive integer or None; got {threads!r}")
    providers = resolve_providers(device)
    available = set(ort.get_available_providers())
    wanted = [p for p in providers if _name(p) in available]
    missing = [_name(p) for p in providers if _name(p) not in available]
    quiet = isinstance(device, str) and device.strip().lower() == "auto"
    if missing and not quiet:
        logger.warning(
            "onnxruntime %s lacks %s (available: %s)", ort.__version__, ", ".join(missing), ", ".join(sorted(available))
        )
    if not wanted:
        wanted = [CPU]

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.inter_op_num_threads = 1
    if threads is not None:
        opts.intra_op_num_threads = threads
    source = model if isinstance(model, bytes) else os.fspath(model)
    label = "<bytes>" if isinstance(model, bytes) else str(Path(source))

    gpu_probe = quiet and _name(wanted[0]) != CPU
    if gpu_probe:
        ort.set_default_logger_severity(4)  # a failed CUDA load under "auto" is not news
    try:
        session = ort.InferenceSession(source, sess_options=opts, providers=wanted)
    except Exception as exc:  # onnxruntime raises its own pybind exception types
        raise ModelFormatError(
            f"onnxruntime cannot load model {label}: {exc}. The file is not a complete ONNX model (truncated or corrupt "
            "copy, or another format such as .tflite or .pt): copy or export it again"
        ) from exc
    finally:
        if gpu_probe:
            ort.set_default_logger_severity(2)

    active = session.get_providers()
    if active[0] != _name(wanted[0]) or missing:
        if quiet:
            logger.debug("device='auto' runs %s on %s", label, active)
        elif _name(providers[0]) != CPU and active[0] == CPU:
            logger.warning("device=%r requested but %s runs on the CPU (providers: %s)", device, label, active)
    return session
