"""What every verb of the command line shares: exit codes, option-value checks, the pipeline
options and the Pipeline they build, and how a failed input is named."""

from __future__ import annotations

import argparse
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faceanalytics.core.errors import ParameterError
from faceanalytics.core.options import DETECTORS, INT_FIELDS, Options, check

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
    "options_from_args",
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


def _setting(name: str, kind: type) -> Callable[[str], Any]:
    """An argparse ``type=`` for setting ``name`` of :class:`~faceanalytics.Options`: the text
    parsed as ``kind``, then checked by the Options' own rule (the one place settings are checked)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        try:
            return check(name, value)
        except ParameterError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def add_pipeline_options(
    parser: argparse.ArgumentParser,
    *,
    video: bool = False,
    max_faces_help: str = "keep the N largest faces (default: all)",
    threads_default: int | None = None,
    threads_help: str = "onnxruntime threads (default: automatic)",
    device_help: str = "auto, cpu, cuda, cuda:N or tensorrt (default: auto)",
) -> None:
    """Add a flag for each :class:`~faceanalytics.Options` setting that has one: the image
    settings on every verb, the video settings (``video=True``) on the verbs that read videos.
    Values are checked as they are parsed (a bad one is a usage error, exit 2) by the same rule
    as ``Options``; :func:`options_from_args` reads them back."""
    g = parser.add_argument_group("pipeline options")
    helps = {"max_faces": max_faces_help, "threads": threads_help, "device": device_help}
    for f in fields(Options):
        meta = f.metadata
        if not meta["help"] or (meta["video"] and not video):
            continue  # settings without a flag (tuples of filter constants) are for the Python API
        flag = "--" + f.name.replace("_", "-")
        text = helps.get(f.name, meta["help"])
        if f.name == "smoothing":
            off = f"switch off {text[0].lower()}{text[1:]}"
            g.add_argument("--no-smoothing", dest="smoothing", action="store_false", help=off)
        elif f.name == "detector":
            g.add_argument(flag, choices=DETECTORS, default=f.default, help=f"{text} (default: {f.default})")
        elif f.name == "device":
            g.add_argument(flag, type=device_name, default=f.default, metavar=meta["metavar"], help=text)
        else:
            kind = str if f.name in ("landmark_model", "detector_model") else int if f.name in INT_FIELDS else float
            default = threads_default if f.name == "threads" else f.default
            shown = "" if f.name in helps or default is None else f" (default: {default})"
            g.add_argument(flag, type=_setting(f.name, kind), default=default, metavar=meta["metavar"], help=text + shown)


def options_from_args(args: argparse.Namespace) -> Options:
    """The :class:`~faceanalytics.Options` of the flags :func:`add_pipeline_options` added (the
    settings a verb has no flag for keep their defaults)."""
    names = {f.name for f in fields(Options)}
    return Options(**{k: v for k, v in vars(args).items() if k in names})


def pipeline_from_args(args: argparse.Namespace, *, plugins: Sequence[Plugin] | None = None, cap_faces: bool = True) -> Pipeline:
    """The Pipeline of the options of :func:`add_pipeline_options`, its detector loaded (so that
    missing weights are a set-up error before any input is read). ``cap_faces=False`` leaves
    ``--max-faces`` to the caller (``video`` gives it to the Stream)."""
    from faceanalytics.pipeline import Pipeline

    options = options_from_args(args)
    return Pipeline(plugins=plugins, options=options if cap_faces else options.replace(max_faces=None)).load()


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


