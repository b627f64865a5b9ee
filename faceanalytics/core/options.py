"""One options object for everything that analyses faces: :class:`Options`.

``Pipeline``, ``Stream``, ``faceanalytics batch`` and every CLI verb take their settings from
one frozen, validated :class:`Options`, so a setting means the same everywhere, is checked in one
place (:meth:`Options.__post_init__`, raising :class:`~faceanalytics.core.errors.ParameterError`),
and a CLI flag exists wherever its setting applies (the flags are made from the fields).

    >>> from faceanalytics import Options
    >>> opts = Options(min_score=0.6, detect_every=5)
    >>> opts.replace(max_faces=1).max_faces
    1

Image settings (``landmark_model`` to ``max_faces``) shape the :class:`~faceanalytics.Pipeline`;
video settings (``detect_every`` onwards) shape a :class:`~faceanalytics.Stream` over it.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from faceanalytics.core.errors import ParameterError

__all__ = ["IMAGE_FIELDS", "VIDEO_FIELDS", "Options"]

#: BlazeFace models by name (the registry declares their files).
DETECTORS = ("short", "full")


def _flag(help: str, video: bool = False, metavar: str | None = None) -> dict[str, Any]:
    return {"help": help, "video": video, "metavar": metavar}


@dataclass(frozen=True)
class Options:
    """Settings of face analysis, validated once at construction.

    Image settings:

    Attributes:
        landmark_model: a registered landmark model name or a path to an FPENet-contract ONNX
            file (68, 80 or 104 points; NVIDIA TAO FPENet included); ``None``: the bundled fpenet68.
        detector: BlazeFace model, ``"short"`` (faces within about 2 m; also searched in tiles on
            images over 640 px) or ``"full"`` (sparse full range, needs ``faceanalytics[mediapipe]``).
        detector_model: explicit BlazeFace ``.tflite`` file for ``detector``'s model (``None``:
            the file shipped in the package).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"tensorrt"`` or an onnxruntime
            providers list (:mod:`faceanalytics.runtime.device`).
        threads: onnxruntime intra-op threads (``None``: one per physical core).
        min_score: minimum detector confidence, in [0, 1].
        max_faces: at most this many faces per image (largest first) and tracks per video;
            ``None``: all.

    Video settings (a :class:`~faceanalytics.Stream`):

    Attributes:
        detect_every: run the detector every N frames (1: every frame); it also runs whenever
            tracking is unsure.
        smoothing: One-Euro smoothing of landmarks and head pose on or off.
        landmark_smoothing: ``(min_cutoff Hz, beta, d_cutoff Hz)`` of the filter of the
            landmarks around their mean (the face's shape); speeds in face sizes per second.
        position_smoothing: the same for the landmarks' mean (where the face is), filtered
            apart so that a face that starts moving fast is not drawn behind itself.
        pose_smoothing: the same for the head pose's rotation and translation vectors.
        min_iou: box overlap needed to match a detection to a track, in [0, 1].
        max_missed: detector runs in a row a track may go unmatched before it ends.
        lost_confidence: a track is lost when its mean landmark confidence falls below this
            fraction of its running average, in [0, 1]; 0 turns off re-detection on tracking
            doubts (low confidence, landmarks off their expected course): the detector then runs
            every ``detect_every`` frames and when a face is lost only.
        microsleep: eye closures at least this long (seconds) are microsleeps, shorter ones blinks.
        yawn_mar, yawn_seconds: a yawn is the mouth aspect ratio above ``yawn_mar`` this long (s).
        smile_threshold, smile_seconds: a smile is the smile score above the threshold this long (s).
    """

    landmark_model: str | None = field(
        default=None, metadata=_flag("FPENet-contract ONNX file or registered name (default: bundled)", metavar="MODEL")
    )
    detector: str = field(default="short", metadata=_flag("BlazeFace model: short (tiles on large images) or full"))
    detector_model: str | None = field(
        default=None, metadata=_flag("explicit BlazeFace .tflite file for --detector's model", metavar="FILE")
    )
    device: str | Sequence[Any] = field(default="auto", metadata=_flag("auto, cpu, cuda, cuda:N or tensorrt", metavar="DEVICE"))
    threads: int | None = field(default=None, metadata=_flag("onnxruntime threads (default: one per core)", metavar="N"))
    min_score: float = field(default=0.5, metadata=_flag("minimum detector confidence in [0, 1]", metavar="S"))
    max_faces: int | None = field(default=None, metadata=_flag("keep the N largest faces (tracks in video)", metavar="N"))
    detect_every: int = field(default=10, metadata=_flag("run the detector every N frames", video=True, metavar="N"))
    smoothing: bool = field(default=True, metadata=_flag("One-Euro smoothing of landmarks and pose", video=True))
    landmark_smoothing: tuple[float, float, float] = field(default=(0.7, 0.7, 1.0), metadata=_flag("", video=True))
    position_smoothing: tuple[float, float, float] = field(default=(2.0, 10.0, 10.0), metadata=_flag("", video=True))
    pose_smoothing: tuple[float, float, float] = field(default=(1.5, 0.5, 1.0), metadata=_flag("", video=True))
    min_iou: float = field(default=0.3, metadata=_flag("", video=True))
    max_missed: int = field(default=1, metadata=_flag("", video=True))
    lost_confidence: float = field(default=0.5, metadata=_flag("", video=True))
    microsleep: float = field(default=0.5, metadata=_flag("", video=True))
    yawn_mar: float = field(default=0.6, metadata=_flag("", video=True))
    yawn_seconds: float = field(default=1.5, metadata=_flag("", video=True))
    smile_threshold: float = field(default=0.6, metadata=_flag("", video=True))
    smile_seconds: float = field(default=0.3, metadata=_flag("", video=True))

    def __post_init__(self) -> None:
        for f in fields(Options):  # a subclass's own fields are its own business
            value = check(f.name, getattr(self, f.name))
            object.__setattr__(self, f.name, value)

    def replace(self, **changes: Any) -> Options:
        """A copy with ``changes`` (validated like the original)."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise ParameterError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(f.name for f in fields(self))}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain JSON-able values."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}


