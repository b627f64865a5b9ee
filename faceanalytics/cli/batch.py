"""``faceanalytics batch``: the sub-command's arguments and what it runs.

Kept apart from :mod:`faceanalytics.cli`, which only registers the parser and dispatches here;
importing this module needs neither pyarrow nor Ray.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

__all__ = ["add_batch_parser", "batch_command"]

logger = logging.getLogger("faceanalytics")


def add_batch_parser(sub: Any) -> None:
    """Add ``batch`` to the sub-parsers of the ``faceanalytics`` command."""
    from faceanalytics.cli.options import add_pipeline_options, int_at_least, number_in

    b = sub.add_parser(
        "batch",
        help="analyse many images and videos into Parquet tables, here or on a Ray cluster",
        description="One row per face per frame (the video CSV's columns plus source and face index) and one row per "
        "source. Exit code 1 when some inputs failed (each named on stderr and in the source table).",
    )
    b.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="image or video files, folders (searched recursively), quoted globs, manifests (@FILE or .txt/.lst: one "
        "input per line), or URIs (s3://bucket/prefix/)",
    )
    b.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="PATH",
        help="face table X.parquet (the source table goes to X.sources.parquet); a folder with --partitioned",
    )
    b.add_argument("--engine", choices=["local", "ray"], default="local", help="worker processes here, or Ray (default: local)")
    b.add_argument("--ray-address", metavar="ADDR", help="Ray cluster to join, e.g. auto (default: $RAY_ADDRESS, else start one)")
    b.add_argument("--workers", type=int_at_least(1), metavar="N", help="worker processes or Ray actors (default: one per CPU)")
    b.add_argument(
        "--gpus-per-worker",
        type=number_in(0.0, above=True),
        metavar="F",
        help="Ray: GPU fraction per actor (default: GPUs / actors)",
    )
    b.add_argument(
        "--images-per-task", type=int_at_least(1), default=16, metavar="N", help="images per unit of work (default: 16)"
    )
    b.add_argument(
        "--retries", type=int_at_least(0), default=2, metavar="N", help="retries of a task whose worker died (default: 2)"
    )
    b.add_argument("--partitioned", action="store_true", help="write a folder of part files, one per task, instead of two files")
    b.add_argument("--resume", action="store_true", help="finish an interrupted run: keep the tasks it completed")
    b.add_argument("--overwrite", action="store_true", help="replace an existing output")
    b.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_pipeline_options(  # a model path must exist on every worker
        b,
        video=True,
        max_faces_help="at most N faces per image, tracks per video (default: all)",
        threads_default=1,
        threads_help="onnxruntime threads per worker (default: 1)",
        device_help="auto, cpu, cuda, cuda:N or tensorrt, per worker (default: auto)",
    )


def batch_command(args: argparse.Namespace) -> int:
    """Run ``faceanalytics batch``; returns the exit code (0, 1 some inputs failed, 2 usage, 130)."""
    from tqdm import tqdm

    from faceanalytics.batch.config import BatchUsageError
    from faceanalytics.batch.run import run_batch
    from faceanalytics.cli.options import EXIT_FAILED, EXIT_OK, EXIT_USAGE, input_message, options_from_args

    try:
        options = options_from_args(args)
    except BatchUsageError as exc:
        print(f"faceanalytics: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    bar = tqdm(total=None, unit="source", disable=args.quiet or None, desc="batch")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        report = run_batch(
            args.inputs,
            args.output,
            options,
            engine=args.engine,
            workers=args.workers,
            retries=args.retries,
            images_per_task=args.images_per_task,
            partitioned=args.partitioned,
            resume=args.resume,
            overwrite=args.overwrite,
            ray_address=args.ray_address,
            gpus_per_worker=args.gpus_per_worker,
            progress=progress,
        )
    except BatchUsageError as exc:
        print(f"faceanalytics: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"faceanalytics: interrupted; run again with --resume to finish {args.output}", file=sys.stderr)
        return 130
    finally:
        bar.close()
    for source, error in report.failed:
        print(f"faceanalytics: error: {input_message(source, error)}", file=sys.stderr)
    logger.info(
        "%d source(s), %d failed, %d frames, %d face rows in %.1f s (%d resumed); wrote %s and %s",
        report.sources,
        len(report.failed),
        report.frames,
        report.faces,
        report.seconds,
        report.resumed,
        report.faces_path,
        report.sources_path,
    )
    return EXIT_FAILED if report.failed else EXIT_OK
