"""A plugin of your own: inter-pupillary distance in pixels and, with head pose, in millimetres.

python examples/custom_plugin.py photo.jpg [--landmark-model fpenet.onnx]
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass

import numpy as np

from faceanalytics import Face, Pipeline
from faceanalytics.plugins import Frame, default_plugins


@dataclass(frozen=True)
class EyeDistance:
    """Distance between the eye centres: pixels, and mm when the head pose is known."""

    pixels: float
    millimetres: float | None

    def to_dict(self) -> dict:
        return asdict(self)


class EyeDistancePlugin:
    name = "eye_distance"

    def __call__(self, face: Face, frame: Frame) -> EyeDistance:
        right = face.region("right_eye").mean(axis=0)
        left = face.region("left_eye").mean(axis=0)
        pixels = float(np.linalg.norm(left - right))
        mm = None
        pose = face.head_pose  # set because this plugin runs after the built-in ones
        if pose is not None and pose.valid:
            focal = float(frame.intrinsics[0, 0])
            mm = pixels * float(pose.translation[2]) / focal  # pinhole: size = pixels * depth / focal
        return EyeDistance(pixels, mm)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("image")
    ap.add_argument("--landmark-model", default=None)
    args = ap.parse_args()
    pipe = Pipeline(args.landmark_model, plugins=[*default_plugins(), EyeDistancePlugin()])
    for face in pipe(args.image).faces:
        print(face.extras["eye_distance"])


if __name__ == "__main__":
    main()
