"""One worker's job: analyse the sources of a task and write the task's parts.

The same code runs in a local worker process and in a Ray actor, so both engines give the same
rows. An image goes through the Pipeline (as ``faceanalytics detect``); a video through one
Stream from its first frame to its last (as ``faceanalytics video``), so tracking, smoothing and
events are those of the video command.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow as pa

from faceanalytics.batch.config import REPORT_COLUMNS
from faceanalytics.batch.inputs import Source, Task, is_uri, open_filesystem
from faceanalytics.batch.store import PartStore
from faceanalytics.batch.tables import SOURCE_SCHEMA, FaceRows, source_row
from faceanalytics.core.errors import FaceAnalyticsError, ImageDecodeError
from faceanalytics.core.image import load_image
from faceanalytics.core.options import Options
from faceanalytics.io.video_outputs import SummaryBuilder
from faceanalytics.io.video_source import _video as open_video_file
from faceanalytics.pipeline import Pipeline
from faceanalytics.plugins import AlignmentPlugin, default_plugins
from faceanalytics.video.results import StreamFrame
from faceanalytics.video.stream import Stream

__all__ = ["TaskRunner", "WorkerConfig", "make_pipeline"]

logger = logging.getLogger("faceanalytics")

#: Face rows buffered before they are written to the part file as a row group.
FLUSH_ROWS = 5_000


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker needs, picklable: options, where the parts go, the model's point count."""

    options: Options
    parts: str
    num_points: int


def make_pipeline(options: Options) -> Pipeline:
    """The pipeline every worker runs: all built-in plugins but alignment (crops are not written)."""
    plugins = [p for p in default_plugins() if not isinstance(p, AlignmentPlugin)]
    return Pipeline(plugins=plugins, options=options)


class TaskRunner:
    """Holds one Pipeline (onnxruntime and MediaPipe sessions) and runs tasks with it.

    Raises (at construction): the set-up errors of :class:`~faceanalytics.Pipeline` and of the
    detector's weights.
    """

    def __init__(self, config: WorkerConfig) -> None:
        cv2.setNumThreads(1)  # parallelism comes from the workers; threads here would fight them
        self.config = config
        self.pipe = make_pipeline(config.options).load()  # find the detector weights now: a set-up error
        self.store = PartStore(config.parts)

    def run(self, task: Task) -> list[dict[str, Any]]:
        """Analyse the task's sources, write its face part then its source part; returns the
        source rows, cut to :data:`REPORT_COLUMNS`. A source that fails is a row with its error,
        not an exception."""
        rows: list[dict[str, Any]] = []
        faces = FaceRows(self.config.num_points)
        writer = self.store.faces_writer(task.key, faces.schema)
        try:
            for src in task.sources:
                rows.append(self._source(src, faces, writer))
            writer.write(faces.take())
        except BaseException:
            writer.discard()
            raise
        writer.commit()
        self.store.write_sources(task.key, pa.Table.from_pylist(rows, schema=SOURCE_SCHEMA))
        return [{k: row[k] for k in REPORT_COLUMNS} for row in rows]

    def close(self) -> None:
        self.pipe.close()

    # ----------------------------------------------------------------------------------------
    def _source(self, src: Source, faces: FaceRows, writer: Any) -> dict[str, Any]:
        if src.error:
            return source_row(src.path, kind=None, status="failed", error=src.error)
        t0 = time.perf_counter()
        before = faces.count
        try:
            if src.kind == "image":
                row = self._image(src, faces)
            else:
                row = self._video(src, faces, writer)
        except Exception as exc:  # one bad input must not stop the others
            logger.debug("%s failed", src.path, exc_info=True)
            kind = src.kind
            row = source_row(src.path, kind=kind, status="failed", error=_message(exc), faces=faces.count - before)
        row["seconds"] = time.perf_counter() - t0
        return row

    def _image(self, src: Source, faces: FaceRows) -> dict[str, Any]:
        image = _read_image(src.path)
        result = self.pipe(image)
        w, h = result.image_size
        faces.add(src.path, StreamFrame.from_result(result))
        return source_row(src.path, kind="image", status="ok", frames=1, faces=len(result.faces), width=w, height=h)

    def _video(self, src: Source, faces: FaceRows, writer: Any) -> dict[str, Any]:
        before = faces.count
        with _local_copy(src.path) as path:
            source = open_video_file(path)
            stream = Stream(self.pipe)
            summary = SummaryBuilder()
            frames, failure = 0, None
            try:
                for frame, t in source:
                    fr = stream(frame, t)
                    frames += 1
                    summary.add(fr)
                    faces.add(src.path, fr)
                    if len(faces) >= FLUSH_ROWS:
                        writer.write(faces.take())
            except (FaceAnalyticsError, OSError, cv2.error) as exc:
                failure = exc  # keep the frames before it, as `faceanalytics video` does
            finally:
                source.close()
                summary.add_events(stream.close())
        data = summary.to_dict(stream.summaries(), src.path, frames, failure is not None)
        tracks = data["tracks"]
        totals = {k: sum(t[k] for t in tracks) for k in ("blinks", "microsleeps", "yawns", "smiles")}
        w, h = source.size
        return source_row(
            src.path,
            kind="video",
            status="failed" if failure is not None else "ok",
            error=None if failure is None else f"stopped after {frames} frames: {_message(failure)}",
            frames=frames,
            faces=faces.count - before,
            tracks=len(tracks),
            width=w,
            height=h,
            fps=float(source.fps),
            tracks_json=json.dumps(tracks),
            **totals,
        )


def _message(exc: BaseException) -> str:
    if isinstance(exc, FaceAnalyticsError | OSError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _read_image(path: str) -> np.ndarray:
    if not is_uri(path):
        return load_image(path)
    fs, inner = open_filesystem(path)
    with fs.open_input_stream(inner) as fh:
        data = np.frombuffer(fh.read(), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ImageDecodeError(f"cannot decode image {path}: not an image format OpenCV reads, or corrupt")
    return load_image(image)


@contextlib.contextmanager
def _local_copy(path: str) -> Iterator[Path]:
    """A local file for OpenCV: the path itself, or a temporary copy of a URI's object."""
    if not is_uri(path):
        yield Path(path)
        return
    fs, inner = open_filesystem(path)
    with tempfile.TemporaryDirectory(prefix="faceanalytics-") as tmp:
        local = Path(tmp) / Path(inner).name
        with fs.open_input_stream(inner) as src, local.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 22)
        yield local
