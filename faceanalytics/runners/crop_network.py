"""What the small crop networks (eye openness, mouth cues) share: finding the file, and checking
its crop contract (an ``(N, 1, H, W)`` gray crop input whose size the metadata declares)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faceanalytics.core.errors import ModelNotFoundError
from faceanalytics.runtime.registry import ModelSpec

__all__ = ["META_KEYS", "CropContract", "network_path", "read_crop_contract"]

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
