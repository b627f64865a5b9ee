"""Fit the mouth plugin's smile and mouth-open models on the calibration half of
../shared/data/expressions (see ``expressions.py``).

    python benchmarks/calibrate_mouth.py [--data ../shared/data/expressions] [--landmark-model PATH] [--out FILE | --write]

Each model is ``sigmoid(bias + weights . shape)`` over ``faceanalytics.geometry.mouth.mouth_shape``
(44 coordinates, head-pose corrected with the pipeline's own head pose): smile is happy (1) vs
every other expression (0: neutral, surprise, sad, angry), so that an open but unsmiling mouth
does not score as a smile; mouth open is surprise (1) vs neutral (0). Logistic regression by Newton's method
on standardised coordinates with an L2 penalty of ``--l2`` (default 1.0; deterministic), then
brought back to raw coordinates. Rerun whenever the landmark model changes.

The fitted numbers are data, never source: a JSON document (:func:`document`) with the points
the shape is made of, the fit's notes (landmark model, data, AUCs) and ``smile`` and ``open``,
each ``{"bias": b, "weights": [44 numbers]}``. It is printed; ``--out FILE`` writes it to FILE
instead, and ``--write`` writes it to ``faceanalytics/weights/mouth_calibration.json``, the file
the mouth plugin is to load its models from (until it does, they stay in
``faceanalytics/plugins/mouth_calibration.py``, which this script no longer writes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
from expressions import CLASSES, mouth_results, split

from faceanalytics import Pipeline
from faceanalytics.geometry.mouth import MOUTH_SHAPE_POINTS, face_mouth_shape
from faceanalytics.plugins import HeadPosePlugin
from faceanalytics.train.evaluate import auc

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "faceanalytics" / "weights" / "mouth_calibration.json"
SMILE_NEGATIVES = ("neutral", "surprise", "sad", "angry")


def shapes(pipe: Pipeline, files: list[Path]) -> np.ndarray:
    """(N, 44) mouth shapes of each file's largest face (its own square when nothing is detected)."""
    rows = []
    for face in mouth_results(pipe, files):
        rows.append(face_mouth_shape(face))
    return np.array(rows)


def logistic(x: np.ndarray, y: np.ndarray, l2: float, steps: int = 30) -> tuple[float, np.ndarray]:
    """``(bias, weights)`` in raw units of ``x``; Newton's method on standardised ``x``."""
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-12
    z = np.c_[(x - mu) / sd, np.ones(len(x))]
    w = np.zeros(z.shape[1])
    penalty = np.diag(np.r_[np.full(x.shape[1], l2), 0.0])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-z @ w))
        grad = z.T @ (p - y) + penalty @ w
        hess = z.T @ (z * (p * (1 - p))[:, None]) + penalty
        w -= np.linalg.solve(hess, grad)
    coef = w[:-1] / sd
    return float(w[-1] - (mu * coef).sum()), coef


def fit(pos: np.ndarray, neg: np.ndarray, l2: float) -> tuple[float, np.ndarray, float]:
    x = np.vstack([pos, neg])
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    bias, w = logistic(x, y, l2)
    return bias, w, auc(neg @ w + bias, pos @ w + bias)


def document(smile: tuple[float, np.ndarray], open_: tuple[float, np.ndarray], info: dict[str, str]) -> dict:
    """The fitted models as JSON-ready data: ``sigmoid(bias + weights . mouth_shape)`` each."""

    def model(bias: float, weights: np.ndarray) -> dict:
        return {"bias": round(float(bias), 6), "weights": [round(float(w), 6) for w in weights]}

    return {
        "features": "faceanalytics.geometry.mouth.mouth_shape: x0, y0, x1, y1, ... of these points",
        "points": [int(p) for p in MOUTH_SHAPE_POINTS],
        "fit": info,
        "smile": model(*smile),
        "open": model(*open_),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "expressions"))
    ap.add_argument("--landmark-model", default=None)
    ap.add_argument("--l2", type=float, default=1.0)
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path, help="write the fitted models to this JSON file (default: print them)")
    where.add_argument("--write", action="store_true", help=f"write them to {TARGET.relative_to(ROOT)}")
    args = ap.parse_args()
    parts = split(Path(args.data))
    pipe = Pipeline(args.landmark_model, device="cpu", plugins=[HeadPosePlugin()])
    cal = {cls: shapes(pipe, parts["calibration"][cls]) for cls in CLASSES}
    held = {cls: shapes(pipe, parts["held_out"][cls]) for cls in CLASSES}
    for d in (cal, held):
        for cls in d:
            d[cls] = d[cls][np.isfinite(d[cls]).all(axis=1)]
    others = np.vstack([cal[cls] for cls in SMILE_NEGATIVES])
    smile_b, smile_w, smile_fit = fit(cal["happy"], others, args.l2)
    open_b, open_w, open_fit = fit(cal["surprise"], cal["neutral"], args.l2)
    smile_held = {cls: auc(held[cls] @ smile_w + smile_b, held["happy"] @ smile_w + smile_b) for cls in SMILE_NEGATIVES}
    open_held = auc(held["neutral"] @ open_w + open_b, held["surprise"] @ open_w + open_b)
    model_path = pipe.landmarker.path
    info = {
        "landmark model": f"{pipe.landmarker.name} (sha256 {hashlib.sha256(model_path.read_bytes()).hexdigest()[:16]}...)",
        "data": "calibration half of ../shared/data/expressions (FER-2013), "
        + ", ".join(f"{cls} {len(v)}" for cls, v in cal.items()),
        "L2 on standardised coordinates": f"{args.l2}",
        "AUC on the calibration half": f"smile (happy vs others) {smile_fit:.3f}, open (surprise vs neutral) {open_fit:.3f}",
        "AUC on the held-out half, open (surprise vs neutral)": f"{open_held:.3f}",
        "AUC on the held-out half, smile (happy vs each)": ", ".join(f"{cls} {v:.3f}" for cls, v in smile_held.items()),
    }
    for k, v in info.items():
        print(f"{k}: {v}")
    text = json.dumps(document((smile_b, smile_w), (open_b, open_w), info), indent=1) + "\n"
    out = TARGET if args.write else args.out
    if out is None:
        print(text, end="")
    else:
        out.write_text(text)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
