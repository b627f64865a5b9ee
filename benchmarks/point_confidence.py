"""Fit and measure the per-point confidence calibration (``faceanalytics/runners/point_confidence.py``).

On the **validation identities** of landmarks68 (the seeded identity split of training and
``faceanalytics.train.evaluate``; the models never saw these people), each face found by BlazeFace
is landmarked in three views (:mod:`faceanalytics.train.point_views`):

* ``clear``: the frame and the detector's box;
* ``covered``: one region (an eye, both eyes and brows, the nose, the mouth, half of the jaw) under
  a patch of flat gray or noise; the points under the patch are the "covered points";
* ``moved``: the detector's box moved by 0-1 box widths in a random direction and scaled by
  0.74-1.35 (a tracker's box that slid off the face; at large moves the crop holds no face).

A point is right when it lies within ``TOLERANCE`` (10 %) of the outer-eye-corner distance of its
annotation. The calibration ``sigmoid(a[region] + b[region] log(peak) + c mean log(peak))`` is a
logistic regression of "right" on the raw peaks, the clear views weighing as much as the other two
together, and no region's slope ``b`` below 0. The script prints, per model: two-fold cross-validated figures (fit on half of the
validation identities, measured on the other half, both ways), the effect of covering an eye, and
the constants fitted on all validation identities, ready for ``CALIBRATIONS``.

Usage (about 25 s per model on 2 cores)::

    python benchmarks/point_confidence.py [--models fpenet68 fpenet68-int8 fpenet68-fp16] [--write]

``--write`` puts the constants into ``CALIBRATIONS`` (``faceanalytics.train.register.set_calibrations``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from faceanalytics.runners.detector import BlazeFaceDetector
from faceanalytics.runners.fpenet import FPENetRunner
from faceanalytics.runners.point_confidence import REGIONS_68, TOLERANCE, PointCalibration, design_matrix
from faceanalytics.train.data import read_csv, split_by_identity
from faceanalytics.train.point_views import COVERABLE, VIEW_WEIGHT, Views, collect
from faceanalytics.train.register import CALIBRATION_SOURCE, set_calibrations

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data" / "landmarks68"


def fit(views: Views, l2: float = 1e-3, iterations: int = 50) -> np.ndarray:
    """Weighted logistic regression (Newton's method) of "within TOLERANCE" on :func:`design_matrix`,
    with every region's slope on its own peak kept >= 0 (a slope that comes out negative is fixed
    at 0 and the rest refitted): a sharper peak never lowers a point's confidence."""
    x = design_matrix(views.raw)
    y = (views.err < TOLERANCE).reshape(-1).astype(np.float64)
    sw = np.repeat([VIEW_WEIGHT[k] for k in views.kind], views.raw.shape[1])
    r = len(REGIONS_68)
    free = np.ones(x.shape[1], bool)
    while True:
        xs, w = x[:, free], np.zeros(int(free.sum()))
        for _ in range(iterations):
            p = 0.5 * (1.0 + np.tanh(0.5 * (xs @ w)))
            grad = xs.T @ (sw * (p - y)) + l2 * w
            hess = (xs * (sw * p * (1 - p))[:, None]).T @ xs + l2 * np.eye(len(w))
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.abs(step).max() < 1e-10:
                break
        full = np.zeros(x.shape[1])
        full[free] = w
        negative = np.flatnonzero(full[r : 2 * r] < 0) + r
        if not len(negative):
            return full
        free[negative] = False


def calibration(name: str, w: np.ndarray) -> PointCalibration:
    r = len(REGIONS_68)
    return PointCalibration(name, tuple(float(v) for v in w[:r]), tuple(float(v) for v in w[r : 2 * r]), float(w[2 * r]))


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties one half (ranks)."""
    score, positive = np.asarray(score, np.float64).ravel(), np.asarray(positive, bool).ravel()
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]  # 1-based, ties share their mean rank
    npos, nneg = int(positive.sum()), int((~positive).sum())
    if npos == 0 or nneg == 0:
        return float("nan")
    return float((ranks[positive].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def cross_validated(views: Views, name: str) -> np.ndarray:
    """Each view's calibrated confidence from a fit on the other half of the identities."""
    ids = np.unique(views.identity)
    np.random.default_rng(0).shuffle(ids)
    pred = np.zeros_like(views.raw, dtype=np.float64)
    for fold in np.array_split(ids, 2):
        test = np.isin(views.identity, fold)
        pred[test] = calibration(name, fit(views[~test]))(views.raw[test])
    return pred


