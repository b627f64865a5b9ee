"""A batch run from start to end: check the output, expand and plan the inputs, resume what an
earlier run finished, hand the rest to an engine, record failures, and write the result tables."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from faceanalytics.batch.config import REPORT_COLUMNS, BatchReport, BatchUsageError, MissingExtraError
from faceanalytics.batch.inputs import Task, expand_inputs, plan_tasks
from faceanalytics.core.options import Options

__all__ = ["ENGINES", "read_results", "run_batch", "sources_path_for"]

logger = logging.getLogger("faceanalytics")

ENGINES = ("local", "ray")


def _require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError("faceanalytics batch writes Parquet with pyarrow: pip install 'faceanalytics[batch]'") from exc


def sources_path_for(output: str) -> str:
    """The per-source table beside a single-file face table: ``x.parquet`` -> ``x.sources.parquet``."""
    stem = output[: -len(".parquet")] if output.endswith(".parquet") else output
    return f"{stem}.sources.parquet"


def run_batch(
    inputs: Sequence[str],
    output: str,
    options: Options | None = None,
    *,
    engine: str = "local",
    workers: int | None = None,
    retries: int = 2,
    images_per_task: int = 16,
    partitioned: bool = False,
    resume: bool = False,
    overwrite: bool = False,
    ray_address: str | None = None,
    gpus_per_worker: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BatchReport:
    """Analyse images and videos into Parquet tables (see docs/scale-out.md).

    Args:
        inputs: files, folders, globs, manifests, URIs (:func:`~faceanalytics.batch.expand_inputs`).
        output: the face table ``x.parquet`` (and ``x.sources.parquet``); with ``partitioned`` a
            folder holding ``faces/`` and ``sources/`` part files. A local path or a URI.
        options: how each source is analysed.
        engine: ``"local"`` (worker processes here) or ``"ray"``.
        workers: worker processes or Ray actors (default: this machine's CPUs, the cluster's CPUs
            divided by ``options.threads``).
        retries: attempts after the first for a task whose worker died.
        images_per_task: images analysed as one task (each video is a task of its own).
        partitioned: keep one part file per task instead of merging into single files.
        resume: keep the finished tasks of an earlier interrupted run into the same output.
        overwrite: replace an existing output.
        ray_address: Ray cluster to join (``"auto"``, ``"ray://head:10001"``); ``None``: the
            ``RAY_ADDRESS`` one, else a new local cluster; an already initialised Ray is used as is.
        gpus_per_worker: Ray GPU fraction per actor (default: the cluster's GPUs shared among the
            actors when ``options.device`` is not ``"cpu"``).
        progress: called with ``(sources done, sources in all)`` as tasks finish.

    Returns:
        A :class:`BatchReport`; sources that failed are in ``report.failed`` and in the source table.

    Raises:
        BatchUsageError: bad arguments, or an output that exists (without ``overwrite``/``resume``).
        MissingExtraError: pyarrow (or Ray for ``engine="ray"``) is not installed.
        FaceAnalyticsError: set-up failed (landmark model, detector weights, device).
        BatchError: the engine could not run.
    """
    t0 = time.perf_counter()
    if engine not in ENGINES:
        raise BatchUsageError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    for name, value, low in (("workers", workers, 1), ("retries", retries, 0)):
        if value is not None and (not isinstance(value, int) or value < low):
            raise BatchUsageError(f"{name} must be an integer >= {low}; got {value!r}")
    if gpus_per_worker is not None and not (0 <= gpus_per_worker <= 1e6):
        raise BatchUsageError(f"gpus_per_worker must be >= 0; got {gpus_per_worker!r}")
    options = options or Options()
    if options.threads is None:  # one worker is one process or Ray actor: one thread each unless told otherwise
        options = options.replace(threads=1)
    _require_pyarrow()
    if engine == "ray":
        from faceanalytics.batch.ray_engine import import_ray

        import_ray()  # before any work
    from faceanalytics.batch.store import FACES, SOURCES, PartStore, resolve

    parts_root = output if partitioned else f"{output.rstrip('/')}.parts"
    store = PartStore(parts_root)
    _check_output(output, store, partitioned, resume, overwrite)

    sources = expand_inputs(inputs)
    tasks = plan_tasks(sources, images_per_task)
    num_points = _setup_check(options)
    from faceanalytics.batch.worker import WorkerConfig

    config = WorkerConfig(options, parts_root, num_points)
    if overwrite and not resume:
        store.clear()

    results: dict[str, list[dict[str, Any]]] = {}
    todo = tasks
    if resume:
        finished = store.finished()
        for task in tasks:
            if task.key in finished:
                rows = store.read(store.sources_path(task.key)).select(list(REPORT_COLUMNS)).to_pylist()
                if [r["source"] for r in rows] == [s.path for s in task.sources]:
                    results[task.key] = rows  # finished, failures included: --overwrite redoes everything
        todo = [t for t in tasks if t.key not in results]
    resumed = sum(len(rows) for rows in results.values())
    logger.info("%d source(s) in %d task(s); %d resumed, %d to do", len(sources), len(tasks), resumed, len(sources) - resumed)

    done_sources = resumed

    def on_done(task: Task, rows: list[dict[str, Any]]) -> None:
        nonlocal done_sources
        results[task.key] = rows
        done_sources += len(task.sources)
        for row in rows:
            if row["status"] != "ok":
                logger.info("failed: %s: %s", row["source"], row["error"])
        if progress:
            progress(done_sources, len(sources))

    def on_failed(task: Task, error: str) -> None:
        import pyarrow as pa

        from faceanalytics.batch.tables import SOURCE_SCHEMA, source_row

        store.remove_task(task.key)  # a face part from a half-finished attempt
        kinds = {s.path: s.kind or None for s in task.sources}
        rows = [source_row(s.path, kind=kinds[s.path], status="failed", error=s.error or error) for s in task.sources]
        with store.faces_writer(task.key, _face_schema(num_points)):
            pass  # an empty face part, so every task has both parts
        store.write_sources(task.key, pa.Table.from_pylist(rows, schema=SOURCE_SCHEMA))
        on_done(task, [{k: r[k] for k in REPORT_COLUMNS} for r in rows])

    used_workers = 0
    if todo:
        if engine == "local":
            from faceanalytics.batch.local import cpu_count, run_local

            used_workers = min(workers or cpu_count(), len(todo))
            run_local(todo, config, workers=used_workers, retries=retries, on_done=on_done, on_failed=on_failed)
        else:
            from faceanalytics.batch.ray_engine import run_ray

            used_workers = run_ray(
                todo,
                config,
                workers=workers,
                retries=retries,
                on_done=on_done,
                on_failed=on_failed,
                address=ray_address,
                gpus_per_worker=gpus_per_worker,
            )
    store.tidy({t.key for t in tasks})

    rows = [row for t in tasks for row in results[t.key]]
    failed = tuple((r["source"], r["error"] or "failed") for r in rows if r["status"] != "ok")
    frames = sum(r["frames"] for r in rows)
    faces = sum(r["faces"] for r in rows)
    counts = {"sources": len(rows), "failed": len(failed), "frames": frames, "faces": faces, "tasks": len(tasks)}
    if partitioned:
        store.mark_success(counts)
        faces_path, sources_path = f"{output.rstrip('/')}/{FACES}", f"{output.rstrip('/')}/{SOURCES}"
    else:
        faces_path, sources_path = output, sources_path_for(output)
        _merge(store, tasks, num_points, resolve(faces_path), resolve(sources_path))
        store.delete_all()
    return BatchReport(
        faces_path=faces_path,
        sources_path=sources_path,
        sources=len(rows),
        failed=failed,
        frames=frames,
        faces=faces,
        resumed=resumed,
        seconds=time.perf_counter() - t0,
        engine=engine,
        workers=used_workers,
    )


def _face_schema(num_points: int) -> Any:
    from faceanalytics.batch.tables import face_schema

    return face_schema(num_points)


def _setup_check(options: Options) -> int:
    """Load the models once here, so a set-up error stops the run before any worker starts;
    returns the landmark model's number of points."""
    from faceanalytics.batch.worker import make_pipeline

    with make_pipeline(options) as pipe:
        pipe.load()
        return pipe.schema.num_points


