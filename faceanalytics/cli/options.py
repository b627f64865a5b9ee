"""What every verb of the command line shares: exit codes, option-value checks, the pipeline
options and the Pipeline they build, and how a failed input is named."""

from __future__ import annotations

import argparse
import logging
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faceanalytics.pipeline import Pipeline
    from faceanalytics.plugins import Plugin

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_SETUP",
    "EXIT_USAGE",
    "add_pipeline_options",
    "input_message",
    "int_at_least",
    "number_in",
    "os_message",
    "pipeline_from_args",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SETUP, EXIT_INTERNAL = 0, 1, 2, 3, 4

logger = logging.getLogger("faceanalytics")


# --- option values: checked while argparse parses them, so a bad one is a usage error (exit 2) ----


def int_at_least(low: int) -> Callable[[str], int]:
    """An argparse ``type=``: an integer ``>= low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}; got {value}")
        return value

    return parse


def number_in(low: float, high: float | None = None, *, above: bool = False) -> Callable[[str], float]:
    """An argparse ``type=``: a finite number in ``[low, high]`` (``(low, ...]`` with ``above``;
    no upper bound when ``high`` is ``None``)."""
    if high is not None:
        want = f"in [{low:g}, {high:g}]"
    else:
        want = f"{'>' if above else '>='} {low:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value < low or (above and value == low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be a number {want}; got {text}")
        return value

    return parse


_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?|tensorrt", re.IGNORECASE)


def device_name(text: str) -> str:
    """An argparse ``type=``: one of the device names of :mod:`faceanalytics.runtime.device`."""
    if not _DEVICE.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; use auto, cpu, cuda, cuda:N or tensorrt")
    return text


def add_pipeline_options(
    parser: argparse.ArgumentParser,
    *,
    max_faces_help: str = "keep the N largest faces (default: all)",
    threads_default: int | None = None,
    threads_help: str = "onnxruntime threads (default: automatic)",
    device_help: str = "auto, cpu, cuda, cuda:N or tensorrt (default: auto)",
) -> None:
    """Add the options every verb that builds a :class:`~faceanalytics.Pipeline` shares (read
    back by :func:`pipeline_from_args`)."""
    g = parser.add_argument_group("pipeline options")
    g.add_argument("--device", type=device_name, default="auto", metavar="DEVICE", help=device_help)
    g.add_argument("--landmark-model", metavar="MODEL", help="FPENet-contract ONNX file or registered name (default: bundled)")
    g.add_argument("--detector", choices=["short", "full"], default="short", help="BlazeFace range model (default: short)")
    g.add_argument("--detector-model", metavar="FILE", help="explicit BlazeFace .tflite file for --detector's model")
    g.add_argument(
        "--min-score", type=number_in(0.0, 1.0), default=0.5, metavar="S", help="minimum detector confidence (default: 0.5)"
    )
    g.add_argument("--max-faces", type=int_at_least(1), default=None, metavar="N", help=max_faces_help)
    g.add_argument("--threads", type=int_at_least(1), default=threads_default, metavar="N", help=threads_help)


def pipeline_from_args(args: argparse.Namespace, *, plugins: Sequence[Plugin] | None = None, cap_faces: bool = True) -> Pipeline:
    """The Pipeline of the options of :func:`add_pipeline_options`, its detector loaded (so that
    missing weights are a set-up error before any input is read). ``cap_faces=False`` leaves
    ``--max-faces`` to the caller (``video`` gives it to the Stream)."""
    from faceanalytics.pipeline import Pipeline

    pipe = Pipeline(
        args.landmark_model,
        detector=args.detector,
        device=args.device,
        threads=args.threads,
        min_score=args.min_score,
        max_faces=args.max_faces if cap_faces else None,
        detector_model=args.detector_model,
        plugins=plugins,
    )
    pipe.load()  # find the detector weights now: a set-up error, not a per-image one
    return pipe


def os_message(exc: OSError) -> str:
    """``[Errno 13] Permission denied: 'x'`` -> ``x: permission denied``."""
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror[:1].lower()}{exc.strerror[1:]}"
    return str(exc)


def input_message(path: str, exc: BaseException | str) -> str:
    """What went wrong with one input, naming its path once: the error's text, prefixed with
    ``path:`` unless the text names the path already (the library's file errors do:
    ``image file not found: x.jpg``)."""
    text = exc if isinstance(exc, str) else os_message(exc) if isinstance(exc, OSError) else str(exc)
    for spelling in dict.fromkeys((path, str(Path(path)))):
        if re.search(rf"(?:^|[\s'\"(]){re.escape(spelling)}(?=$|[\s'\":,;)])", text):
            return text
    return f"{path}: {text}"


