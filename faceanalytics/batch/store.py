"""Where a batch run writes: Parquet files that appear complete or not at all, on a local disk or
any pyarrow filesystem, and the part files of a run.

Layout of a run's parts (the output itself with ``partitioned=True``, else a ``.parts`` folder
beside the output, merged and removed at the end)::

    faces/part-<task key>.parquet     face rows of one task
    sources/part-<task key>.parquet   one row per source of that task, written after its faces
    _SUCCESS                          written when every task has its parts (JSON counts)

A task is finished exactly when its ``sources`` part exists. Parts are named by task, and a local
part is written under a hidden temporary name and renamed, so a task run twice (a retry after a
worker died, a resumed run) replaces its parts: nothing is duplicated, and a worker killed while
writing leaves only a hidden temporary file, removed at the end of the run. Object stores (S3, GCS)
have no rename, but an object becomes visible only once its upload completes, so parts are
written to their names directly there.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from faceanalytics.batch.inputs import is_uri, open_filesystem

__all__ = ["ParquetFile", "PartStore", "resolve"]

FACES, SOURCES, SUCCESS = "faces", "sources", "_SUCCESS"


def resolve(location: str) -> tuple[pafs.FileSystem, str]:
    """``(filesystem, path)`` of a local path or a URI."""
    if is_uri(location):
        return open_filesystem(location)
    return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(location))  # noqa: PTH100, PTH111


def _join(*parts: str) -> str:
    return "/".join([parts[0].rstrip("/"), *parts[1:]])


def _parent(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[0] or "/"


class ParquetFile:
    """A Parquet file written in pieces, visible under ``path`` only after :meth:`commit`."""

    def __init__(self, fs: pafs.FileSystem, path: str, schema: pa.Schema) -> None:
        self.fs, self.path = fs, path
        fs.create_dir(_parent(path), recursive=True)
        if fs.type_name == "local":
            name = path.rsplit("/", 1)[-1]
            self._tmp = _join(_parent(path), f".{name}.{uuid.uuid4().hex}.tmp")
        else:
            self._tmp = path
        self._sink = fs.open_output_stream(self._tmp)
        self._writer = pq.ParquetWriter(self._sink, schema)

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(table)

    def commit(self) -> None:
        self._writer.close()
        self._sink.close()
        if self._tmp != self.path:
            self.fs.move(self._tmp, self.path)

    def discard(self) -> None:
        try:
            self._writer.close()
            self._sink.close()
        finally:
            self.fs.delete_file(self._tmp)

    def __enter__(self) -> ParquetFile:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


class PartStore:
    """The part files of one run, under ``root`` (a local folder or a filesystem URI)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.fs, self.base = resolve(root)

    def faces_path(self, key: str) -> str:
        return _join(self.base, FACES, f"part-{key}.parquet")

    def sources_path(self, key: str) -> str:
        return _join(self.base, SOURCES, f"part-{key}.parquet")

    def faces_writer(self, key: str, schema: pa.Schema) -> ParquetFile:
        return ParquetFile(self.fs, self.faces_path(key), schema)

    def write_sources(self, key: str, table: pa.Table) -> None:
        with ParquetFile(self.fs, self.sources_path(key), table.schema) as f:
            f.write(table)

    def read(self, path: str) -> pa.Table:
        return pq.read_table(path, filesystem=self.fs)

    def exists(self, path: str) -> bool:
        return self.fs.get_file_info(path).type != pafs.FileType.NotFound

    def finished(self) -> set[str]:
        """Keys of the tasks whose ``sources`` part exists."""
        return {p[5:-8] for p in self._names(SOURCES) if p.startswith("part-") and p.endswith(".parquet")}

    def _names(self, sub: str) -> list[str]:
        folder = _join(self.base, sub)
        if self.fs.get_file_info(folder).type != pafs.FileType.Directory:
            return []
        return [f.base_name for f in self.fs.get_file_info(pafs.FileSelector(folder)) if f.type == pafs.FileType.File]

    def has_parts(self) -> bool:
        return bool(self._names(FACES) or self._names(SOURCES)) or self.exists(_join(self.base, SUCCESS))

    def remove_task(self, key: str) -> None:
        for path in (self.sources_path(key), self.faces_path(key)):  # sources first: the task is then unfinished
            if self.exists(path):
                self.fs.delete_file(path)

    def tidy(self, keep: set[str]) -> None:
        """Delete temporary files left by killed workers, and parts of tasks not in ``keep``
        (an earlier run's, when a resumed run's inputs changed)."""
        for sub in (FACES, SOURCES):
            for name in self._names(sub):
                stale = name.startswith("part-") and name.endswith(".parquet") and name[5:-8] not in keep
                if (name.startswith(".part-") and name.endswith(".tmp")) or stale:
                    self.fs.delete_file(_join(self.base, sub, name))

    def clear(self) -> None:
        """Delete every part and the success marker (for a run that starts again)."""
        for sub in (FACES, SOURCES):
            folder = _join(self.base, sub)
            if self.fs.get_file_info(folder).type == pafs.FileType.Directory:
                self.fs.delete_dir(folder)
        if self.exists(_join(self.base, SUCCESS)):
            self.fs.delete_file(_join(self.base, SUCCESS))

    def mark_success(self, info: dict[str, Any]) -> None:
        path = _join(self.base, SUCCESS)
        with self.fs.open_output_stream(path) as fh:
            fh.write((json.dumps(info, indent=1) + "\n").encode())

    def delete_all(self) -> None:
        """Remove the whole parts folder (after its parts were merged into single files)."""
        if self.fs.get_file_info(self.base).type == pafs.FileType.Directory:
            self.fs.delete_dir(self.base)
