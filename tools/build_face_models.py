"""Build faceanalytics/geometry/face_templates.py: the 68-point 2D template and the 3D mean face.

Both come from the 68-point annotations of ../shared/data/landmarks68, training identities only
(the split of ``faceanalytics.train.data.split_by_identity``):

* ``MEAN_SHAPE_68``: generalised Procrustes mean of the 2D shapes (similarity-aligned), placed in
  the 112x112 frame of the standard 5-point face-recognition template by the least-squares
  similarity that maps its eye centres, nose tip and mouth corners onto that template.
* ``MEAN_FACE_3D_68``: rigid structure from motion (Tomasi-Kanade factorisation under scaled
  orthography, with the metric upgrade of the rank-3 factors) over all training frames, whose head
  poses vary; the identities' shapes average into one mean face. The head motion comes from the
  points that barely move with expression (nose, eyes, mouth corners, ``RIGID``); every point is
  then placed by least squares against that motion. Axes as OpenCV's camera frame for
  a frontal face (x to the image's right, y down, z away from the camera), origin at the midpoint
  of the outer eye corners, scaled so the outer eye corners are 90 mm apart (adult mean
  exocanthion width, about 87-91 mm in anthropometric surveys). Zero pitch is defined by the chin
  (point 8) lying as far from the camera as the outer eye corners.

    python tools/build_face_models.py [--data ../shared/data/landmarks68]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from faceanalytics.geometry.affine import apply_affine, similarity_transform
from faceanalytics.train.data import read_csv, split_by_identity

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "faceanalytics" / "face_models.py"
EYE_CORNER_MM = 90.0

#: The standard 112x112 five-point template of face recognition (ArcFace / InsightFace):
#: image-left eye centre (the subject's right eye), image-right eye centre, nose tip, image-left
#: mouth corner, image-right mouth corner.
FIVE_POINT_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)


def five_points(shape: np.ndarray) -> np.ndarray:
    return np.array([shape[36:42].mean(0), shape[42:48].mean(0), shape[30], shape[48], shape[54]])


def procrustes_mean(shapes: np.ndarray, iterations: int = 10) -> np.ndarray:
    mean = shapes[0] - shapes[0].mean(0)
    for _ in range(iterations):
        aligned = np.stack([apply_affine(similarity_transform(s, mean), s) for s in shapes])
        new = aligned.mean(0)
        new -= new.mean(0)
        new /= np.sqrt((new**2).sum() / len(new))
        if np.abs(new - mean).max() < 1e-9:
            break
        mean = new
    return mean


def _sym(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([a[0] * b[0], a[0] * b[1] + a[1] * b[0], a[0] * b[2] + a[2] * b[0],
                     a[1] * b[1], a[1] * b[2] + a[2] * b[1], a[2] * b[2]])


#: Points that move little with expression (nose, eyes, mouth corners): they fix the head motion.
#: The jaw contour slides along the silhouette as the head turns and the brows and lips move, so
#: with them in the factorisation the depth comes out about twice too deep.
RIGID = [*list(range(27, 48)), 48, 54]


def mean_face_3d(shapes: np.ndarray, frontal_2d: np.ndarray) -> np.ndarray:
    centred = shapes - shapes[:, RIGID].mean(1, keepdims=True)
    w_all = centred.transpose(0, 2, 1).reshape(-1, shapes.shape[1])  # 2F x 68
    w = w_all[:, RIGID]
    u, s, _ = np.linalg.svd(w, full_matrices=False)
    m = u[:, :3] * np.sqrt(s[:3])
    rows, rhs = [], []
    for f in range(len(shapes)):  # scaled orthography: equal row norms, orthogonal rows
        m1, m2 = m[2 * f], m[2 * f + 1]
        rows += [_sym(m1, m1) - _sym(m2, m2), _sym(m1, m2)]
        rhs += [0.0, 0.0]
    rows.append(_sym(m[0], m[0]))
    rhs.append(1.0)
    q, *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
    gram = np.array([[q[0], q[1], q[2]], [q[1], q[3], q[4]], [q[2], q[4], q[5]]])
    motion = m @ np.linalg.cholesky(gram)  # metric motion, 2F x 3
    # Every point, rigid or not, is placed by least squares against the recovered motion.
    x = np.linalg.lstsq(motion, w_all, rcond=None)[0].T  # 68 x 3, up to rotation and mirror
    # Rotate (and mirror if needed) so that its orthographic view best matches the frontal mean shape.
    from scipy.optimize import least_squares
    from scipy.spatial.transform import Rotation

    target = frontal_2d - frontal_2d.mean(0)

    def residual(p: np.ndarray, pts: np.ndarray) -> np.ndarray:
        y = p[3] * (pts @ Rotation.from_rotvec(p[:3]).as_matrix().T)
        return (y[:, :2] - target).ravel()

    best = None
    for mirror in (1.0, -1.0):
        pts = x * [1.0, 1.0, mirror]
        for rv in ([0, 0, 0], [np.pi, 0, 0], [0, np.pi, 0], [0, 0, np.pi]):
            r = least_squares(residual, np.r_[rv, 1.0], args=(pts,))
            if best is None or r.cost < best[0].cost:
                best = (r, pts)
    r, pts = best
    y = r.x[3] * (pts @ Rotation.from_rotvec(r.x[:3]).as_matrix().T)
    if y[30, 2] > y[[36, 45], 2].mean():  # the nose tip must be nearer the camera than the eyes
        y[:, 2] *= -1
    y -= y[[36, 45]].mean(0)
    # Zero pitch, by convention: the chin (8) as far from the camera as the outer eye corners.
    # (The mean 2D shape only fixes the average pose of the data set's frames.)
    theta = np.arctan2(-y[8, 2], y[8, 1])
    c, s_ = np.cos(theta), np.sin(theta)
    y = y @ np.array([[1, 0, 0], [0, c, s_], [0, -s_, c]])
    y *= EYE_CORNER_MM / np.linalg.norm(y[36] - y[45])
    # Symmetrise: average with the mirror image (x -> -x, points permuted).
    from faceanalytics.core.schema import SCHEMA_68

    mirrored = y[list(SCHEMA_68.flip_permutation)] * [-1.0, 1.0, 1.0]
    return (y + mirrored) / 2


def _literal(a: np.ndarray, fmt: str) -> str:
    return "\n".join("    [" + ", ".join(fmt.format(v) for v in row) + "]," for row in a)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "landmarks68"))
    args = ap.parse_args()
    train, _ = split_by_identity(read_csv(Path(args.data) / "annotations.csv"))
    shapes = np.stack([s.points.astype(np.float64) for s in train])
    mean2d = procrustes_mean(shapes)
    mean2d = apply_affine(similarity_transform(five_points(mean2d), FIVE_POINT_112), mean2d)
    mean3d = mean_face_3d(shapes, mean2d)
    OUT.write_text(f'''"""Face geometry models, generated by tools/build_face_models.py (do not edit by hand).

