"""Fit the mouth plugin's smile and mouth-open calibration on the calibration half of
../shared/data/expressions (see ``expressions.py``), and print it for ``MOUTH_CALIBRATION``.

    python benchmarks/calibrate_mouth.py [--data ../shared/data/expressions] [--landmark-model PATH]

Smile: logistic regression of happy (1) vs neutral (0) on the features ``width`` and ``lift`` of
``faceanalytics.plugins.mouth.mouth_features`` (plain gradient descent, L2 1e-3).
Mouth open: the MAR threshold with the best balanced accuracy, surprise vs neutral.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from expressions import mouth_pipeline, mouth_results, split

from faceanalytics.plugins.mouth import mouth_features


def features(faces) -> np.ndarray:
    rows = []
    for face in faces:
        pitch = face.head_pose.pitch if face.head_pose is not None and face.head_pose.valid else None
        rows.append(mouth_features(face.landmarks, pitch))
    return np.array(rows, np.float64)


def logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 5000) -> np.ndarray:
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-12
    z = (x - mu) / sd
    w = np.zeros(z.shape[1] + 1)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(w[0] + z @ w[1:])))
        g = np.r_[np.mean(p - y), z.T @ (p - y) / len(y) + l2 * w[1:]]
        w -= 0.5 * g
    coef = w[1:] / sd
    return np.r_[w[0] - (mu * coef).sum(), coef]  # back to raw feature units


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "expressions"))
    ap.add_argument("--landmark-model", default=None)
    args = ap.parse_args()
    parts = split(Path(args.data))["calibration"]
    pipe = mouth_pipeline(args.landmark_model)
    feats = {cls: features(mouth_results(pipe, files)) for cls, files in parts.items()}
    for cls, f in feats.items():
        feats[cls] = f[np.isfinite(f).all(axis=1)]
    x = np.vstack([feats["happy"][:, 1:], feats["neutral"][:, 1:]])
    y = np.r_[np.ones(len(feats["happy"])), np.zeros(len(feats["neutral"]))]
    b, w_width, w_lift = logistic(x, y)
    mars = np.r_[feats["surprise"][:, 0], feats["neutral"][:, 0]]
    labels = np.r_[np.ones(len(feats["surprise"])), np.zeros(len(feats["neutral"]))]
    best = max(
        (0.5 * (np.mean(mars[labels == 1] > t) + np.mean(mars[labels == 0] <= t)), float(t)) for t in np.unique(np.round(mars, 3))
    )
    cal = {
        "bias": round(float(b), 3),
        "width": round(float(w_width), 3),
        "lift": round(float(w_lift), 3),
        "open_threshold": round(best[1], 3),
    }
    print(f"faces: { ({k: len(v) for k, v in feats.items()}) }; open balanced accuracy {best[0]:.3f}")
    print(f"MOUTH_CALIBRATION = {cal}")


if __name__ == "__main__":
    main()
