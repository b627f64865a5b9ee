"""The default detector on group photos and small faces: tiles against the whole image alone.

Prints, for the WFLW "Cheering" fixture (19 faces counted by eye, ../shared/data/fixtures/wflw):
faces found and detection time with tiles (the default) and without (``tile=None``); then a
sweep: one real face pasted at random places on large grey canvases at several sizes, and how
often the default detector finds it; then the detection time of a 640x480 frame both ways.

    python benchmarks/detector_tiles.py [--trials 12]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from faceanalytics import BlazeFaceDetector

SHARED = Path(__file__).resolve().parents[2] / "shared"


def best_ms(fn, image: np.ndarray, rounds: int = 5) -> float:
    fn(image)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn(image)
        times.append(time.perf_counter() - t)
    return min(times) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=12, help="placements per face size (default: 12)")
    args = ap.parse_args()
    fixtures = SHARED / "data" / "fixtures" / "wflw"
    cheering = cv2.imread(str(fixtures / "7_Cheering_Cheering_7_16.jpg"))
    football = cv2.imread(str(fixtures / "36_Football_americanfootball_ball_36_415.jpg"))
    if cheering is None or football is None:
        print(f"detector_tiles.py: error: needs the WFLW fixtures in {fixtures}")
        return 1
    tiled, whole = BlazeFaceDetector("short"), BlazeFaceDetector("short", tile=None)
    for name, det in (("tiles (default)", tiled), ("whole image only", whole)):
        print(f"Cheering 1024x1024, 19 faces: {name}: {len(det.detect(cheering))} found, {best_ms(det.detect, cheering):.1f} ms")
    face = football[90:230, 410:550]  # the WFLW-annotated face of the second fixture, with margin
    rng = np.random.default_rng(0)
    for w, h in ((1280, 720), (2048, 1536), (4000, 3000)):
        row = []
        for side in (60, 90, 130, 180, 250, 350, 500, 700):
            hits = 0
            for _ in range(args.trials):
                canvas = np.full((h, w, 3), 90, np.uint8)
                x, y = int(rng.integers(0, w - side)), int(rng.integers(0, h - side))
                canvas[y : y + side, x : x + side] = cv2.resize(face, (side, side))
                cx, cy = x + side / 2, y + side / 2
                hits += any(d.box[0] < cx < d.box[2] and d.box[1] < cy < d.box[3] for d in tiled.detect(canvas))
            row.append(f"{side}px {hits}/{args.trials}")
        print(f"one face on {w}x{h}: " + ", ".join(row))
    frame = cv2.resize(cheering[300:660, 200:680], (640, 480))
    print(f"640x480 frame: tiles {best_ms(tiled.detect, frame, 50):.2f} ms, whole only {best_ms(whole.detect, frame, 50):.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
