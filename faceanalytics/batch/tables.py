"""The two Parquet tables of a batch run: one row per face per frame, one row per source.

The face table has the columns of ``faceanalytics video --csv`` (:func:`~faceanalytics.io.video_outputs.csv_columns`,
filled by :func:`~faceanalytics.io.video_outputs.face_values`) with ``source`` in front and ``face``
(the face's index in its frame, largest first) after ``frame``. Numbers are typed rather than
text: missing or invalid plugin values are nulls, the 0/1 columns are booleans, ``track_id`` is
null for images. Rows are ordered by source, frame and face.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from faceanalytics.io.video_outputs import EVENT_KINDS, csv_columns, face_values
from faceanalytics.video.results import StreamFrame

__all__ = ["SOURCE_SCHEMA", "FaceRows", "face_schema", "source_row"]

_BOOL = {"eyes_closed", "mouth_open", *(f"event_{k}" for k in EVENT_KINDS)}
_FLOAT64 = {"timestamp", "yaw", "pitch", "roll", "ear_left", "ear_right", "mar", "open_score", "smile"}
_INT = {"frame": pa.int64(), "face": pa.int32(), "track_id": pa.int64()}


def face_schema(num_points: int) -> pa.Schema:
    """Columns of the face table for a landmark model with ``num_points`` points."""
    frame, *rest = csv_columns(num_points)  # "frame" first
    fields = [pa.field("source", pa.string(), nullable=False)]
    for name in [frame, "face", *rest]:
        if name in _INT:
            typ = _INT[name]
        elif name in _BOOL:
            typ = pa.bool_()
        elif name in _FLOAT64:
            typ = pa.float64()
        else:  # score, box, landmarks: float32 like the model's outputs
            typ = pa.float32()
        fields.append(pa.field(name, typ, nullable=name not in ("frame", "face")))
    return pa.schema(fields)


#: One row per source: how it went and what was found.
SOURCE_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("kind", pa.string()),  # image, video; null for an input that did not resolve
        pa.field("status", pa.string(), nullable=False),  # ok, failed
        pa.field("error", pa.string()),
        pa.field("frames", pa.int64(), nullable=False),  # frames analysed (1 for an image)
        pa.field("faces", pa.int64(), nullable=False),  # rows in the face table
        pa.field("tracks", pa.int64()),  # videos: distinct track ids
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("fps", pa.float64()),  # videos: nominal frame rate
        pa.field("blinks", pa.int64()),
        pa.field("microsleeps", pa.int64()),
        pa.field("yawns", pa.int64()),
        pa.field("smiles", pa.int64()),
        pa.field("tracks_json", pa.string()),  # videos: per-track summary as `faceanalytics video --json`
        pa.field("seconds", pa.float64()),  # wall time spent on this source
    ]
)


def source_row(source: str, **values: Any) -> dict[str, Any]:
    """A row of the source table; columns not given are null."""
    unknown = set(values) - set(SOURCE_SCHEMA.names)
    if unknown:
        raise KeyError(f"not source-table columns: {sorted(unknown)}")
    row = dict.fromkeys(SOURCE_SCHEMA.names)
    row.update(source=source, faces=0, frames=0)
    row.update(values)
    return row


class FaceRows:
    """Rows of the face table, collected frame by frame and handed out as Arrow tables."""

    def __init__(self, num_points: int) -> None:
        self.schema = face_schema(num_points)
        self._rows: list[list[Any]] = []
        self.count = 0

    def add(self, source: str, fr: StreamFrame) -> None:
        for i, values in enumerate(face_values(fr)):
            self._rows.append([source, values[0], i, *values[1:]])
        self.count += len(fr.faces)

    def __len__(self) -> int:
        """Rows not yet taken."""
        return len(self._rows)

    def take(self) -> pa.Table:
        """The rows collected since the last call, as a table (then forgotten)."""
        columns = list(zip(*self._rows, strict=True)) if self._rows else [()] * len(self.schema)
        self._rows = []
        arrays = [pa.array(col, type=f.type) for col, f in zip(columns, self.schema, strict=True)]
        return pa.Table.from_arrays(arrays, schema=self.schema)