#: Settings that are whole numbers.
INT_FIELDS = ("threads", "max_faces", "detect_every", "max_missed")

#: Names of the image settings, and of the video settings.
IMAGE_FIELDS = tuple(f.name for f in fields(Options) if not f.metadata["video"])
VIDEO_FIELDS = tuple(f.name for f in fields(Options) if f.metadata["video"])


def _positive_int(name: str, value: Any, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{name} must be a positive integer{' or None' if allow_none else ''}; got {value!r}")
    return value


def _number(name: str, value: Any, low: float | None = 0.0, high: float | None = None, above: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number; got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise ParameterError(f"{name} must be a finite number; got {value!r}")
    if low is not None and (number <= low if above else number < low):
        raise ParameterError(f"{name} must be {'>' if above else '>='} {low:g}; got {value!r}")
    if high is not None and number > high:
        raise ParameterError(f"{name} must be in [{low:g}, {high:g}]; got {value!r}")
    return number


def _filter(name: str, value: Any) -> tuple[float, float, float]:
    try:
        min_cutoff, beta, d_cutoff = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be (min_cutoff Hz, beta, d_cutoff Hz); got {value!r}") from None
    if not (min_cutoff > 0 and beta >= 0 and d_cutoff > 0) or not all(map(math.isfinite, (min_cutoff, beta, d_cutoff))):
        raise ParameterError(f"{name}: min_cutoff and d_cutoff must be > 0 and beta >= 0; got {value!r}")
    return (min_cutoff, beta, d_cutoff)


def _path_or_name(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise ParameterError(f"{name} must be a registered name or a file path; got {value!r}")
    return os.fspath(value)


def check(name: str, value: Any) -> Any:
    """``value`` of setting ``name`` checked and normalised (what :class:`Options` stores).

    Raises:
        ParameterError: the value is out of range or of the wrong kind.
    """
    if name in ("landmark_model", "detector_model"):
        return _path_or_name(name, value)
    if name == "detector":
        if value not in DETECTORS:
            raise ParameterError(f"detector must be one of {', '.join(DETECTORS)}; got {value!r}")
        return value
    if name == "device":
        from_list = not isinstance(value, str) and isinstance(value, Sequence)
        if not (isinstance(value, str) and value.strip()) and not (from_list and len(value) > 0):
            raise ParameterError(f"device must be a name or a non-empty providers list; got {value!r}")
        return tuple(value) if from_list else value
    if name in ("threads", "max_faces"):
        return _positive_int(name, value, allow_none=True)
    if name in ("detect_every", "max_missed"):
        return _positive_int(name, value)
    if name in ("min_score", "min_iou", "lost_confidence", "smile_threshold"):
        return _number(name, value, 0.0, 1.0)
    if name in ("microsleep", "yawn_seconds", "smile_seconds", "yawn_mar"):
        return _number(name, value, 0.0, above=name != "yawn_mar")
    if name == "smoothing":
        if not isinstance(value, bool):
            raise ParameterError(f"smoothing must be True or False; got {value!r}")
        return value
    if name in ("landmark_smoothing", "position_smoothing", "pose_smoothing"):
        return _filter(name, value)
    raise ParameterError(f"unknown option {name!r}")
