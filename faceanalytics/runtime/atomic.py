"""Files that appear complete or not at all: write to a temporary file beside the target, rename."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["AtomicFile"]

_ATTEMPTS = 100


def _create_new(directory: Path, prefix: str, suffix: str) -> Path:
    """Create an empty file of a new random name in ``directory``, with the permissions of any new
    file: ``os.open`` with mode 0o666 lets the kernel apply the process's umask, as ``open()`` does.

    (``tempfile.mkstemp`` would create it 0o600, and learning the umask to widen that means
    setting it, which changes it for every thread of the process for a moment.)
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(_ATTEMPTS):
        path = directory / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            fd = os.open(path, flags, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return path
    raise FileExistsError(f"no free temporary name for {prefix}*{suffix} in {directory}")


class AtomicFile:
    """A hidden temporary file (``.tmp``) beside ``target``.

    ``commit()`` renames it onto the target; it was created with the usual permissions of new files
    (0o666 less the umask). ``discard()`` deletes it. As a context manager it yields the temporary
    path and commits when the block succeeds, discards when it raises.
    """

    def __init__(self, target: str | os.PathLike) -> None:
        self.target = Path(target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        # Same extension as the target: writers such as cv2.VideoWriter choose the format by it.
        self.tmp = _create_new(self.target.parent, f".{self.target.name}.", f".part{self.target.suffix}")

    def commit(self) -> None:
        self.tmp.replace(self.target)

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> Path:
        return self.tmp

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()
