"""What a batch run is asked to do and what it reports: options, the report, errors."""

from __future__ import annotations

from dataclasses import dataclass

from faceanalytics.core.errors import FaceAnalyticsError

__all__ = ["REPORT_COLUMNS", "BatchError", "BatchOptions", "BatchReport", "BatchUsageError", "MissingExtraError"]


class BatchError(FaceAnalyticsError):
    """A batch run cannot start or go on (not a failure of one input: those are in the report)."""


class BatchUsageError(BatchError, ValueError):
    """Bad batch arguments: an output that exists, no inputs, a bad number."""


class MissingExtraError(BatchError, ImportError):
    """An optional dependency of the batch feature is not installed (``faceanalytics[batch]``, ``[ray]``)."""


@dataclass(frozen=True)
class BatchOptions:
    """How every source is analysed; the same on every worker and engine.

    Attributes:
        landmark_model: registered name or ONNX path (``None``: the bundled model); a path must
            exist on every worker.
        detector: ``"short"`` or ``"full"`` BlazeFace.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"tensorrt"``, per worker.
        threads: onnxruntime threads per worker (one worker is one process or Ray actor).
        min_score: minimum detector confidence.
        max_faces: at most this many faces per image, tracks per video.
        detect_every: videos: run the detector every N frames (as ``faceanalytics video``).
        smoothing: videos: One-Euro smoothing of landmarks and pose.
        detector_model: explicit BlazeFace .tflite file for ``detector`` (``None``: the cached
            weights); a path must exist on every worker.
    """

    landmark_model: str | None = None
    detector: str = "short"
    device: str = "auto"
    threads: int = 1
    min_score: float = 0.5
    max_faces: int | None = None
    detect_every: int = 10
    smoothing: bool = True
    detector_model: str | None = None

    def __post_init__(self) -> None:
        for name in ("threads", "detect_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise BatchUsageError(f"{name} must be a positive integer; got {value!r}")
        if self.max_faces is not None and (not isinstance(self.max_faces, int) or self.max_faces < 1):
            raise BatchUsageError(f"max_faces must be a positive integer or None; got {self.max_faces!r}")


#: The columns of the source table that workers send back to the run (the rest stay in the parts).
REPORT_COLUMNS = ("source", "status", "error", "frames", "faces")


@dataclass(frozen=True)
class BatchReport:
    """What a batch run did.

    Attributes:
        faces_path, sources_path: the per-face table and the per-source table (files, or folders
            of part files with ``partitioned=True``).
        sources: number of sources (inputs after expansion), failed ones included.
        failed: ``(source, error)`` of each source that failed, in source order.
        frames: frames analysed (an image is one frame), this run and resumed parts together.
        faces: rows of the face table.
        resumed: sources taken from the parts of an earlier, interrupted run.
        seconds: wall time of this run.
        engine, workers: what ran it.
    """

    faces_path: str
    sources_path: str
    sources: int
    failed: tuple[tuple[str, str], ...]
    frames: int
    faces: int
    resumed: int
    seconds: float
    engine: str
    workers: int

    @property
    def ok(self) -> bool:
        """Every source was analysed."""
        return not self.failed
