"""What a batch run is asked to do and what it reports: options, the report, errors."""

from __future__ import annotations

from dataclasses import dataclass

from faceanalytics.core.errors import BatchError, BatchUsageError, MissingExtraError

__all__ = ["REPORT_COLUMNS", "BatchError", "BatchReport", "BatchUsageError", "MissingExtraError"]


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
