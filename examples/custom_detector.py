"""Bring your own face detector: anything with ``detect(image) -> tuple[Detection, ...]``.

Here OpenCV's Haar cascade (shipped inside OpenCV) replaces BlazeFace:

    python examples/custom_detector.py photo.jpg [--landmark-model fpenet.onnx]
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from faceanalytics import Detection, Pipeline


class HaarDetector:
    """OpenCV's frontal-face Haar cascade as a faceanalytics Detector."""

    def __init__(self, min_size: int = 40) -> None:
        self.cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        self.min_size = min_size

    def detect(self, image: np.ndarray) -> tuple[Detection, ...]:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        rects = self.cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(self.min_size, self.min_size))
        # Haar gives no confidence; report 1.0 and no keypoints.
        return tuple(Detection(box=[x, y, x + w, y + h], score=1.0) for x, y, w, h in rects)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("image")
    ap.add_argument("--landmark-model", default=None)
    args = ap.parse_args()
    pipe = Pipeline(args.landmark_model, detector=HaarDetector())
    result = pipe(args.image)
    print(result.to_json(indent=1))


if __name__ == "__main__":
    main()
