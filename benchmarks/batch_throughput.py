"""Throughput of ``faceanalytics batch``: frames per second for the local and Ray engines with 1
and 2 workers, on generated clips and images (a real face moving over a plain background).

    python benchmarks/batch_throughput.py                       # 16 clips of 300 frames 640x480, 32 images
    python benchmarks/batch_throughput.py --engines local --workers 1,2,4

Frames per second are all frames (an image counts as one) over the wall time of ``run_batch``:
worker start-up (model loading), analysis, and merging the parts. For Ray the local cluster is
started before the clock starts; its actors start inside the timed run. "per worker busy" is the
frames over the time workers spent analysing (the source table's ``seconds``): one worker's speed
without start-up and hand-over. Needs ../shared (the face)
or scikit-image (its astronaut), pyarrow, and Ray for the ray rows.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from faceanalytics import Options  # noqa: E402
from faceanalytics.batch import read_results, run_batch  # noqa: E402


def _face() -> np.ndarray:
    shared = REPO.parent / "shared" / "data" / "landmarks68" / "images" / "test_Adam_Sandler_01.jpg"
    if shared.is_file():
        return cv2.imread(str(shared))
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[30:230, 130:330]


def make_inputs(root: Path, videos: int, frames: int, images: int, size: tuple[int, int]) -> int:
    """Write the clips and images; returns the number of frames in all."""
    w, h = size
    face = cv2.resize(_face(), (h // 2, h // 2))
    fs = face.shape[0]
    (root / "clips").mkdir(parents=True)
    (root / "photos").mkdir()
    for v in range(videos):
        out = cv2.VideoWriter(str(root / "clips" / f"clip{v:02d}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 30, size)
        for i in range(frames):
            frame = np.full((h, w, 3), 60 + 10 * v % 100, np.uint8)
            x = int((w - fs) * (0.5 + 0.45 * np.sin(i / 20 + v)))
            y = int((h - fs) * (0.5 + 0.45 * np.cos(i / 27 + v)))
            frame[y : y + fs, x : x + fs] = face
            out.write(frame)
        out.release()
    for k in range(images):
        frame = np.full((h, w, 3), 40 + 5 * k % 150, np.uint8)
        x, y = (k * 37) % (w - fs), (k * 23) % (h - fs)
        frame[y : y + fs, x : x + fs] = face
        cv2.imwrite(str(root / "photos" / f"photo{k:03d}.jpg"), frame)
    return videos * frames + images


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", type=int, default=16)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--engines", default="local,ray")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--detect-every", type=int, default=10)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    size = tuple(int(v) for v in args.size.split("x"))
    options = Options(detect_every=args.detect_every)
    engines = args.engines.split(",")
    counts = [int(n) for n in args.workers.split(",")]
    with tempfile.TemporaryDirectory(prefix="fa-batch-bench-") as tmp:
        root = Path(tmp)
        total = make_inputs(root / "in", args.videos, args.frames, args.images, size)  # type: ignore[arg-type]
        inputs = [str(root / "in")]
        print(
            f"{args.videos} clips x {args.frames} frames {args.size} + {args.images} images = {total} frames; "
            f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, detect every {args.detect_every}"
        )
        print("\n| engine | workers | wall s | frames/s | per worker busy, frames/s | face rows |\n|---|---|---|---|---|---|")
        for engine in engines:
            if engine == "ray":
                try:
                    import ray
                except ImportError:
                    print("| ray | | | not installed | |")
                    continue
                ray.init(include_dashboard=False, logging_level=logging.WARNING)
            for n in counts:
                out = root / f"{engine}-{n}.parquet"
                t0 = time.perf_counter()
                report = run_batch(inputs, str(out), options, engine=engine, workers=n)
                wall = time.perf_counter() - t0
                assert report.ok and report.frames == total, report
                busy = sum(read_results(str(out))[1].column("seconds").to_pylist())
                print(f"| {engine} | {n} | {wall:.1f} | {total / wall:.0f} | {total / busy:.0f} | {report.faces} |", flush=True)
            if engine == "ray":
                ray.shutdown()


if __name__ == "__main__":
    main()
