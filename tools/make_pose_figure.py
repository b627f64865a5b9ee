"""Draw docs/img/head_pose.png: the head-pose sign convention on the 3D mean face.

    python tools/make_pose_figure.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from faceanalytics.face_models import MEAN_FACE_3D_68
from faceanalytics.plugins.base import estimate_camera_matrix
from faceanalytics.plugins.head_pose import angles_to_rotation
from faceanalytics.schema import SCHEMA_68

OUT = Path(__file__).resolve().parents[1] / "docs" / "img" / "head_pose.png"
TILE = 260


def panel(title: str, yaw: float, pitch: float, roll: float) -> np.ndarray:
    img = np.full((TILE, TILE, 3), 255, np.uint8)
    k = estimate_camera_matrix(TILE, TILE)
    rvec = cv2.Rodrigues(angles_to_rotation(yaw, pitch, roll))[0]
    tvec = np.array([0.0, -45.0, 380.0])
    pts, _ = cv2.projectPoints(MEAN_FACE_3D_68.astype(np.float64), rvec, tvec, k, None)
    pts = pts.reshape(-1, 2)
    for a, b in SCHEMA_68.connections:
        cv2.line(img, tuple(np.round(pts[a]).astype(int)), tuple(np.round(pts[b]).astype(int)), (60, 60, 60), 1, cv2.LINE_AA)
    # The face's forward direction from the nose tip.
    axis, _ = cv2.projectPoints(np.array([[0.0, 40.0, -44.0], [0.0, 40.0, -120.0]]), rvec, tvec, k, None)
    a, b = np.round(axis.reshape(-1, 2)).astype(int)
    cv2.arrowedLine(img, tuple(a), tuple(b), (0, 0, 220), 2, cv2.LINE_AA, tipLength=0.25)
    cv2.putText(img, title, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def main() -> None:
    tiles = [
        panel("frontal: 0, 0, 0", 0, 0, 0),
        panel("yaw +30", 30, 0, 0),
        panel("pitch +20", 0, 20, 0),
        panel("roll +20", 0, 0, 20),
    ]
    fig = np.hstack(tiles)
    note = "camera view; red arrow: where the face points"
    cv2.putText(fig, note, (8, TILE - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 220), 1, cv2.LINE_AA)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(OUT), fig)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
