"""Aligned face crops, e.g. for face recognition: one file per face.

python examples/align_faces.py photo1.jpg photo2.jpg --out aligned/ [--size 112] [--template 5pt]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2

from faceanalytics import FaceAnalyticsError, Pipeline
from faceanalytics.plugins import AlignmentPlugin


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--template", choices=["5pt", "68pt"], default="5pt")
    ap.add_argument("--landmark-model", default=None)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pipe = Pipeline(args.landmark_model, plugins=[AlignmentPlugin(args.template, size=args.size)])
    written = 0
    for name in args.images:
        try:
            faces = pipe(name).faces
        except FaceAnalyticsError as exc:
            print(f"{name}: {exc}")
            continue
        for i, face in enumerate(faces):
            if face.alignment.valid:
                cv2.imwrite(str(out / f"{Path(name).stem}_{i}.png"), face.alignment.crop)
                written += 1
    print(f"{written} aligned face(s) in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
