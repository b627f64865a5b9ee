"""How far the landmarks68 annotations sit from mirror symmetry: the number behind ``--label-shift-x``.

Flip augmentation assumes that mirroring a face mirrors its labels. If the annotations sit a little
right of the features (a convention or an artefact of how they were made), a flipped copy puts them
left, and a model trained on both learns the middle: a uniform offset against the labels, which
adds to every point's error. This script measures, on the *training* identities (never the
held-out ones, so the constant it gives is not tuned on the evaluation), for each model:

* ``offset``: the mean signed error against the labels, x right and y down, in % of the
  outer-eye-corner distance, from BlazeFace boxes;
* ``mirror``: half the x difference between the model's points on the image and its points on the
  mirrored image, mirrored back (0 for a model that treats both alike; a model trained with
  ``--label-shift-x d`` gives about ``100 d``).

A mirror-symmetric model's ``offset`` is minus the annotations' shift. Usage::

    python benchmarks/label_offset.py MODEL [MODEL ...] [--dlib] [--frames 800]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from faceanalytics.core.schema import SCHEMA_68
from faceanalytics.geometry.crop import to_gray
from faceanalytics.runners.detector import BlazeFaceDetector
from faceanalytics.runners.fpenet import FPENetRunner
from faceanalytics.train.boxes import match_detection
from faceanalytics.train.data import read_csv, split_by_identity

HERE = Path(__file__).resolve().parent
EYES = [SCHEMA_68.right_eye_outer, SCHEMA_68.left_eye_outer]


def _frames(data: Path, n: int) -> list:
    train, _ = split_by_identity(read_csv(data / "annotations.csv"), 0.15, 0)
    picks = np.random.default_rng(0).choice(len(train), min(n, len(train)), replace=False)
    return [train[int(i)] for i in picks]


def measure(landmarks, detect, samples: list) -> dict[str, float]:
    """``landmarks(bgr, box) -> (68, 2)``; ``detect(bgr) -> (M, 4)``."""
    offsets, mirror = [], []
    for s in samples:
        bgr = cv2.imread(str(s.path))
        boxes = detect(bgr)
        i = match_detection(boxes, s.points)
        if i is None:
            continue
        box = boxes[i]
        iod = float(np.linalg.norm(s.points[EYES[0]] - s.points[EYES[1]]))
        pred = landmarks(bgr, box)
        offsets.append((pred - s.points).mean(0) / iod)
        w = bgr.shape[1]
        flipped_box = np.array([w - box[2], box[1], w - box[0], box[3]], np.float32)
        back = landmarks(np.ascontiguousarray(bgr[:, ::-1]), flipped_box)[list(SCHEMA_68.flip_permutation)]
        back[:, 0] = w - 1 - back[:, 0]
        mirror.append((pred[:, 0] - back[:, 0]).mean() / 2 / iod)
    o = 100 * np.mean(offsets, axis=0)
    return {"faces": len(offsets), "offset_x": float(o[0]), "offset_y": float(o[1]), "mirror_x": 100 * float(np.mean(mirror))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", default=["fpenet68"], help="registered names or ONNX paths")
    p.add_argument("--data", type=Path, default=HERE.parents[1] / "shared" / "data" / "landmarks68")
    p.add_argument("--frames", type=int, default=800, help="training frames measured (seeded sample)")
    p.add_argument("--dlib", action="store_true", help="also dlib's ERT-68 with its HOG detector (if installed)")
    args = p.parse_args()
    samples = _frames(args.data, args.frames)
    det = BlazeFaceDetector("short")

    def blazeface(bgr: np.ndarray) -> np.ndarray:
        return np.array([d.box for d in det.detect(bgr)], np.float32).reshape(-1, 4)

    rows = []
    for model in args.models:
        runner = FPENetRunner(model, device="cpu")
        points = lambda bgr, box, r=runner: r.landmarks(to_gray(bgr), box[None])[0][0]  # noqa: E731
        rows.append((str(model), measure(points, blazeface, samples)))
    if args.dlib:
        from faceanalytics.train.evaluate import _dlib

        found = _dlib()
        if found is not None:
            method = found[0]
            rows.append(("dlib ERT-68", measure(lambda bgr, box: method.landmarks(bgr, box[None])[0], method.detect, samples)))
    print(f"training identities, {len(samples)} frames; % of the outer-eye-corner distance")
    print("| model | faces | offset x (+ right) | offset y (+ down) | mirror asymmetry x |")
    print("|---|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['faces']} | {r['offset_x']:+.2f} | {r['offset_y']:+.2f} | {r['mirror_x']:+.2f} |")


if __name__ == "__main__":
    main()