Built from the training identities of ../shared/data/landmarks68 ({len(train)} frames); see the
tool's docstring for the method.
"""

import numpy as np

__all__ = ["FIVE_POINT_112", "MEAN_FACE_3D_68", "MEAN_SHAPE_68"]

#: Standard 112x112 five-point face-recognition template (ArcFace / InsightFace): image-left eye
#: centre, image-right eye centre, nose tip, image-left mouth corner, image-right mouth corner.
FIVE_POINT_112 = np.array([
{_literal(FIVE_POINT_112, "{:.4f}")}
])
FIVE_POINT_112.setflags(write=False)

#: Mean 2D shape of the 68 iBUG points in the same 112x112 frame (pixels).
MEAN_SHAPE_68 = np.array([
{_literal(mean2d, "{:.3f}")}
])
MEAN_SHAPE_68.setflags(write=False)

#: Mean 3D face of the 68 iBUG points, mm; x right, y down, z away from the camera for a frontal
#: face; origin between the outer eye corners, which are {EYE_CORNER_MM:.0f} mm apart.
MEAN_FACE_3D_68 = np.array([
{_literal(mean3d, "{:.2f}")}
])
MEAN_FACE_3D_68.setflags(write=False)
''')
    print(f"{len(train)} frames; nose tip {mean3d[30].round(1)} mm, chin {mean3d[8].round(1)} mm; wrote {OUT}")


if __name__ == "__main__":
    main()
