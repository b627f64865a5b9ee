"""Detect faces and landmarks in one image, print them, and save an annotated copy.

python examples/detect_image.py photo.jpg annotated.jpg [--landmark-model fpenet.onnx]
"""

from __future__ import annotations

import argparse

import cv2

from faceanalytics import FaceAnalyticsError, Pipeline, annotate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("image")
    ap.add_argument("output")
    ap.add_argument("--landmark-model", default=None, help="FPENet-contract ONNX file (default: bundled)")
    args = ap.parse_args()
    try:
        with Pipeline(args.landmark_model) as pipe:
            image = cv2.imread(args.image)
            if image is None:
                print(f"cannot read {args.image}")
                return 1
            result = pipe(image)
    except FaceAnalyticsError as exc:
        print(f"error: {exc}")
        return 1
    print(f"{len(result.faces)} face(s) on {pipe.providers[0]}")
    for i, face in enumerate(result.faces):
        # Round as Python floats: float32 rounded to 0.1 still prints as 129.10000610351562.
        box = [round(float(v), 1) for v in face.box]
        eye = [round(float(v), 1) for v in face.region("left_eye").mean(axis=0)]
        print(f"face {i}: box {box}, score {face.score:.2f}, subject's left eye at {eye}")
    cv2.imwrite(args.output, annotate(image, result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
