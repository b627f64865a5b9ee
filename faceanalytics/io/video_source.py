"""Reading frames: a video file, a folder or glob of images (as a sequence), or a camera.

Every source yields ``(frame, timestamp)`` pairs: HxWx3 uint8 BGR frames and timestamps in
seconds that strictly increase (a Stream needs that). Video files give their own presentation
times (so variable frame rates are kept), image sequences ``index / fps``, cameras the wall clock.
"""

from __future__ import annotations

import glob
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from faceanalytics.core.errors import VideoError
from faceanalytics.core.image import load_image

__all__ = ["IMAGE_SUFFIXES", "FrameSource", "VideoError", "open_source"]

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def _natural_key(path: Path) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


@dataclass
class FrameSource:
    """An opened source. Iterate it for ``(frame, timestamp)``; ``close()`` releases it.

    Attributes:
        name: what was opened.
        fps: nominal frames per second (the file's, the ``fps`` given for image sequences).
        frame_count: number of frames when known in advance, else ``None`` (cameras).
        size: ``(width, height)`` of the first frame.
        live: a camera: it has no end of its own, so running out of frames means it stopped.

    Iteration ends at the end of the input; a frame that cannot be decoded (a truncated or
    corrupt file) also ends it, since decoders cannot tell the two apart: compare the frames
    read with ``frame_count``. An error while reading raises :class:`VideoError`.
    """

    name: str
    fps: float
    frame_count: int | None
    size: tuple[int, int]
    _frames: Iterator[tuple[np.ndarray, float]]
    _release: object = None
    live: bool = False

    def __iter__(self) -> Iterator[tuple[np.ndarray, float]]:
        return self._frames

    def close(self) -> None:
        if self._release is not None:
            self._release.release()  # type: ignore[attr-defined]
            self._release = None

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(source: str, fps: float = 30.0) -> FrameSource:
    """Open a video file, an image folder, a glob pattern or a camera index ("0", "1", ...).

    Raises:
        VideoError: nothing there, an empty folder or glob, or a file OpenCV cannot open or read.
    """
    if source.isdigit():
        return _camera(int(source))
    try:
        return _open_path(source, fps)
    except OSError as exc:
        if isinstance(exc, VideoError):
            raise
        raise VideoError(f"cannot open {source[:200]}: {exc.strerror or exc}") from None


def _open_path(source: str, fps: float) -> FrameSource:
    path = Path(source)
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
        if not files:
            raise VideoError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in folder {path}")
        return _images(str(path), files, fps)
    if any(ch in source for ch in "*?["):
        matches = glob.glob(source)  # noqa: PTH207 (any pattern, absolute or relative)
        files = sorted((Path(p) for p in matches if Path(p).suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
        if not files:
            raise VideoError(f"no images match {source!r}")
        return _images(source, files, fps)
    if not path.exists():
        raise VideoError(f"video not found: {path}")
    return _video(path)


def _images(name: str, files: list[Path], fps: float) -> FrameSource:
    first = load_image(files[0])

    def frames() -> Iterator[tuple[np.ndarray, float]]:
        for i, f in enumerate(files):
            yield (first if i == 0 else load_image(f)), i / fps

    return FrameSource(name, fps, len(files), (first.shape[1], first.shape[0]), frames())


def _video(path: Path) -> FrameSource:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoError(f"cannot open video {path}: not a format OpenCV reads, or corrupt")
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    fps = fps if np.isfinite(fps) and 0 < fps < 1000 else 30.0
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) or None
    ok, first = _read(cap, f"the first frame of {path}", cap)
    if not ok or first is None:
        cap.release()
        raise VideoError(f"video {path} has no readable frames")

    def frames() -> Iterator[tuple[np.ndarray, float]]:
        frame: np.ndarray | None = first
        last_t = -np.inf
        index = 0
        while frame is not None:
            t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0  # the frame just read
            if not np.isfinite(t) or t <= last_t:  # containers without usable times
                t = max(index / fps, last_t + 1e-6)
            yield frame, t
            last_t = t
            index += 1
            ok, nxt = _read(cap, f"frame {index} of {path}")
            frame = nxt if ok else None

    return FrameSource(str(path), fps, count, (first.shape[1], first.shape[0]), frames(), cap)


def _camera(index: int) -> FrameSource:
    cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        raise VideoError(f"cannot open camera {index}")
    ok, first = _read(cap, f"the first frame of camera {index}", cap)
    if not ok or first is None:
        cap.release()
        raise VideoError(f"camera {index} gives no frames")
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    fps = fps if np.isfinite(fps) and 0 < fps < 1000 else 30.0
    t0 = time.monotonic()

    def frames() -> Iterator[tuple[np.ndarray, float]]:
        frame = first
        last_t = -1.0
        while True:
            t = max(time.monotonic() - t0, last_t + 1e-6)
            yield frame, t
            last_t = t
            ok, got = _read(cap, f"camera {index}")
            if not ok or got is None:
                return
            frame = got

    return FrameSource(f"camera {index}", float(fps), None, (first.shape[1], first.shape[0]), frames(), cap, live=True)


def _read(cap: cv2.VideoCapture, what: str, release_on_error: cv2.VideoCapture | None = None) -> tuple[bool, np.ndarray | None]:
    """``cap.read()``, with OpenCV's exceptions (some backends raise on corrupt data) as VideoError."""
    try:
        ok, frame = cap.read()
    except cv2.error as exc:
        if release_on_error is not None:
            release_on_error.release()
        raise VideoError(f"cannot read {what}: {exc}") from exc
    return bool(ok) and frame is not None, frame
