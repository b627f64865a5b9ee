"""Files that appear complete or not at all: write to a temporary file beside the target, rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["AtomicFile"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class AtomicFile:
    """A hidden temporary file (``.tmp``) beside ``target``.

    ``commit()`` renames it onto the target with the usual permissions of new files; ``discard()``
    deletes it. As a context manager it yields the temporary path and commits when the block
    succeeds, discards when it raises.
    """

    def __init__(self, target: str | os.PathLike) -> None:
        self.target = Path(target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        # Same extension as the target: writers such as cv2.VideoWriter choose the format by it.
        fd, name = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=f".part{self.target.suffix}", dir=self.target.parent)
        os.close(fd)
        self.tmp = Path(name)

    def commit(self) -> None:
        self.tmp.chmod(0o666 & ~_umask())
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
