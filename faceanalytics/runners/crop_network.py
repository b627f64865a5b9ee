"""What the small crop networks (eye openness, mouth cues) share: finding the file, checking its
crop contract (an ``(N, 1, H, W)`` gray crop input whose size the metadata declares), and running
it on a batch of two with its inputs and output bound once (:class:`PairRun`)."""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from faceanalytics.core.errors import ModelNotFoundError
from faceanalytics.runtime.registry import ModelSpec

__all__ = ["META_KEYS", "CropContract", "PairRun", "network_path", "read_crop_contract"]

_FLOAT = "tensor(float)"

#: Metadata every crop network declares: the crop's size in pixels and its span (in face units).
META_KEYS = ("crop_width", "crop_height", "crop_span")


def network_path(
    model: str | os.PathLike,
    registry: Mapping[str, ModelSpec],
    shipped: Callable[[str], tuple[Path, ModelSpec]],
    kind: str,
) -> Path:
    """The file of ``model``: a name in ``registry`` (its shipped file, verified by ``shipped``, e.g.
    :func:`faceanalytics.runtime.hub.mouth_model_path`) or a path that exists.

    Raises:
        ModelNotFoundError: a path that is not a file.
        ChecksumError: a shipped file whose digest differs from the registry.
    """
    if isinstance(model, str) and model in registry:
        return shipped(model)[0]
    path = Path(model).expanduser()
    if not path.is_file():
        raise ModelNotFoundError(f"{kind} model not found: {path} (registered: {', '.join(registry)})")
    return path


@dataclass(frozen=True)
class CropContract:
    """A crop network's declared crop, its inputs and outputs by name, and what is wrong with them
    (empty when the crop input, the output and the metadata agree)."""

    width: int
    height: int
    span: float
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    problems: list[str]


def read_crop_contract(session: Any, crop_input: str, other_inputs: tuple[str, ...], output: str) -> CropContract:
    """The crop contract of an onnxruntime ``session``; the caller adds its own checks to
    ``problems`` and raises."""
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    meta = session.get_modelmeta().custom_metadata_map
    problems = [f"no input {n!r}" for n in (crop_input, *other_inputs) if n not in inputs]
    problems += [f"no output {output!r}"] if output not in outputs else []
    problems += [f"input {n!r} is not float32" for n in (crop_input, *other_inputs) if n in inputs and inputs[n].type != _FLOAT]
    problems += [f"output {output!r} is not float32"] if output in outputs and outputs[output].type != _FLOAT else []
    problems += [f"no metadata {k!r}" for k in META_KEYS if k not in meta]
    width, height, span = 0, 0, math.nan
    if not problems:
        try:
            width, height, span = int(meta["crop_width"]), int(meta["crop_height"]), float(meta["crop_span"])
        except ValueError:
            width, height, span = 0, 0, math.nan
        crop_shape = list(inputs[crop_input].shape)[1:]
        if not (width > 0 and height > 0 and span > 0) or crop_shape != [1, height, width]:
            problems.append(f"input {crop_input!r} {crop_shape} does not match the metadata {meta}")
    return CropContract(width, height, span, inputs, outputs, problems)


class PairRun:
    """Runs of a crop network on batches of two (both eyes; a mouth and its mirror image) with the
    inputs and the output bound once per thread (onnxruntime's ``IOBinding`` on numpy buffers):
    a run then converts nothing, which halves the eye network's call (33 against 17 µs).

    Args:
        session: the network's onnxruntime CPU session.
        inputs: each input's name and its shape without the batch axis.
        output: the output's name and its shape without the batch axis.
    """

    def __init__(
        self, session: ort.InferenceSession, inputs: dict[str, tuple[int, ...]], output: tuple[str, tuple[int, ...]]
    ) -> None:
        self._session, self._inputs, self._output = session, inputs, output
        self._local = threading.local()

    def buffers(self) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """This thread's ``(inputs, output)``: float32 arrays of batch 2 bound to the network; fill
        the inputs, :meth:`run`, then read the output (overwritten by the next run)."""
        _, inputs, output = self._bound()
        return inputs, output

    def run(self) -> np.ndarray:
        """Run the network on this thread's inputs (:meth:`buffers`); returns its output buffer."""
        binding, _, output = self._bound()
        self._session.run_with_iobinding(binding)
        return output

    def _bound(self) -> tuple[Any, dict[str, np.ndarray], np.ndarray]:
        """This thread's binding and its buffers, made on its first call."""
        found = getattr(self._local, "bound", None)
        if found is None:
            binding = self._session.io_binding()
            inputs = {name: np.zeros((2, *shape), np.float32) for name, shape in self._inputs.items()}
            for name, array in inputs.items():
                binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(array))
            name, shape = self._output
            output = np.zeros((2, *shape), np.float32)
            binding.bind_ortvalue_output(name, ort.OrtValue.ortvalue_from_numpy(output))
            found = self._local.bound = (binding, inputs, output)
        return found
