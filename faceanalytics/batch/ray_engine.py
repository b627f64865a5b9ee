"""The ``ray`` engine: Ray Data ``map_batches`` over the tasks, with an actor pool in which each
actor holds one Pipeline (onnxruntime and MediaPipe sessions), loaded once.

Each task is its own block and its own batch, so a task is the unit Ray retries: an actor that
dies (killed, out of memory, node lost) is restarted and its task retried up to ``retries`` times
(``max_task_retries``). A task that still fails is dropped by Ray Data (``max_errored_blocks=-1``)
instead of failing the whole run, and reported by the caller as failed. Videos are one task each
(one actor per video), so tracking is the same as ``faceanalytics video``'s. Actors get a GPU
fraction when the device is not ``cpu`` and the cluster has GPUs.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from faceanalytics.batch.config import BatchError, MissingExtraError
from faceanalytics.batch.inputs import Task
from faceanalytics.batch.worker import TaskRunner, WorkerConfig

__all__ = ["cluster_plan", "import_ray", "run_ray"]

logger = logging.getLogger("faceanalytics")

OnDone = Callable[[Task, list[dict[str, Any]]], None]
OnFailed = Callable[[Task, str], None]


def import_ray() -> Any:
    """The ``ray`` module, with Ray Data.

    Raises:
        MissingExtraError: Ray Data is not installed.
    """
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise MissingExtraError("the ray engine needs Ray Data: pip install 'faceanalytics[ray]'") from exc
    return ray


class _Actor:
    """A Ray Data callable class: one TaskRunner per actor."""

    def __init__(self, config: WorkerConfig) -> None:
        self.runner = TaskRunner(config)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"key": [], "rows": []}
        for payload in batch["task"]:
            task = Task.from_json(str(payload))
            out["key"].append(task.key)
            out["rows"].append(json.dumps(self.runner.run(task)))
        return out


def cluster_plan(ray: Any, workers: int | None, threads: int, device: str, gpus_per_worker: float | None) -> tuple[int, float]:
    """``(actors, GPUs per actor)`` for the connected cluster."""
    res = ray.cluster_resources()
    cpus, gpus = float(res.get("CPU", 1.0)), float(res.get("GPU", 0.0))
    n = workers or max(1, int(cpus // threads))
    if gpus_per_worker is None:
        gpus_per_worker = min(1.0, gpus / n) if gpus > 0 and device != "cpu" else 0.0
    return n, gpus_per_worker


def run_ray(
    tasks: Sequence[Task],
    config: WorkerConfig,
    *,
    workers: int | None,
    retries: int,
    on_done: OnDone,
    on_failed: OnFailed,
    address: str | None = None,
    gpus_per_worker: float | None = None,
) -> int:
    """Run ``tasks`` on a Ray cluster (``address``; ``None``: the one ``ray.init`` finds or
    starts, or the one already initialised in this process). Returns the number of actors.

    Raises:
        MissingExtraError: Ray is not installed.
        BatchError: Ray could not run the dataset (e.g. actors that cannot start).
    """
    ray = import_ray()
    started = False
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING)
        started = True
    ctx = ray.data.DataContext.get_current()
    saved = (ctx.max_errored_blocks, ctx.enable_progress_bars)
    try:
        ctx.max_errored_blocks = -1  # a task that keeps killing its actor is reported, not fatal
        ctx.enable_progress_bars = False  # run_batch reports progress through its own callback
        threads = config.options.threads or 1
        n, gpus = cluster_plan(ray, workers, threads, str(config.options.device), gpus_per_worker)
        n = min(n, len(tasks))
        logger.info("ray: %d actor(s), %d CPU and %.2f GPU each, %d task(s)", n, threads, gpus, len(tasks))
        by_key = {t.key: t for t in tasks}
        ds = ray.data.from_items([{"task": t.to_json()} for t in tasks], override_num_blocks=len(tasks))
        with warnings.catch_warnings():
            # Ray 2.60 deprecates passing actor options as extra keyword arguments but offers no named
            # parameter for retries yet; without them Ray Data would retry a crashing task forever.
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
            results = ds.map_batches(
                _Actor,
                fn_constructor_kwargs={"config": config},
                batch_size=1,
                compute=ray.data.ActorPoolStrategy(size=n),
                num_cpus=threads,
                num_gpus=gpus or None,
                max_restarts=-1,
                max_task_retries=retries,
            )
        done: set[str] = set()
        try:
            for batch in results.iter_batches(batch_size=None, batch_format="numpy"):
                for key, rows in zip(batch["key"], batch["rows"], strict=True):
                    key = str(key)
                    if key in by_key and key not in done:
                        done.add(key)
                        on_done(by_key[key], json.loads(str(rows)))
        except Exception as exc:  # RayError and friends: actors that cannot start, a lost cluster
            raise BatchError(f"ray: {exc}") from exc
        for task in tasks:
            if task.key not in done:
                on_failed(task, f"its Ray worker died on each of {retries + 1} attempts")
        return n
    finally:
        ctx.max_errored_blocks, ctx.enable_progress_bars = saved
        if started:
            ray.shutdown()
