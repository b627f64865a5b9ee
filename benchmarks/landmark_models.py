"""Landmark models side by side, in one run: accuracy, the eye and mouth cues they give, and speed.

    python benchmarks/landmark_models.py [MODEL ...] [--fer-per-class N] [--no-speed | --speed-only] [--json FILE]

A MODEL is a registered name (``fpenet68``, ``fpenet68-int8``) or an FPENet-contract .onnx path;
the default is ``fpenet68`` alone. One Markdown table, one column per model:

* NME (% of the outer-eye-corner distance) from BlazeFace boxes, all 68 points and per region
  (jaw, brows, nose, eyes, outer lips, inner lips), failure rate (NME > 10 %), faces found, and the
  NME from ground-truth boxes, on the identity-held-out split of ../shared/data/landmarks68
  (``faceanalytics.train.evaluate``: the training split, seed 0, 15 % of the identities);
* EAR AUC, closed vs open, on the held-out part of ../shared/data/eye_state, from the landmarks
  alone (``evaluate_ear``);
* on the held-out half of ../shared/data/expressions (FER-2013, upscaled 4x and padded;
  ``faceanalytics.train.expressions``): the inner-lip MAR AUC surprise vs neutral (landmarks
  alone), and ``open_score`` (surprise vs neutral) and ``smile`` (happy vs neutral) AUCs of the
  MouthPlugin as shipped, counted as in ``benchmarks/plugins_quality.py``. The mouth-cue network
  and the linear mouth models were fitted on fpenet68's landmarks: for another model these two are
  what it gets before they are refitted;
* speed, paired: the models' ``FPENetRunner`` take turns in rounds (order alternating) on the
  same 64 held-out face crops; batch 1 ms/face is the median of every call, its ratio to the first
  model the median over rounds of the ratio of round medians; batch 8 faces/s the median over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from expressions import mouth_pipeline, mouth_results, split

from faceanalytics.runners.fpenet import FPENetRunner
from faceanalytics.train.data import read_csv, split_by_identity
from faceanalytics.train.evaluate import REGIONS, _ours, auc, evaluate_ear, evaluate_landmarks, region_key, speed_crops
from faceanalytics.train.eyes import split_eye_state

SEED, VAL_FRACTION = 0, 0.15  # as in training and faceanalytics.train.evaluate

ROWS = [
    ("NME %, 68 points, detector boxes", "nme_pct", "<= 4.0", "{:.2f}"),
    *((f"  {r}", region_key(r), "", "{:.2f}") for r in REGIONS),
    ("failure rate % (NME > 10 %)", "failure_pct", "<= 1", "{:.2f}"),
    ("faces found %", "found_pct", "", "{:.1f}"),
    ("NME %, ground-truth boxes", "gt_nme_pct", "", "{:.2f}"),
    ("EAR AUC closed vs open (eye_state held out, landmarks alone)", "ear_auc", ">= 0.99", "{:.4f}"),
    ("MAR AUC surprise vs neutral (FER held out, landmarks alone)", "mar_auc", ">= 0.90", "{:.3f}"),
    ("mouth open_score AUC surprise vs neutral (MouthPlugin as shipped) *", "open_auc", ">= 0.95", "{:.3f}"),
    ("smile AUC happy vs neutral (MouthPlugin as shipped) *", "smile_auc", ">= 0.94", "{:.3f}"),
    ("batch 1, ms/face (paired, median)", "latency_ms", "<= 0.72", "{:.3f}"),
    ("  ratio to the first model (median over rounds)", "latency_ratio", "<= 1", "{:.3f}"),
    ("batch 8, faces/s (paired, median over rounds)", "throughput_b8", "", "{:.0f}"),
]


def mouth_aucs(model: str, held: dict[str, list[Path]]) -> dict[str, float]:
    """MAR, open_score and smile AUCs of one landmark model on FER faces (an invalid mouth scores 0)."""
    pipe = mouth_pipeline(model)
    faces = {cls: mouth_results(pipe, held[cls]) for cls in ("happy", "neutral", "surprise")}

    def score(cls: str, attr: str) -> np.ndarray:
        return np.array([getattr(f.mouth, attr) if f.mouth.valid else 0.0 for f in faces[cls]])

    return {
        "mar_auc": auc(score("neutral", "mar"), score("surprise", "mar")),
        "open_auc": auc(score("neutral", "open_score"), score("surprise", "open_score")),
        "smile_auc": auc(score("neutral", "smile"), score("happy", "smile")),
        "mar_median_neutral": float(np.median(score("neutral", "mar"))),
        "mar_median_surprise": float(np.median(score("surprise", "mar"))),
        "fer_faces": sum(len(v) for v in faces.values()),
    }


def paired_speed(
    models: list[str], crops: np.ndarray, rounds: int = 20, calls: int = 150, threads: int | None = None
) -> list[dict[str, float]]:
    """Batch-1 ms/face and batch-8 faces/s of each model, the models taking turns on the same crops."""
    runners = [FPENetRunner(m, device="cpu", threads=threads) for m in models]
    x8 = np.ascontiguousarray(np.resize(crops, (8, *crops.shape[1:])))
    for r in runners:
        for j in range(30):
            r.run(crops[j % len(crops)][None])
        for _ in range(5):
            r.run(x8)
    times: list[list[float]] = [[] for _ in runners]
    round_medians: list[list[float]] = [[] for _ in runners]
    throughput: list[list[float]] = [[] for _ in runners]
    for k in range(rounds):
        order = list(range(len(runners)))
        for i in order if k % 2 == 0 else order[::-1]:
            runner, t_round = runners[i], []
            for j in range(calls):
                c = crops[j % len(crops)][None]
                t = time.perf_counter()
                runner.run(c)
                t_round.append(time.perf_counter() - t)
            times[i] += t_round
            round_medians[i].append(float(np.median(t_round)))
            n, t = 0, time.perf_counter()
            while time.perf_counter() - t < 0.25:
                runner.run(x8)
                n += 8
            throughput[i].append(n / (time.perf_counter() - t))
    first = np.asarray(round_medians[0])
    return [
        {
            "latency_ms": 1000.0 * float(np.median(times[i])),
            "latency_ratio": float(np.median(np.asarray(round_medians[i]) / first)),
            "throughput_b8": float(np.median(throughput[i])),
        }
        for i in range(len(runners))
    ]


def format_table(results: dict[str, dict[str, float]]) -> str:
    names = list(results)
    lines = ["| metric | target (issue 20) | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for label, key, target, fmt in ROWS:
        cells = [fmt.format(results[n][key]) if key in results[n] and results[n][key] == results[n][key] else "" for n in names]
        lines.append(f"| {label} | {target} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _label(model: str, taken: set[str]) -> str:
    name = Path(model).stem if model.endswith(".onnx") else model
    label, k = name, 2
    while label in taken:
        label, k = f"{name} ({k})", k + 1
    taken.add(label)
    return label


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=["fpenet68"], help="registered names or .onnx paths (default: fpenet68)")
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"))
    ap.add_argument("--fer-per-class", type=int, default=None, help="held-out FER faces per class (default: all, 1000)")
    ap.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: one per core)")
    ap.add_argument("--rounds", type=int, default=20, help="paired speed rounds")
    ap.add_argument("--no-speed", action="store_true", help="skip the speed rows")
    ap.add_argument("--speed-only", action="store_true", help="only the speed rows")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args(argv)
    models = args.models or ["fpenet68"]
    data = Path(args.shared) / "data"
    os.environ.setdefault("FACEANALYTICS_HOME", str(Path(args.shared) / "models"))

    _, val = split_by_identity(read_csv(data / "landmarks68" / "annotations.csv"), VAL_FRACTION, SEED)
    eyes = split_eye_state(data / "eye_state", seed=SEED)
    held = split(data / "expressions")["held_out"]
    if args.fer_per_class is not None:
        held = {cls: files[: args.fer_per_class] for cls, files in held.items()}

    taken: set[str] = set()
    labels = [_label(m, taken) for m in models]
    results: dict[str, dict[str, float]] = {}
    for model, label in zip(models, labels, strict=True):
        results[label] = {}
        if args.speed_only:
            continue
        t = time.perf_counter()
        print(f"[{label}] landmarks68, eye_state ...", file=sys.stderr, flush=True)
        method = _ours(model, args.threads, name=label)
        r = evaluate_landmarks(method, val)
        r.update(evaluate_ear(method, eyes.closed_eval, eyes.open_eval))
        print(f"[{label}] FER mouths ...", file=sys.stderr, flush=True)
        r.update(mouth_aucs(model, held))
        r["eval_s"] = time.perf_counter() - t
        results[label] = r
    if not args.no_speed:
        print("paired speed ...", file=sys.stderr, flush=True)
        for label, s in zip(labels, paired_speed(models, speed_crops(val), args.rounds, threads=args.threads), strict=True):
            results[label].update(s)

    n_fer = {cls: len(files) for cls, files in held.items() if cls in ("happy", "neutral", "surprise")}
    print(
        f"landmarks68 held-out identities: {len({s.identity for s in val})}, frames: {len(val)}; "
        f"eye_state held out: {len(eyes.closed_eval)} closed, {len(eyes.open_eval)} open; "
        f"FER held out: {n_fer['happy']} happy, {n_fer['neutral']} neutral, {n_fer['surprise']} surprise"
    )
    print(format_table(results))
    print(
        "* the mouth-cue network and the linear mouth models were fitted on fpenet68's landmarks; "
        "for another model these rows hold until they are refitted on its landmarks"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
