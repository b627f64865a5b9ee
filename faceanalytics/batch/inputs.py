"""What to analyse: INPUTS (files, folders, globs, manifests, filesystem URIs) expanded into
sources, and sources grouped into tasks, the units of work the engines hand to workers.

A *source* is one image or one video. Local paths become absolute (workers may run in another
folder); ``scheme://`` URIs (``s3://bucket/key``, ``gs://``, ``hdfs://``, ``file://``) are read
through pyarrow's filesystems and kept as written. An input that resolves to nothing (a missing
file, a glob or folder without images or videos) becomes a source with an ``error``, so it is
reported with the others rather than stopping the run.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from faceanalytics.batch.config import BatchUsageError, MissingExtraError
from faceanalytics.io.video_source import IMAGE_SUFFIXES

__all__ = ["MANIFEST_SUFFIXES", "VIDEO_SUFFIXES", "Source", "Task", "expand_inputs", "open_filesystem", "plan_tasks"]

VIDEO_SUFFIXES = {
    ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts", ".mts", ".m2ts", ".3gp", ".ogv",
}  # fmt: skip
#: Text files listing one input per line (``@FILE`` marks a manifest of any name).
MANIFEST_SUFFIXES = {".txt", ".lst", ".list"}

_GLOB_CHARS = "*?["


@dataclass(frozen=True)
class Source:
    """One image or video.

    Attributes:
        path: absolute local path, or a filesystem URI as given.
        kind: ``"image"``, ``"video"``, or ``""`` when the input did not resolve (see ``error``).
        error: why the input could not be resolved; ``""`` otherwise.
    """

    path: str
    kind: str
    error: str = ""


@dataclass(frozen=True)
class Task:
    """A unit of work: one video, or up to ``images_per_task`` images (and unresolved inputs).

    ``key`` is derived from the source paths, so the same inputs give the same keys run after run:
    part files are named by it, which makes a retried or resumed task replace its earlier output.
    """

    key: str
    sources: tuple[Source, ...]

    @classmethod
    def of(cls, sources: Sequence[Source]) -> Task:
        digest = hashlib.sha1("\0".join(s.path for s in sources).encode(), usedforsecurity=False).hexdigest()
        return cls(digest[:20], tuple(sources))

    def to_json(self) -> str:
        return json.dumps({"key": self.key, "sources": [[s.path, s.kind, s.error] for s in self.sources]})

    @classmethod
    def from_json(cls, text: str) -> Task:
        data = json.loads(text)
        return cls(data["key"], tuple(Source(*s) for s in data["sources"]))


def is_uri(path: str) -> bool:
    head, sep, _ = path.partition("://")
    return bool(sep) and head.isalnum() and len(head) > 1  # not a Windows drive letter


def open_filesystem(uri: str) -> tuple[Any, str]:
    """``(pyarrow FileSystem, path in it)`` for a URI."""
    try:
        from pyarrow import fs as pafs
    except ImportError as exc:
        raise MissingExtraError("reading URIs needs pyarrow: pip install 'faceanalytics[batch]'") from exc
    return pafs.FileSystem.from_uri(uri)


def _kind(name: str, explicit: bool) -> str | None:
    suffix = PurePosixPath(name).suffix.lower()  # paths and URIs alike
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES or explicit:  # a file named explicitly is tried as a video: OpenCV reads many formats
        return "video"
    return None


def expand_inputs(inputs: Iterable[str]) -> list[Source]:
    """Sources of ``inputs``, sorted by path, each once.

    Each input is a file, a folder (searched recursively for images and videos, hidden entries
    skipped), a glob (``**`` crosses folders; quote it from the shell), a manifest (``@FILE``, or a
    ``.txt``/``.lst``/``.list`` file: one input per line, ``#`` comments, paths relative to the
    manifest's folder), or any of these as a URI. Folders and globs take files with image or video
    suffixes; a file named explicitly is always taken (an unknown suffix is tried as a video).

    Raises:
        BatchUsageError: no inputs at all.
        MissingExtraError: a URI without pyarrow installed.
    """
    found: dict[str, Source] = {}
    items = list(inputs)
    if not items:
        raise BatchUsageError("no inputs given")
    for item in items:
        for src in _expand(item, base=None, in_manifest=False):
            if src.path not in found or (found[src.path].error and not src.error):
                found[src.path] = src
    return [found[p] for p in sorted(found)]


def _expand(item: str, base: str | None, in_manifest: bool) -> list[Source]:
    item = item.strip()
    if not in_manifest and item.startswith("@"):
        return _manifest(item[1:], base)
    if is_uri(item):
        return _expand_uri(item, in_manifest)
    path = _absolute(item, base)
    if any(ch in item for ch in _GLOB_CHARS) and not Path(path).exists():
        matches = sorted(p for p in glob.glob(path, recursive=True) if Path(p).is_file())  # noqa: PTH207 (any pattern)
        out = [Source(_absolute(p), k) for p in matches if (k := _kind(p, explicit=False))]
        return out or [Source(path, "", f"no images or videos match {item!r}")]
    if Path(path).is_dir():
        out = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            out += [Source(str(Path(root, f)), k) for f in files if not f.startswith(".") and (k := _kind(f, explicit=False))]
        return out or [Source(path, "", f"no images or videos in folder {path}")]
    if not in_manifest and Path(path).suffix.lower() in MANIFEST_SUFFIXES:
        return _manifest(path, base)
    if Path(path).is_file():
        return [Source(path, _kind(path, explicit=True) or "video")]
    return [Source(path, "", "not found")]


def _absolute(path: str, base: str | None = None) -> str:
    """Absolute and normalised, symbolic links kept (unlike ``Path.resolve``)."""
    p = Path(path).expanduser()
    return os.path.abspath(p if base is None or p.is_absolute() else Path(base, p))  # noqa: PTH100


def _manifest(item: str, base: str | None) -> list[Source]:
    if is_uri(item):
        fs, path = open_filesystem(item)
        try:
            with fs.open_input_stream(path) as fh:
                text = fh.read().decode("utf-8")
        except OSError as exc:
            return [Source(item, "", f"cannot read manifest: {exc}")]
        folder = item.rsplit("/", 1)[0]
        join = lambda line: line if is_uri(line) or line.startswith("/") else f"{folder}/{line}"  # noqa: E731
    else:
        path = _absolute(item, base)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return [Source(path, "", f"cannot read manifest: {exc}")]
        folder = str(Path(path).parent)
        join = lambda line: line  # noqa: E731 (resolved against `folder` by _expand)
    out: list[Source] = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out += _expand(join(line), base=folder, in_manifest=True)
    return out


def _expand_uri(uri: str, in_manifest: bool) -> list[Source]:
    pattern = None
    if any(ch in uri for ch in _GLOB_CHARS):
        pattern = uri
        uri = uri[: min(uri.index(ch) for ch in _GLOB_CHARS if ch in uri)].rsplit("/", 1)[0]
    elif not in_manifest and PurePosixPath(uri).suffix.lower() in MANIFEST_SUFFIXES:
        return _manifest(uri, None)
    try:
        from pyarrow import fs as pafs

        fs, root = open_filesystem(uri)
        info = fs.get_file_info(root)
        if info.type == pafs.FileType.File and pattern is None:
            return [Source(uri, _kind(uri, explicit=True) or "video")]
        if info.type != pafs.FileType.Directory:
            return [Source(pattern or uri, "", "not found")]
        listing = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    except (OSError, ValueError) as exc:  # pyarrow: ArrowInvalid (a ValueError) for a bad URI
        return [Source(pattern or uri, "", f"cannot list: {exc}")]
    prefix, root = uri.rstrip("/"), root.rstrip("/")
    out = []
    for f in listing:
        rel = f.path[len(root) :]
        if f.type != pafs.FileType.File or any(part.startswith(".") for part in rel.split("/")):
            continue
        full = prefix + rel
        if (pattern is None or _matches(full, pattern)) and (k := _kind(full, explicit=False)):
            out.append(Source(full, k))
    what = f"no images or videos match {pattern!r}" if pattern else f"no images or videos under {uri}"
    return out or [Source(pattern or uri, "", what)]


def _matches(path: str, pattern: str) -> bool:
    """Glob match for URIs: ``*`` and ``**`` cross folders; ``**/`` also matches no folder (as in ``glob``)."""
    return fnmatch.fnmatchcase(path, pattern) or ("**/" in pattern and fnmatch.fnmatchcase(path, pattern.replace("**/", "")))


def plan_tasks(sources: Sequence[Source], images_per_task: int = 16) -> list[Task]:
    """Group sources into tasks, in source order: each video alone; runs of consecutive images
    (and unresolved inputs) in groups of up to ``images_per_task``."""
    if not isinstance(images_per_task, int) or images_per_task < 1:
        raise BatchUsageError(f"images_per_task must be a positive integer; got {images_per_task!r}")
    tasks: list[Task] = []
    group: list[Source] = []
    for src in sources:
        if src.kind == "video":
            if group:
                tasks.append(Task.of(group))
                group = []
            tasks.append(Task.of([src]))
            continue
        group.append(src)
        if len(group) == images_per_task:
            tasks.append(Task.of(group))
            group = []
    if group:
        tasks.append(Task.of(group))
    return tasks
