"""Draw every figure of the docs from the project itself, into docs/img/.

    python docs/make_figures.py

* ``head_pose.png``: the head frame's axes and the head-pose sign convention on the 3D mean face;
* ``schema_68.png``: the 68 iBUG points, numbered, on our mean shape, coloured by region;
* ``example.png``: the bundled model on scikit-image's astronaut (when both are available).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from faceanalytics.core.schema import SCHEMA_68
from faceanalytics.geometry.face_templates import MEAN_FACE_3D_68, MEAN_SHAPE_68
from faceanalytics.plugins.base import estimate_camera_matrix
from faceanalytics.plugins.head_pose import angles_to_rotation

IMG = Path(__file__).resolve().parent / "img"
TILE = 260
REGION_COLOURS = {
    "jaw": (120, 120, 120),
    "right_eyebrow": (0, 140, 255),
    "left_eyebrow": (0, 140, 255),
    "nose_bridge": (200, 160, 0),
    "nose_lower": (200, 160, 0),
    "right_eye": (0, 170, 0),
    "left_eye": (0, 170, 0),
    "outer_lips": (0, 0, 220),
    "inner_lips": (160, 20, 200),
}


def _pose_panel(title: str, yaw: float, pitch: float, roll: float) -> np.ndarray:
    img = np.full((TILE, TILE, 3), 255, np.uint8)
    k = estimate_camera_matrix(TILE, TILE)
    rvec = cv2.Rodrigues(angles_to_rotation(yaw, pitch, roll))[0]
    tvec = np.array([0.0, -45.0, 380.0])
    pts, _ = cv2.projectPoints(MEAN_FACE_3D_68.astype(np.float64), rvec, tvec, k, None)
    pts = pts.reshape(-1, 2)
    for a, b in SCHEMA_68.connections:
        cv2.line(img, tuple(np.round(pts[a]).astype(int)), tuple(np.round(pts[b]).astype(int)), (60, 60, 60), 1, cv2.LINE_AA)
    axis, _ = cv2.projectPoints(np.array([[0.0, 40.0, -44.0], [0.0, 40.0, -120.0]]), rvec, tvec, k, None)
    a, b = np.round(axis.reshape(-1, 2)).astype(int)
    cv2.arrowedLine(img, tuple(a), tuple(b), (0, 0, 220), 2, cv2.LINE_AA, tipLength=0.25)
    cv2.putText(img, title, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def _axes_panel() -> np.ndarray:
    """The head frame's axes on a slightly turned face: x red, y green, z blue, 60 mm."""
    img = np.full((TILE, TILE, 3), 255, np.uint8)
    k = estimate_camera_matrix(TILE, TILE)
    rvec = cv2.Rodrigues(angles_to_rotation(-25, 10, 0))[0]
    tvec = np.array([0.0, -45.0, 380.0])
    pts, _ = cv2.projectPoints(MEAN_FACE_3D_68.astype(np.float64), rvec, tvec, k, None)
    pts = pts.reshape(-1, 2)
    for a, b in SCHEMA_68.connections:
        cv2.line(img, tuple(np.round(pts[a]).astype(int)), tuple(np.round(pts[b]).astype(int)), (170, 170, 170), 1, cv2.LINE_AA)
    ends, _ = cv2.projectPoints(np.float64([[0, 0, 0], [60, 0, 0], [0, 60, 0], [0, 0, 60]]), rvec, tvec, k, None)
    o, x, y, z = (tuple(int(v) for v in p.ravel().round()) for p in ends)
    for end, colour, name in ((x, (0, 0, 230), "x"), (y, (0, 170, 0), "y"), (z, (230, 0, 0), "z")):
        cv2.arrowedLine(img, o, end, colour, 2, cv2.LINE_AA, tipLength=0.2)
        cv2.putText(img, name, (end[0] + 4, end[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.55, colour, 1, cv2.LINE_AA)
    cv2.putText(img, "head axes (yaw -25, pitch +10)", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.48, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def head_pose_figure() -> Path:
    panels = [_axes_panel(),
        _pose_panel("frontal: 0, 0, 0", 0, 0, 0),
        _pose_panel("yaw +30", 30, 0, 0),
        _pose_panel("pitch +20", 0, 20, 0),
        _pose_panel("roll +20", 0, 0, 20),
    ]
    fig = np.hstack(panels)
    note = "camera view; red arrow: where the face points"
    cv2.putText(fig, note, (8, TILE - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 220), 1, cv2.LINE_AA)
    return _save("head_pose.png", fig)


def schema_figure() -> Path:
    scale, size = 7.0, 820
    pts = (MEAN_SHAPE_68 - MEAN_SHAPE_68.mean(axis=0)) * scale + size / 2
    img = np.full((size, size, 3), 255, np.uint8)
    for a, b in SCHEMA_68.connections:
        cv2.line(img, tuple(np.round(pts[a]).astype(int)), tuple(np.round(pts[b]).astype(int)), (210, 210, 210), 1, cv2.LINE_AA)
    for name, idx in SCHEMA_68.regions.items():
        for i in idx:
            p = tuple(np.round(pts[i]).astype(int))
            cv2.circle(img, p, 4, REGION_COLOURS[name], -1, cv2.LINE_AA)
            cv2.putText(img, str(i), (p[0] + 5, p[1] - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.42, REGION_COLOURS[name], 1, cv2.LINE_AA)
    cv2.putText(
        img, "iBUG 68 (0-based); left/right are the subject's", (12, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA
    )
    return _save("schema_68.png", img)


def example_figure() -> Path | None:
    try:
        import skimage.data

        from faceanalytics import Pipeline, annotate

        pipe = Pipeline(device="cpu")
    except Exception as exc:  # optional figure: no model or no scikit-image here
        print(f"example.png skipped: {exc}")
        return None
    image = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    big = cv2.resize(image, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)  # drawn at 3x for a crisp figure
    return _save("example.png", annotate(big, pipe(big))[150:630, 435:915])


def _save(name: str, image: np.ndarray) -> Path:
    IMG.mkdir(parents=True, exist_ok=True)
    path = IMG / name
    cv2.imwrite(str(path), image)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    head_pose_figure()
    schema_figure()
    example_figure()
