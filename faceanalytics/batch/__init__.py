"""Batch analysis of many images and videos into Parquet, on this machine or a Ray cluster.

    from faceanalytics import Options
    from faceanalytics.batch import run_batch, read_results

    report = run_batch(["videos/", "photos/*.jpg"], "results.parquet", Options(detect_every=5), workers=4)
    faces, sources = read_results("results.parquet")   # pyarrow Tables

One source (an image, or a whole video through one Stream) is analysed by one worker, so the
``local`` and ``ray`` engines give the same rows. Needs ``faceanalytics[batch]`` (pyarrow), and
``faceanalytics[ray]`` for the Ray engine. See docs/scale-out.md.
"""

from faceanalytics.batch.config import BatchError, BatchReport, BatchUsageError, MissingExtraError
from faceanalytics.batch.inputs import Source, Task, expand_inputs, plan_tasks
from faceanalytics.batch.run import ENGINES, read_results, run_batch

__all__ = [
    "ENGINES",
    "BatchError",
    "BatchReport",
    "BatchUsageError",
    "MissingExtraError",
    "Source",
    "Task",
    "expand_inputs",
    "plan_tasks",
    "read_results",
    "run_batch",
]