def _check_output(output: str, store: Any, partitioned: bool, resume: bool, overwrite: bool) -> None:
    from pyarrow import fs as pafs

    from faceanalytics.batch.store import resolve

    fs, path = resolve(output)
    kind = fs.get_file_info(path).type
    if partitioned:
        if kind == pafs.FileType.File:
            raise BatchUsageError(f"{output} is a file; partitioned output is a folder")
        if store.has_parts() and not (resume or overwrite):
            raise BatchUsageError(
                f"{output} holds the parts of another run; pass --resume to finish it or --overwrite to replace it"
            )
        return
    if kind == pafs.FileType.Directory:
        raise BatchUsageError(f"{output} is a folder; give a file name (or --partitioned for a folder of parts)")
    if store.has_parts() and not (resume or overwrite):
        raise BatchUsageError(
            f"an earlier run into {output} was interrupted ({store.root} holds its finished parts); "
            "pass --resume to finish it or --overwrite to start again"
        )
    if kind == pafs.FileType.File and not (overwrite or (resume and store.has_parts())):
        raise BatchUsageError(f"{output} exists; pass --overwrite to replace it")


def _merge(
    store: Any, tasks: Sequence[Task], num_points: int, faces_target: tuple[Any, str], sources_target: tuple[Any, str]
) -> None:
    """Concatenate the parts, in task (that is source) order, into the two single files."""
    import pyarrow as pa

    from faceanalytics.batch.store import ParquetFile
    from faceanalytics.batch.tables import SOURCE_SCHEMA

    group_rows = 100_000
    with ParquetFile(*faces_target, _face_schema(num_points)) as out:
        pending: list[Any] = []
        rows = 0
        for task in tasks:
            table = store.read(store.faces_path(task.key))
            pending.append(table)
            rows += table.num_rows
            if rows >= group_rows:
                out.write(pa.concat_tables(pending))
                pending, rows = [], 0
        if pending:
            out.write(pa.concat_tables(pending))
    sources = pa.concat_tables([store.read(store.sources_path(t.key)) for t in tasks]) if tasks else SOURCE_SCHEMA.empty_table()
    with ParquetFile(*sources_target, SOURCE_SCHEMA) as out:
        out.write(sources.cast(SOURCE_SCHEMA))


def read_results(output: str) -> tuple[Any, Any]:
    """``(faces, sources)`` pyarrow Tables of a finished run, sorted by source, frame and face;
    ``output`` as given to :func:`run_batch` (a single file or a partitioned folder)."""
    _require_pyarrow()
    import pyarrow.dataset as pads
    import pyarrow.parquet as pq

    from faceanalytics.batch.store import FACES, SOURCES, resolve

    fs, path = resolve(output)
    from pyarrow import fs as pafs

    if fs.get_file_info(path).type == pafs.FileType.Directory:
        faces = pads.dataset(f"{path.rstrip('/')}/{FACES}", filesystem=fs, format="parquet").to_table()
        sources = pads.dataset(f"{path.rstrip('/')}/{SOURCES}", filesystem=fs, format="parquet").to_table()
    else:
        faces = pq.read_table(path, filesystem=fs)
        sources = pq.read_table(resolve(sources_path_for(output))[1], filesystem=fs)
    faces = faces.sort_by([("source", "ascending"), ("frame", "ascending"), ("face", "ascending")])
    return faces, sources.sort_by([("source", "ascending")])
