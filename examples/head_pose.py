"""Head pose: draw the head's 3D axes on each face and print yaw, pitch and roll.

    python examples/head_pose.py photo.jpg [--out posed.jpg] [--landmark-model fpenet.onnx]

Axes: red x (the subject's left), green y (down), blue z (into the head), 60 mm long, from the
point between the outer eye corners (see docs/plugins.md for the conventions).
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from faceanalytics import Pipeline, annotate
from faceanalytics.plugins import HeadPosePlugin, estimate_camera_matrix


def draw_axes(image: np.ndarray, rvec: np.ndarray, tvec: np.ndarray, k: np.ndarray, length: float = 60.0) -> None:
    pts = np.float64([[0, 0, 0], [length, 0, 0], [0, length, 0], [0, 0, length]])
    img_pts, _ = cv2.projectPoints(pts, rvec, tvec, k, None)
    o, x, y, z = (tuple(int(v) for v in p.ravel().round()) for p in img_pts)
    for end, colour in ((x, (0, 0, 255)), (y, (0, 200, 0)), (z, (255, 0, 0))):
        cv2.arrowedLine(image, o, end, colour, 2, cv2.LINE_AA, tipLength=0.15)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("image")
    ap.add_argument("--out", default=None, help="write the picture with axes here")
    ap.add_argument("--landmark-model", default=None)
    args = ap.parse_args()
    image = cv2.imread(args.image)
    if image is None:
        print(f"cannot read {args.image}")
        return 1
    pipe = Pipeline(args.landmark_model, plugins=[HeadPosePlugin()])
    result = pipe(image)
    k = estimate_camera_matrix(image.shape[1], image.shape[0])
    out = annotate(image, result, lines=False)
    for i, face in enumerate(result.faces):
        pose = face.head_pose
        if not pose.valid:
            print(f"face {i}: no pose ({pose.reason})")
            continue
        print(
            f"face {i}: yaw {pose.yaw:+.1f} deg, pitch {pose.pitch:+.1f} deg, roll {pose.roll:+.1f} deg, "
            f"{pose.translation[2] / 10:.0f} cm from the camera"
        )
        draw_axes(out, pose.rotation_vector, pose.translation, k)
    if args.out:
        cv2.imwrite(args.out, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
