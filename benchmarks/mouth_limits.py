"""What limits the mouth cues on FER-2013: the landmarks' resolution, and the landmark model.

    python benchmarks/mouth_limits.py [--shared ../shared] [--no-peers] [--montage DIR]

1. Resolution: NME (% of the outer eye-corner distance, ground-truth boxes) of the shipped
   landmark model on the held-out identities of ../shared/data/landmarks68, at full size and with
   each face shrunk to 64, 48 and 36 pixels wide and upscaled 4x again, as the FER faces are.
2. Landmark models: the landmark-only smile and mouth-open models (L2-regularised logistic
   regression over the 44-number mouth shape, as ``calibrate_mouth.py`` fits them) on the points
   of our model, dlib's ERT-68 (on our detector's box) and MediaPipe FaceMesh mapped to 68
   points (its own detector), when installed. Every model's shape is corrected with our head
   pose; smile is fitted on happy vs the four other expressions, open on surprise vs neutral, on
   the calibration half of ../shared/data/expressions; AUCs on the held-out half. Only the faces
   that every method found count (FaceMesh misses some FER faces).
3. ``--montage DIR`` (instead of 1 and 2): the labels. Numbered montages of held-out FER faces to
   look at: 60 surprise and 60 neutral faces drawn at random (seeded), the 40 surprise faces with
   the lowest ``open_score`` of the shipped MouthPlugin and the 40 neutral faces with the highest.
   How many surprise faces keep their mouths closed, and how many neutral ones are open (yawns,
   crying), bounds the AUC of any honest mouth-open score on "surprise vs neutral".
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from calibrate_mouth import fit

from faceanalytics import Pipeline
from faceanalytics.geometry.mouth import face_mouth_shape
from faceanalytics.plugins import HeadPosePlugin
from faceanalytics.runners.fpenet import FPENetRunner
from faceanalytics.train.data import read_csv, split_by_identity
from faceanalytics.train.evaluate import _dlib, _gt_box, auc
from faceanalytics.train.expressions import CLASSES, load, split
from faceanalytics.train.facemesh import FaceMeshWorker, facemesh_python


def resolution_nme(shared: Path) -> None:
    _, val = split_by_identity(read_csv(shared / "landmarks68" / "annotations.csv"), 0.15, seed=0)
    runner = FPENetRunner("fpenet68", device="cpu")
    print("landmark NME on held-out landmarks68 faces (ground-truth boxes), by face width:")
    for face_px in (None, 64, 48, 36):
        errors = []
        for s in val:
            gray = cv2.imread(str(s.path), cv2.IMREAD_GRAYSCALE)
            pts = np.asarray(s.points, np.float64)
            box = _gt_box(pts)
            if face_px:
                f = face_px / float(box[2] - box[0])
                small = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
                gray = cv2.resize(small, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
                kx, ky = gray.shape[1] / small.shape[1] * f, gray.shape[0] / small.shape[0] * f
                pts, box = pts * [kx, ky], box * np.array([kx, ky, kx, ky])
            got = runner.landmarks(gray, box[None].astype(np.float32))[0][0]
            errors.append(np.linalg.norm(got - pts, axis=1).mean() / np.linalg.norm(pts[45] - pts[36]))
        label = "full size" if face_px is None else f"{face_px} px, upscaled 4x"
        print(f"  {label:24s} NME {100 * np.mean(errors):.2f} %")


def shape_aucs(shared: Path, peers: bool) -> None:
    parts = split(shared / "expressions")
    pipe = Pipeline(device="cpu", plugins=[HeadPosePlugin()])
    found = _dlib() if peers else None
    python = facemesh_python() if peers else None
    mesh = FaceMeshWorker(python) if python is not None else None
    names = ["faceanalytics fpenet68"] + ["dlib ERT-68"] * (found is not None) + ["FaceMesh -> 68"] * (mesh is not None)
    # shapes[method][half][class]; every method's shape is corrected with our head pose
    shapes: dict[str, dict[str, dict[str, np.ndarray]]] = {n: {} for n in names}
    missed = {"calibration": 0, "held_out": 0}
    for half in ("calibration", "held_out"):
        rows: dict[str, dict[str, list[np.ndarray]]] = {n: {c: [] for c in CLASSES} for n in names}
        for cls in CLASSES:
            for f in parts[half][cls]:
                image, box = load(f)
                res = pipe(image)
                face = res.faces[0] if res.faces else pipe(image, boxes=[box]).faces[0]
                points = {"faceanalytics fpenet68": face.landmarks}
                if found is not None:
                    points["dlib ERT-68"] = found[1](image, face.box[None])[0]
                if mesh is not None:
                    points["FaceMesh -> 68"] = mesh.landmarks68(image)
                for n in names:
                    p = points[n]
                    rows[n][cls].append(face_mouth_shape(face, p) if p is not None else np.full(44, np.nan))
        for cls in CLASSES:  # only the faces every method found, so that they face the same test
            arrays = {n: np.array(rows[n][cls]) for n in names}
            common = np.logical_and.reduce([np.isfinite(a).all(axis=1) for a in arrays.values()])
            missed[half] += int((~common).sum())
            for n in names:
                shapes[n].setdefault(half, {})[cls] = arrays[n][common]
    if mesh is not None:
        mesh.close()
    print("landmark-only mouth models (logistic over the pose-corrected mouth shape), held-out FER AUC")
    left = f"{missed['calibration']} calibration and {missed['held_out']} held-out faces left out"
    print(f"  (on the faces every method found: {left}):")
    print(f"  {'landmarks':24s} {'smile, happy vs neutral':>24s} {'open, surprise vs neutral':>26s}")
    for n in names:
        cal, held = shapes[n]["calibration"], shapes[n]["held_out"]
        others = np.vstack([cal[c] for c in CLASSES if c != "happy"])
        smile_b, smile_w, _ = fit(cal["happy"], others, 1.0)
        open_b, open_w, _ = fit(cal["surprise"], cal["neutral"], 1.0)
        smile = auc(held["neutral"] @ smile_w + smile_b, held["happy"] @ smile_w + smile_b)
        opening = auc(held["neutral"] @ open_w + open_b, held["surprise"] @ open_w + open_b)
        print(f"  {n:24s} {smile:>24.3f} {opening:>26.3f}")


def montages(data: Path, out: Path) -> None:
    from expressions import mouth_pipeline, mouth_results

    held = split(data / "expressions")["held_out"]
    out.mkdir(parents=True, exist_ok=True)
    pipe = mouth_pipeline()

    def write(name: str, files: list[Path], order: np.ndarray, scores: np.ndarray | None) -> None:
        tiles = []
        for k, i in enumerate(order):
            tile = cv2.resize(cv2.imread(str(files[i]), cv2.IMREAD_GRAYSCALE), (96, 96))
            label = str(k) if scores is None else f"{k} {scores[i]:.2f}"
            cv2.putText(tile, label, (2, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, 255, 1)
            tiles.append(tile)
        rows = [np.hstack(tiles[r : r + 10]) for r in range(0, len(tiles), 10)]
        cv2.imwrite(str(out / f"{name}.png"), np.vstack(rows))
        print(f"wrote {out / name}.png")

    rng = np.random.default_rng(7)
    for cls in ("surprise", "neutral"):
        files = held[cls]
        write(f"random_{cls}", files, rng.choice(len(files), 60, replace=False), None)
        scores = np.array([f.mouth.open_score if f.mouth.valid else 0.0 for f in mouth_results(pipe, files)])
        order = np.argsort(scores) if cls == "surprise" else np.argsort(-scores)
        write(f"{'lowest' if cls == 'surprise' else 'highest'}_open_score_{cls}", files, order[:40], scores)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"))
    ap.add_argument("--no-peers", dest="peers", action="store_false", help="our landmarks only")
    ap.add_argument("--montage", type=Path, default=None, help="write the label montages here instead (part 3)")
    args = ap.parse_args()
    data = Path(args.shared) / "data"
    if args.montage is not None:
        montages(data, args.montage)
        return
    resolution_nme(data)
    shape_aucs(data, args.peers)


if __name__ == "__main__":
    main()
