"""Head-pose refinement: OpenCV's Levenberg-Marquardt against faceanalytics' Gauss-Newton.

    python benchmarks/pose_refinement.py [--faces 3000]

Synthetic faces with known poses: the 3D mean face with per-person shape noise (3 % of the face
width per coordinate) at random yaw (+-50), pitch (+-30), roll (+-25) and distance, projected with
a 640x480 pinhole camera, with landmark noise of 3 % of the eye-corner distance. Each face is
solved with SQPnP alone, SQPnP + ``cv2.solvePnPRefineLM``, and SQPnP + ``refine_pose``; and from a
"previous frame" pose (the true one moved by 3 degrees per angle and 5 % of the face width) with
either refinement alone. Prints the mean and 95th-percentile absolute angle errors, the angle
differences to LM, and the median time of each refinement.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from faceanalytics.geometry.face_templates import MEAN_FACE_3D_68
from faceanalytics.geometry.pnp import refine_pose
from faceanalytics.plugins.head_pose import DEFAULT_POSE_POINTS, angles_to_rotation, rotation_to_angles


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", type=int, default=3000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    k = np.array([[640.0, 0, 319.5], [0, 640.0, 239.5], [0, 0, 1]])
    obj = np.ascontiguousarray(MEAN_FACE_3D_68[list(DEFAULT_POSE_POINTS)], np.float64)
    width = float(np.ptp(MEAN_FACE_3D_68[:, 0]))
    errors: dict[str, list] = {}
    spent: dict[str, list] = {"LM": [], "Gauss-Newton": []}
    for _ in range(args.faces):
        truth = rng.uniform([-50, -30, -25], [50, 30, 25])
        rot = angles_to_rotation(*truth)
        t = np.array([rng.uniform(-1, 1) * width, rng.uniform(-1, 1) * width, rng.uniform(4, 12) * width])
        shape = MEAN_FACE_3D_68 + rng.normal(0, 0.03 * width, MEAN_FACE_3D_68.shape)
        uv = (k @ (shape @ rot.T + t).T).T
        uv = uv[:, :2] / uv[:, 2:]
        uv += rng.normal(0, 0.03 * np.linalg.norm(uv[45] - uv[36]), uv.shape)
        img = np.ascontiguousarray(uv[list(DEFAULT_POSE_POINTS)])
        _, r0, t0 = cv2.solvePnP(obj, img, k, None, flags=cv2.SOLVEPNP_SQPNP)
        prior_r = cv2.Rodrigues(angles_to_rotation(*(truth + rng.normal(0, 3, 3))))[0]
        prior_t = (t + rng.normal(0, 0.05 * width, 3)).reshape(3, 1)
        a = time.perf_counter()
        lm = cv2.solvePnPRefineLM(obj, img, k, None, r0.copy(), t0.copy())[0]
        b = time.perf_counter()
        gn = refine_pose(obj, img, k, r0, t0)[0]
        c = time.perf_counter()
        spent["LM"].append(b - a)
        spent["Gauss-Newton"].append(c - b)
        solutions = {
            "SQPnP alone": r0,
            "SQPnP + LM": lm,
            "SQPnP + Gauss-Newton": gn,
            "prior + LM": cv2.solvePnPRefineLM(obj, img, k, None, prior_r.copy(), prior_t.copy())[0],
            "prior + Gauss-Newton": refine_pose(obj, img, k, prior_r, prior_t)[0],
        }
        lm_angles = rotation_to_angles(cv2.Rodrigues(lm)[0])
        for name, rvec in solutions.items():
            angles = rotation_to_angles(cv2.Rodrigues(rvec)[0])
            errors.setdefault(name, []).append(np.abs(np.subtract(angles, truth)))
            errors.setdefault(f"diff {name}", []).append(np.abs(np.subtract(angles, lm_angles)).max())
    print(f"{args.faces} synthetic faces; absolute angle error, degrees (yaw / pitch / roll):")
    for name in ("SQPnP alone", "SQPnP + LM", "SQPnP + Gauss-Newton", "prior + LM", "prior + Gauss-Newton"):
        e = np.array(errors[name])
        d = np.array(errors[f"diff {name}"])
        mean, p95 = np.array2string(e.mean(0), precision=3), np.array2string(np.percentile(e, 95, 0), precision=2)
        mean, p95 = np.array2string(e.mean(0), precision=3), np.array2string(np.percentile(e, 95, 0), precision=2)
        vs_lm = f"median {np.median(d):.3f}, p99 {np.percentile(d, 99):.3f}"
        print(f"  {name:22s} mean {mean}  p95 {p95}  | max angle vs SQPnP + LM: {vs_lm}")
    for name, v in spent.items():
        print(f"  refinement time, {name}: median {1e6 * np.median(v):.0f} us")


if __name__ == "__main__":
    main()
