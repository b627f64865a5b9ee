"""The ``local`` engine: a pool of worker processes on this machine, one Pipeline each.

The pool is managed here rather than by ``concurrent.futures`` so that a worker that dies (a
crash in native code, the out-of-memory killer) costs only the task it was running: that task is
retried in a fresh process, up to ``retries`` times, while the other workers carry on. Workers are
started with ``spawn`` (onnxruntime and MediaPipe are not fork-safe) and ignore Ctrl-C, which the
parent handles by stopping them.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from faceanalytics.batch.config import BatchError
from faceanalytics.batch.inputs import Task
from faceanalytics.batch.worker import TaskRunner, WorkerConfig
from faceanalytics.core.errors import FaceAnalyticsError

__all__ = ["run_local"]

logger = logging.getLogger("faceanalytics")

OnDone = Callable[[Task, list[dict[str, Any]]], None]
OnFailed = Callable[[Task, str], None]


def _worker_main(conn: Connection, config: WorkerConfig) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        runner = TaskRunner(config)
    except BaseException as exc:  # set-up failed: tell the parent, which stops the run
        conn.send(("setup", exc if isinstance(exc, FaceAnalyticsError) else BatchError(f"worker set-up failed: {exc!r}")))
        return
    conn.send(("ready", None))
    try:
        while True:
            try:
                task = conn.recv()
            except EOFError:
                return
            if task is None:
                return
            try:
                conn.send(("done", runner.run(task)))
            except Exception as exc:  # writing the parts failed
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        runner.close()


#: Thread pools of the numeric libraries, sized when they load; Ray sets the first to an actor's CPUs.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _thread_env(threads: int) -> Iterator[None]:
    """The environment a child process starts with: thread pools of ``threads`` unless the user set
    them. The variables must be there when the child imports numpy, so they are set here, around
    ``start()``, and removed again."""
    added = [v for v in _THREAD_VARS if v not in os.environ]
    for v in added:
        os.environ[v] = str(threads)
    try:
        yield
    finally:
        for v in added:
            os.environ.pop(v, None)


class _Worker:
    def __init__(self, ctx: Any, config: WorkerConfig) -> None:
        self.conn, child = ctx.Pipe()
        self.process: BaseProcess = ctx.Process(
            target=_worker_main, args=(child, config), daemon=True, name="faceanalytics-batch"
        )
        with _thread_env(config.options.threads or 1):
            self.process.start()
        child.close()  # the parent keeps one end: the pipe reads EOF when the child dies
        self.task: Task | None = None
        self.ready = False  # models loaded

    def stop(self, graceful: bool = True, timeout: float = 5.0) -> None:
        """Ask the worker to finish (it ends after its current task), else terminate it."""
        if graceful and self.process.is_alive():
            with contextlib.suppress(OSError):
                self.conn.send(None)
            self.process.join(timeout)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout)
        self.conn.close()


def cpu_count() -> int:
    """CPUs this process may use (its affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def run_local(
    tasks: Sequence[Task], config: WorkerConfig, *, workers: int, retries: int, on_done: OnDone, on_failed: OnFailed
) -> None:
    """Run ``tasks`` on ``workers`` processes; each result goes to ``on_done``, each task that
    killed its worker more than ``retries`` times to ``on_failed``.

    Raises:
        FaceAnalyticsError: a worker could not set up (model, device), or workers keep dying
            before finishing any task.
    """
    ctx = multiprocessing.get_context("spawn")
    pending = deque(tasks)
    attempts: dict[str, int] = {}
    pool: list[_Worker] = []
    setup_deaths = 0  # workers dead before loading their models, in a row: a broken environment
    try:
        pool = [_Worker(ctx, config) for _ in range(min(workers, len(pending)))]
        while pending or any(w.task for w in pool):
            for w in pool:
                if w.task is None and pending:
                    w.task = pending.popleft()
                    w.conn.send(w.task)
            ready = wait([w.conn for w in pool])
            for w in [w for w in pool if w.conn in ready]:
                try:
                    kind, payload = w.conn.recv()
                except (EOFError, OSError):
                    kind, payload = "died", None
                if kind == "setup":
                    raise payload
                if kind == "ready":
                    w.ready, setup_deaths = True, 0
                    continue
                task, w.task = w.task, None
                if kind == "done" and task is not None:
                    on_done(task, payload)
                elif kind == "error" and task is not None:
                    on_failed(task, payload)
                elif kind == "died":
                    w.process.join(5.0)
                    code = w.process.exitcode
                    pool.remove(w)
                    w.stop()
                    if not w.ready:  # not the task's fault: give it back uncharged
                        setup_deaths += 1
                        if setup_deaths > max(3, workers):
                            raise BatchError(f"worker processes die while loading the models (last exit code {code})")
                        if task is not None:
                            pending.appendleft(task)
                    elif task is not None:
                        n = attempts[task.key] = attempts.get(task.key, 0) + 1
                        logger.warning("a worker died (exit code %s) on task %s, attempt %d", code, task.key, n)
                        if n > retries:
                            on_failed(task, f"the worker process died (exit code {code}) on each of {n} attempts")
                        else:
                            pending.appendleft(task)
                    if pending and len(pool) < workers:
                        pool.append(_Worker(ctx, config))
    except BaseException:  # Ctrl-C, a set-up error: stop at once; finished parts stay for --resume
        for w in pool:
            w.stop(graceful=False)
        raise
    for w in pool:
        w.stop()
