"""A long Stream run: the scene of ``benchmarks/long_run.py`` and ``tests/test_long_run.py``.

A synthetic 320x240 video at 30 fps, built from real faces of ../shared/data/eye_state: in every
10-second cycle one face crosses the frame (with two blinks: closed-eye crops swapped in), leaves,
two other faces arrive side by side, and leave; each cycle uses other people. The last frames hold
closed eyes, so the stream ends in the middle of a closure. :func:`run` streams it and reports
resident memory (RSS), Python objects tracked by the garbage collector, tracks alive and started,
events, the events ``close()`` returned still open, and tracks left after each gap.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from faceanalytics.core.image import load_image
from faceanalytics.pipeline import Pipeline
from faceanalytics.video.stream import Stream

__all__ = ["CYCLE", "Report", "appearances", "load_faces", "run", "scene"]

W, H, FPS, CYCLE, FACE = 320, 240, 30, 300, 100
#: (first, last) frame of each appearance within a cycle, and how many faces it has.
SEGMENTS = ((0, 119, 1), (150, 269, 2))
BLINKS = ((40, 45), (90, 94))  # frames (in a cycle) of the single face with its eyes closed


def rss_mb() -> float:
    """Resident set size of this process, MB (Linux /proc; psutil elsewhere)."""
    try:
        with open("/proc/self/statm") as f:  # noqa: PTH123
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import psutil

        return psutil.Process().memory_info().rss / 2**20


def load_faces(folder: Path, people: int = 24) -> tuple[list[np.ndarray], np.ndarray]:
    """``people`` open-eyed faces and one closed-eyed face, FACE x FACE BGR, from ``folder``
    (../shared/data/eye_state: ``open/*.jpg`` and ``closed/*.jpg``).

    Raises:
        FileNotFoundError: fewer faces than that.
    """
    opened = sorted((folder / "open").glob("*.jpg"))[:people]
    closed = sorted((folder / "closed").glob("*.jpg"))[:1]
    if len(opened) < people or not closed:
        raise FileNotFoundError(f"needs {people} faces in {folder}/open and one in {folder}/closed (../shared)")
    size = (FACE, FACE)
    return [cv2.resize(load_image(p), size) for p in opened], cv2.resize(load_image(closed[0]), size)


def scene(i: int, frames: int, faces: list[np.ndarray], closed: np.ndarray) -> tuple[np.ndarray, int]:
    """Frame ``i`` of a ``frames``-long run, and how many faces it shows."""
    frame = np.full((H, W, 3), 70, np.uint8)
    cycle, j = divmod(i, CYCLE)
    for first, last, count in SEGMENTS:
        if not first <= j <= last:
            continue
        k = j - first
        for n in range(count):
            face = faces[(3 * cycle + n + (count == 2)) % len(faces)]
            if count == 1:
                x, y = int(20 + k * (W - FACE - 40) / (last - first)), int(60 + 20 * np.sin(k / 15))
            else:
                x, y = int(10 + n * 180 + 10 * np.sin(k / 20 + n)), int(70 + 10 * np.cos(k / 25))
            shut = (count == 1 and any(a <= j <= b for a, b in BLINKS)) or (n == 0 and i >= frames - 20)
            frame[y : y + FACE, x : x + FACE] = closed if shut else face
        return frame, count
    return frame, 0


def appearances(frames: int) -> int:
    """Faces that arrive in a run of ``frames`` frames."""
    total = 0
    for start in range(0, frames, CYCLE):
        total += sum(count for first, _, count in SEGMENTS if start + first < frames)
    return total


@dataclass
class Report:
    frames: int
    seconds: float = 0.0
    samples: list[tuple[int, float, int, int, int]] = field(default_factory=list)  # frame, RSS MB, objects, alive, started
    max_alive_over_present: int = 0
    leftover_after_gaps: int = 0
    events: int = 0
    open_at_end: int = 0
    open_at_end_complete: int = 0
    active_after_close: int = 0

    @property
    def tracks(self) -> int:
        return self.samples[-1][4] if self.samples else 0

    def growth_after(self, warmup: int) -> tuple[float, int]:
        """RSS (MB) and object-count growth from the first sample at or after ``warmup`` to the end."""
        base = next(s for s in self.samples if s[0] >= warmup)
        return max(s[1] for s in self.samples if s[0] >= warmup) - base[1], self.samples[-1][2] - base[2]


def run(
    frames: int,
    eye_state: Path,
    every: int = 1000,
    detect_every: int = 10,
    pipe: Pipeline | None = None,
    log: Callable[..., object] | None = None,
) -> Report:
    """Stream the scene's ``frames`` frames (faces from ``eye_state``, see :func:`load_faces`),
    sampling memory and tracks every ``every`` frames (each sample also goes to ``log``)."""
    faces, closed = load_faces(eye_state)
    pipe = pipe or Pipeline(device="cpu")
    stream = Stream(pipe, detect_every=detect_every)
    report = Report(frames)
    t0 = time.perf_counter()

    def sample(i: int) -> None:
        gc.collect()
        alive = sum(s.active for s in stream.summaries())
        started = len(stream.summaries())
        report.samples.append((i, rss_mb(), len(gc.get_objects()), alive, started))
        if log:
            log(*report.samples[-1])

    for i in range(frames):
        frame, present = scene(i, frames, faces, closed)
        res = stream(frame, i / FPS)
        report.events += len(res.events)
        report.max_alive_over_present = max(report.max_alive_over_present, len(res.faces) - present)
        if i % CYCLE in (SEGMENTS[0][1] + 25, SEGMENTS[1][1] + 25):  # late in each gap: every track ended
            report.leftover_after_gaps += sum(s.active for s in stream.summaries())
        if i % every == 0 or i == frames - 1:
            sample(i)
    ending = stream.close()
    report.seconds = time.perf_counter() - t0
    report.events += len(ending)
    report.open_at_end = len(ending)
    report.open_at_end_complete = sum(e.complete for e in ending)
    report.active_after_close = sum(s.active for s in stream.summaries())
    return report
