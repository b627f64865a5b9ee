"""What ``faceanalytics video`` writes: a per-frame CSV, a per-track JSON summary, annotated video.

Each file is written to a hidden temporary file beside its target and renamed into place by
``close()``, so a target is either absent or complete, never half-written; an interrupted run
closes its outputs with what it has.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

import cv2
import numpy as np

from faceanalytics.runtime.atomic import AtomicFile
from faceanalytics.video.events import Event
from faceanalytics.video.results import StreamFrame, TrackSummary

__all__ = ["CsvWriter", "SummaryBuilder", "VideoWriter", "csv_columns", "face_values"]

EVENT_KINDS = ("blink", "microsleep", "yawn", "smile")


def csv_columns(num_points: int) -> list[str]:
    """CSV header: frame, timestamp, track_id, score, box, x_0..x_{N-1}, y_0..y_{N-1}, pose, eyes,
    mouth, then one 0/1 column per event kind that ended for this face on this frame."""
    return [
        "frame",
        "timestamp",
        "track_id",
        "score",
        "x1",
        "y1",
        "x2",
        "y2",
        *[f"x_{i}" for i in range(num_points)],
        *[f"y_{i}" for i in range(num_points)],
        "yaw",
        "pitch",
        "roll",
        "ear_left",
        "ear_right",
        "eyes_closed",
        "mar",
        "mouth_open",
        "open_score",
        "smile",
        *[f"event_{k}" for k in EVENT_KINDS],
    ]


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


class _Checked(Protocol):
    @property
    def valid(self) -> bool: ...


R = TypeVar("R", bound=_Checked)


def valid_result(result: R | None) -> R | None:
    """A plugin result if it is there and valid, else ``None``."""
    return result if result is not None and result.valid else None


def face_values(fr: StreamFrame) -> list[list[Any]]:
    """One list per face of ``fr``, in :func:`csv_columns` order, unformatted: ints and floats,
    booleans for the 0/1 columns, ``None`` where the CSV has an empty cell (a plugin result that is
    missing or invalid, or a number that is not finite). The CSV and the batch Parquet rows are both
    made from these."""
    ended = {(e.track_id, e.kind) for e in fr.events}
    rows = []
    for face in fr.faces:
        pose, eyes, mouth = valid_result(face.head_pose), valid_result(face.eyes), valid_result(face.mouth)
        rows.append(
            [
                fr.index,
                float(fr.timestamp),
                face.track_id,
                float(face.score),
                *face.box.tolist(),
                *face.landmarks[:, 0].tolist(),
                *face.landmarks[:, 1].tolist(),
                *((_finite(pose.yaw), _finite(pose.pitch), _finite(pose.roll)) if pose else (None, None, None)),
                *((_finite(eyes.left_ear), _finite(eyes.right_ear), bool(eyes.closed)) if eyes else (None, None, None)),
                *(
                    (_finite(mouth.mar), bool(mouth.open), _finite(mouth.open_score), _finite(mouth.smile))
                    if mouth
                    else (None, None, None, None)
                ),
                *(((face.track_id, k) in ended) for k in EVENT_KINDS),
            ]
        )
    return rows


def _csv_formats(num_points: int) -> list[Callable[[Any], Any]]:
    """How each :func:`face_values` value is written in the CSV, column by column."""
    same = lambda v: v  # noqa: E731 (csv writes None as an empty cell)
    px = lambda v: f"{v:.2f}"  # noqa: E731
    opt = lambda v: "" if v is None else f"{v:.4f}"  # noqa: E731
    flag = lambda v: "" if v is None else int(v)  # noqa: E731
    return [
        same,
        lambda v: f"{v:.4f}",
        same,
        lambda v: f"{v:.3f}",
        *[px] * (4 + 2 * num_points),
        opt, opt, opt,
        opt, opt, flag,
        opt, flag, opt, opt,
        *[int] * len(EVENT_KINDS),
    ]  # fmt: skip


class CsvWriter:
    """One row per face per frame (OpenFace FeatureExtraction in spirit; columns in docs/cli.md)."""

    def __init__(self, path: Path, num_points: int) -> None:
        self._file = AtomicFile(path)
        self._fh: IO[str] = self._file.tmp.open("w", newline="")
        self._csv = csv.writer(self._fh)
        self._csv.writerow(csv_columns(num_points))
        self._formats = _csv_formats(num_points)
        self.rows = 0

    def write(self, fr: StreamFrame) -> None:
        for values in face_values(fr):
            self._csv.writerow([f(v) for f, v in zip(self._formats, values, strict=True)])
            self.rows += 1

    def close(self) -> None:
        self._fh.close()
        self._file.commit()

    def discard(self) -> None:
        """Close and delete the temporary file: the target is not created (or stays as it was)."""
        self._fh.close()
        self._file.discard()


class _TrackStats:
    def __init__(self) -> None:
        self.first = self.last = math.nan
        self.frames = 0
        self.pose: list[tuple[float, float, float]] = []
        self.score_sum, self.score_min = 0.0, math.inf

    def add(self, t: float, pose: tuple[float, float, float] | None, score: float) -> None:
        if self.frames == 0:
            self.first = t
        self.last = t
        self.frames += 1
        if pose is not None:
            self.pose.append(pose)
        self.score_sum += score
        self.score_min = min(self.score_min, score)


class SummaryBuilder:
    """Per-track figures of a whole video, from its frames, its events and the Stream's
    :class:`~faceanalytics.video.results.TrackSummary` of each track.

    Blinks, microsleeps, yawns, smiles, blinks per minute and PERCLOS are the TrackSummary's,
    exactly what ``stream.summaries()`` gives (one computation for the API, this JSON and the
    HTML report; docs/video.md); the frames, the pose and the score are gathered here."""

    def __init__(self) -> None:
        self._tracks: dict[int, _TrackStats] = {}
        self._events: list[Event] = []

    def add(self, fr: StreamFrame) -> None:
        for face in fr.faces:
            stats = self._tracks.setdefault(int(face.track_id or 0), _TrackStats())
            pose = face.head_pose
            angles = (pose.yaw, pose.pitch, pose.roll) if pose is not None and pose.valid else None
            stats.add(fr.timestamp, angles, float(face.score))
        self._events += fr.events

    def add_events(self, events: tuple[Event, ...] | list[Event]) -> None:
        self._events += list(events)

    def to_dict(
        self,
        summaries: tuple[TrackSummary, ...],
        source: str,
        frames: int,
        interrupted: bool,
        *,
        expected_frames: int | None = None,
        stopped: str | None = None,
    ) -> dict[str, Any]:
        """The summary: ``source``, ``frames`` read, ``expected_frames`` (what the file declares;
        ``None`` when unknown), ``interrupted`` (the run ended before the input did), ``stopped``
        (why, or ``None``) and per-track figures."""
        tracks = []
        by_id = {s.track_id: s for s in summaries}
        for tid, st in sorted(self._tracks.items()):
            evs = [e for e in self._events if e.track_id == tid]
            count = {k: sum(e.kind == k for e in evs) for k in EVENT_KINDS}
            duration = st.last - st.first
            ts = by_id.get(tid)
            figures = (
                {"blinks": ts.blinks, "blinks_per_minute": ts.blinks_per_minute, "perclos": ts.perclos,
                 "microsleeps": ts.microsleeps, "yawns": ts.yawns, "smiles": ts.smiles, "ear_threshold": ts.ear_threshold}
                if ts is not None
                else {"blinks": count["blink"], "blinks_per_minute": None, "perclos": None, "microsleeps": count["microsleep"],
                      "yawns": count["yawn"], "smiles": count["smile"], "ear_threshold": None}
            )  # fmt: skip
            pose = np.array(st.pose) if st.pose else np.zeros((0, 3))
            tracks.append(
                {
                    "track_id": tid,
                    "first_seen": st.first,
                    "last_seen": st.last,
                    "duration": duration,
                    "frames": st.frames,
                    **figures,
                    "pose": {
                        name: (
                            {"mean": float(pose[:, i].mean()), "min": float(pose[:, i].min()), "max": float(pose[:, i].max())}
                            if len(pose)
                            else None
                        )
                        for i, name in enumerate(("yaw", "pitch", "roll"))
                    },
                    # face.score over the track's frames: the detector's where it ran, else the
                    # tracking confidence (docs/video.md)
                    "score": {"mean": st.score_sum / st.frames, "min": st.score_min} if st.frames else None,
                    "events": [e.to_dict() for e in evs],
                }
            )
        return {
            "source": source,
            "frames": frames,
            "expected_frames": expected_frames,
            "interrupted": interrupted,
            "stopped": stopped,
            "tracks": tracks,
        }

    def write(self, path: Path, data: dict[str, Any]) -> None:
        with AtomicFile(path) as tmp:
            tmp.write_text(json.dumps(data, indent=1) + "\n")


class VideoWriter:
    """Annotated frames to an .mp4 (mp4v) or .avi (MJPG) file."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        self._file = AtomicFile(path)
        fourcc = cv2.VideoWriter.fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
        self._writer = cv2.VideoWriter(str(self._file.tmp), fourcc, fps, size)
        if not self._writer.isOpened():
            self._file.discard()
            raise OSError(f"cannot write video {path}: use a .mp4 or .avi name")
        self.size = size

    def write(self, frame: np.ndarray) -> None:
        if (frame.shape[1], frame.shape[0]) != self.size:
            frame = cv2.resize(frame, self.size)
        self._writer.write(frame)

    def close(self) -> None:
        self._writer.release()
        self._file.commit()

    def discard(self) -> None:
        """Release the writer and delete the temporary file: the target is not created."""
        self._writer.release()
        self._file.discard()
