"""What a :class:`~faceanalytics.video.stream.Stream` returns: one frame's result and a track's figures.

Plain dataclasses, apart from the Stream itself: outputs (CSV, JSON, the HTML report, Parquet
tables) import these without importing the tracking.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from faceanalytics.core.types import Face, Result
from faceanalytics.video.events import Event

__all__ = ["StreamFrame", "TrackSummary"]


@dataclass(frozen=True, eq=False)
class StreamFrame:
    """One video frame's result.

    Attributes:
        faces: tracked faces, each with ``track_id``, largest first; ``score`` is the detector's
            where it ran and found the face, else the tracking confidence (docs/video.md).
        image_size: ``(width, height)``.
        timestamp: the caller's timestamp, seconds.
        index: 0-based frame number in this stream.
        detected: whether the face detector ran on this frame.
        events: events that ended on this frame (see :class:`~faceanalytics.video.events.Event`).
    """

    faces: tuple[Face, ...]
    image_size: tuple[int, int]
    timestamp: float
    index: int
    detected: bool
    events: tuple[Event, ...] = ()

    @classmethod
    def from_result(cls, result: Result, timestamp: float = 0.0, index: int = 0) -> StreamFrame:
        """A single image's :class:`~faceanalytics.Result` as a frame (the detector ran, no events,
        faces without ``track_id``), for code that writes images and video frames alike."""
        return cls(result.faces, result.image_size, timestamp, index, True)

    def to_dict(self) -> dict[str, Any]:
        w, h = self.image_size
        return {
            "index": self.index,
            "timestamp": self.timestamp,
            "detected": self.detected,
            "image_size": {"width": w, "height": h},
            "faces": [f.to_dict() for f in self.faces],
            "events": [e.to_dict() for e in self.events],
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)


@dataclass(frozen=True)
class TrackSummary:
    """Rolling and total figures of one track.

    Attributes:
        blinks_per_minute: blinks that ended in the last 60 s, per minute covered.
        perclos: fraction of the last 60 s with the eyes closed.
        ear_threshold: the person's current adaptive EAR threshold.
        active: whether the track is still followed.
    """

    track_id: int
    first_seen: float
    last_seen: float
    frames: int
    blinks: int
    microsleeps: int
    yawns: int
    smiles: int
    blinks_per_minute: float
    perclos: float
    ear_threshold: float
    active: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)
