"""End-to-end speed on this machine: image mode and stream mode.

    python benchmarks/speed.py [--repeat 50]

* image mode: ``Pipeline()(image)`` on scikit-image's astronaut (512x512, one face): detection,
  68 landmarks and every default plugin; median ms per image;
* stream mode: a 640x480 clip of that face moving (``jitter.clip``), ``detect_every=10``, all
  default plugins; frames per second.

(The full side-by-side harness against dlib and MediaPipe is ``benchmarks/run.py``.)
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import cv2
import numpy as np
import onnxruntime as ort
from jitter import clip

from faceanalytics import FaceAnalyticsError, Pipeline, Stream


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=50)
    args = ap.parse_args()
    try:
        measure(args.repeat)
    except FaceAnalyticsError as exc:  # e.g. detector weights that are missing and cannot be downloaded
        print(f"speed.py: error: {exc}", file=sys.stderr)
        return 1
    return 0


def measure(repeat: int) -> None:
    import skimage.data

    image = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    pipe = Pipeline(device="cpu")
    for _ in range(5):
        pipe(image)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        pipe(image)
        times.append(time.perf_counter() - t)
    frames = clip(image, 300, 30.0, 2.0)
    stream = Stream(pipe, detect_every=10)
    t = time.perf_counter()
    for i, (frame, _) in enumerate(frames):
        stream(frame, i / 30)
    fps = len(frames) / (time.perf_counter() - t)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus; onnxruntime {ort.__version__} on CPU")
    print(f"image mode (512x512, 1 face, detect + 68 points + all plugins): {1000 * np.median(times):.2f} ms/image")
    print(f"stream mode (640x480, detect every 10 frames, all plugins): {fps:.0f} frames/s")


if __name__ == "__main__":
    raise SystemExit(main())