def report(name: str, views: Views, pred: np.ndarray) -> None:
    right = views.err < TOLERANCE
    print(f"\n## {name}: {len(np.unique(views.identity))} validation identities, {int((views.kind == 'clear').sum())} faces")
    peaks = views.raw[views.kind == "clear"]
    lo, mid, hi = np.percentile(peaks, [5, 50, 95])
    print(f"raw peaks, clear faces: median {mid:.4f}, 5-95 % {lo:.4f}-{hi:.4f}")
    print("\ncross-validated (two folds by identity):\n")
    print("| points | n | mean confidence | share within 10 % IOD | AUC (confidence vs within) | AUC of the raw peak |")
    print("|---|---|---|---|---|---|")
    cases = {
        "clear faces": np.broadcast_to((views.kind == "clear")[:, None], right.shape),
        "covered points": (views.kind == "covered")[:, None] & views.hidden,
        "covered faces, other points": (views.kind == "covered")[:, None] & ~views.hidden,
        "moved boxes": np.broadcast_to((views.kind == "moved")[:, None], right.shape),
        "all views": np.ones_like(right),
    }
    for label, m in cases.items():
        print(f"| {label} | {int(m.sum())} | {pred[m].mean():.3f} | {right[m].mean():.3f} | "
              f"{auc(pred[m], right[m]):.3f} | {auc(views.raw[m], right[m]):.3f} |")
    weights = np.repeat([VIEW_WEIGHT[k] for k in views.kind], 68).reshape(right.shape)
    print(f"\nweighted as fitted (clear x2): mean confidence {np.average(pred, weights=weights):.3f}, "
          f"share within {np.average(right, weights=weights):.3f}")
    print("\nreliability, all views (bins of confidence: mean confidence / share within / points):")
    bins = np.minimum((pred * 10).astype(int), 9)
    print("  " + "  ".join(f"{pred[bins == b].mean():.2f}/{right[bins == b].mean():.2f}/{int((bins == b).sum())}"
                         for b in range(10) if (bins == b).any()))
    clear = views.kind == "clear"
    print(f"\nclear faces: {(pred[clear] > 0.5).mean():.1%} of points above 0.5")
    q = np.quantile(pred[clear], [0.25, 0.5, 0.75])
    quart = np.searchsorted(q, pred[clear])
    print("clear faces by quartile of confidence (range, median error / IOD, within): " + "; ".join(
        f"{pred[clear][quart == i].min():.2f}-{pred[clear][quart == i].max():.2f}, "
        f"{np.median(views.err[clear][quart == i]):.3f}, {right[clear][quart == i].mean():.3f}" for i in range(4)))
    hi = pred > 0.5
    print(f"all views: confidence > 0.5: median error {np.median(views.err[hi]):.3f} IOD, within {right[hi].mean():.3f}; "
          f"<= 0.5: median error {np.median(views.err[~hi]):.3f}, within {right[~hi].mean():.3f}")
    for region in ("right eye", "left eye"):
        idx = COVERABLE[region]
        n_cov = 0
        before, after = [], []
        face_ids = np.flatnonzero(clear)
        for f in face_ids:  # views come in (clear, covered, moved) triples
            if views.kind[f + 1] == "covered" and views.hidden[f + 1, idx].all() and not views.hidden[f + 1, 48:].any():
                n_cov += 1
                before.append(pred[f, idx].mean())
                after.append(pred[f + 1, idx].mean())
        if n_cov:
            print(f"{region} covered ({n_cov} faces): its points' mean confidence {np.mean(before):.3f} -> {np.mean(after):.3f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=["fpenet68", "fpenet68-int8", "fpenet68-fp16"])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--write", action="store_true", help="write the fitted constants into CALIBRATIONS (the source file)")
    args = p.parse_args(argv)
    os.environ.setdefault("FACEANALYTICS_HOME", str(args.data.resolve().parents[1] / "models"))
    _, val = split_by_identity(read_csv(args.data / "annotations.csv"), 0.15, 0)
    detector = BlazeFaceDetector("short")
    fitted = []
    for name in args.models:
        runner = FPENetRunner(name, device="cpu", threads=1)
        views = collect(runner, detector, val)
        report(name, views, cross_validated(views, name))
        fitted.append(calibration(name, fit(views)))
    print("\n# fitted on all validation identities (faceanalytics/runners/point_confidence.py, CALIBRATIONS):")
    for c in fitted:
        r = lambda vs: "(" + ", ".join(f"{v:.4f}" for v in vs) + ")"  # noqa: E731
        print(f'    "{c.model}": PointCalibration("{c.model}", {r(c.intercept)}, {r(c.slope)}, {c.face_slope:.4f}),')
    if args.write:
        CALIBRATION_SOURCE.write_text(set_calibrations(CALIBRATION_SOURCE.read_text(), fitted))
        print(f"wrote {CALIBRATION_SOURCE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
