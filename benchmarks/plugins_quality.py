"""Quality of the plugins on held-out data.

    python benchmarks/plugins_quality.py [--shared ../shared] [--landmark-model PATH]

* eyes: EAR AUC, closed vs open, on the held-out part of ../shared/data/eye_state (the split of
  ``faceanalytics.train.eyes.split_eye_state``; faces padded as in training);
* mouth: smile AUC happy vs neutral (and vs the other expressions), mouth-open AUC surprise vs
  neutral from ``open_score`` on the held-out half of ../shared/data/expressions
  (``faceanalytics.train.expressions``), from the default mouth-cue network and, for comparison,
  from the landmarks alone (``MouthPlugin(net=None)``) and from the inner-lip MAR;
* head pose: mirror consistency on the validation identities of ../shared/data/landmarks68: the
  median of |yaw(image) + yaw(mirrored image)| and of |roll + roll_mirrored|.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from expressions import mouth_pipeline, mouth_results, split

from faceanalytics import Pipeline
from faceanalytics.plugins import EyesPlugin, HeadPosePlugin
from faceanalytics.train.data import read_csv, split_by_identity
from faceanalytics.train.evaluate import auc
from faceanalytics.train.eyes import pad_face_crop, split_eye_state


def ears(pipe: Pipeline, files: list[Path]) -> np.ndarray:
    out = []
    for f in files:
        image = pad_face_crop(cv2.imread(str(f)))
        res = pipe(image)
        out.append(res.faces[0].eyes.ear if res.faces else np.nan)
    return np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"))
    ap.add_argument("--landmark-model", default=None)
    args = ap.parse_args()
    data = Path(args.shared) / "data"

    eyes = Pipeline(args.landmark_model, device="cpu", plugins=[EyesPlugin()])
    es = split_eye_state(data / "eye_state")
    closed, opened = ears(eyes, es.closed_eval), ears(eyes, es.open_eval)
    found = np.isfinite(np.r_[closed, opened]).mean()
    # Closed eyes should have the LOWER EAR; faces not found count against us (EAR 1).
    ear_auc = auc(-np.nan_to_num(opened, nan=1.0), -np.nan_to_num(closed, nan=1.0))

    held = split(data / "expressions")["held_out"]
    mouth = mouth_pipeline(args.landmark_model)
    res = {cls: mouth_results(mouth, files) for cls, files in held.items()}
    smile = {cls: np.array([f.mouth.smile if f.mouth.valid else 0.0 for f in faces]) for cls, faces in res.items()}
    opening = {cls: np.array([f.mouth.open_score if f.mouth.valid else 0.0 for f in faces]) for cls, faces in res.items()}
    mar = {cls: np.array([f.mouth.mar if f.mouth.valid else 0.0 for f in faces]) for cls, faces in res.items()}
    smile_auc = auc(smile["neutral"], smile["happy"])
    open_auc = auc(opening["neutral"], opening["surprise"])
    mar_auc = auc(mar["neutral"], mar["surprise"])
    shape_pipe = mouth_pipeline(args.landmark_model, net=None)
    shape_only = {cls: mouth_results(shape_pipe, files) for cls, files in held.items()}
    shape_smile = {c: np.array([f.mouth.smile if f.mouth.valid else 0.0 for f in faces]) for c, faces in shape_only.items()}
    shape_open = {c: np.array([f.mouth.open_score if f.mouth.valid else 0.0 for f in faces]) for c, faces in shape_only.items()}
    others = [cls for cls in smile if cls not in ("happy", "neutral")]

    pose = Pipeline(args.landmark_model, device="cpu", plugins=[HeadPosePlugin()])
    _, val = split_by_identity(read_csv(data / "landmarks68" / "annotations.csv"))
    dyaw, droll = [], []
    for s in val:
        image = cv2.imread(str(s.path))
        a, b = pose(image).faces, pose(np.ascontiguousarray(image[:, ::-1])).faces
        if a and b and a[0].head_pose.valid and b[0].head_pose.valid:
            dyaw.append(abs(a[0].head_pose.yaw + b[0].head_pose.yaw))
            droll.append(abs(a[0].head_pose.roll + b[0].head_pose.roll))

    print(f"{'measure':48} {'value':>8} {'target':>8}")
    print(f"{'EAR AUC closed vs open (held-out eye_state)':48} {ear_auc:>8.3f} {'>= 0.98':>8}")
    print(f"{'  faces found':48} {found * 100:>7.1f}% {'':>8}")
    print(f"{'smile AUC happy vs neutral (held-out FER)':48} {smile_auc:>8.3f} {'>= 0.95':>8}")
    for cls in others:
        print(f"{f'  smile AUC happy vs {cls}':48} {auc(smile[cls], smile['happy']):>8.3f} {'':>8}")
    print(f"{'mouth-open AUC surprise vs neutral (open_score)':48} {open_auc:>8.3f} {'>= 0.93':>8}")
    print(f"{'  the same from the inner-lip MAR alone':48} {mar_auc:>8.3f} {'':>8}")
    print(f"{'landmarks alone (MouthPlugin(net=None)):':48}")
    print(f"{'  smile AUC happy vs neutral':48} {auc(shape_smile['neutral'], shape_smile['happy']):>8.3f} {'':>8}")
    print(f"{'  mouth-open AUC surprise vs neutral':48} {auc(shape_open['neutral'], shape_open['surprise']):>8.3f} {'':>8}")
    print(f"{'median |yaw + yaw mirrored| (deg, val faces)':48} {np.median(dyaw):>8.2f} {'<= 3':>8}")
    print(f"{'median |roll + roll mirrored| (deg)':48} {np.median(droll):>8.2f} {'':>8}")
    n_fer = sum(len(v) for v in held.values())
    print(f"  ({len(closed)} closed / {len(opened)} open eyes; {n_fer} FER faces; {len(dyaw)} pose pairs)")


if __name__ == "__main__":
    main()
