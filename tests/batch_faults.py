"""Fault injection for tests/test_batch.py: a batch worker that dies in the middle of a source, as
a process killed by the out-of-memory killer or a crash in native code would.

faceanalytics knows nothing of it. :func:`crash_once` returns :class:`~faceanalytics.Options`
that carry a :class:`CrashOnce`. The options travel to every worker inside its ``WorkerConfig``
(pickled into a spawned process, or into a Ray actor), and unpickling them there arms the fault in
that process: the worker module's image reader and video opener are wrapped so that the first
worker to reach frame ``frame`` of a source whose path ends with ``source`` creates the file
``marker`` and exits at once (``os._exit``); later attempts find the marker and carry on. The
process that made the options is never armed.

Workers must be able to import this module: spawned processes inherit ``sys.path``; Ray actors
need this folder on ``PYTHONPATH`` (the ``ray_cluster`` fixture of tests/test_batch.py).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from faceanalytics import Options

__all__ = ["EXIT_CODE", "CrashOnce", "crash_once"]

#: The exit status of a worker the fault kills.
EXIT_CODE = 17


@dataclasses.dataclass(frozen=True)
class CrashOnce:
    source: str
    marker: str
    frame: int = 0
    origin: int = dataclasses.field(default_factory=os.getpid)  # the process that made it: never armed

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if os.getpid() != self.origin:
            _arm(self)

    def matches(self, path: str | os.PathLike) -> bool:
        return str(path).endswith(self.source)

    def fire(self) -> None:
        """Exit this process at once, unless an earlier attempt already did (the marker exists)."""
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.close(fd)
        os._exit(EXIT_CODE)


@dataclasses.dataclass(frozen=True)
class _CrashingOptions(Options):
    crash: CrashOnce | None = None


def crash_once(options: Options, source: str, marker: str | Path, frame: int = 0) -> Options:
    """``options`` with which the first worker to reach frame ``frame`` of ``source`` dies (see the module)."""
    return _CrashingOptions(**dataclasses.asdict(options), crash=CrashOnce(source, str(marker), frame))


class _DyingFrames:
    """A video's frames that end the process before frame ``crash.frame``."""

    def __init__(self, frames: Any, crash: CrashOnce) -> None:
        self._frames, self._crash = frames, crash

    def __iter__(self) -> Iterator[Any]:
        for i, item in enumerate(self._frames):
            if i == self._crash.frame:
                self._crash.fire()
            yield item

    def __getattr__(self, name: str) -> Any:
        return getattr(self._frames, name)


_armed: set[CrashOnce] = set()


def _arm(crash: CrashOnce) -> None:
    """Wrap this worker process's image reader and video opener (once per fault)."""
    if crash in _armed:
        return
    _armed.add(crash)
    from faceanalytics.batch import worker

    read_image, open_video = worker._read_image, worker.open_video_file

    def reading(path: str) -> Any:
        if crash.frame == 0 and crash.matches(path):
            crash.fire()
        return read_image(path)

    def opening(path: Path) -> Any:
        source = open_video(path)
        return _DyingFrames(source, crash) if crash.matches(path) else source

    worker._read_image, worker.open_video_file = reading, opening
