"""Measure a landmark model the way users get it: accuracy, blink separation and speed.

``python -m faceanalytics.train.evaluate --model PATH`` prints one table:

- NME (mean point error / outer-eye-corner distance, points 36 and 45), per region, failure rate
  (NME > 10 %) and faces found, on the identity-held-out split of landmarks68 (the same seeded
  split as training), from BlazeFace boxes and from ground-truth boxes (the landmarks' bounding
  box, as a tracker gives from the previous frame);
- eye-aspect-ratio AUC, closed vs open eyes, on the held-out part of eye_state;
- landmark latency at batch 1 (ms/face) and batched throughput (faces/s), onnxruntime on CPU.

dlib's 68-point ERT predictor (``dlib-bin`` + ``face-recognition-models``) gets its own column
when installed, with its own HOG face detector for "detector boxes"; MediaPipe FaceMesh too, when its
venv exists (:mod:`.facemesh`), with its own detector (its "ground-truth boxes" row stays empty: it
takes no boxes).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from faceanalytics.core.image import load_image
from faceanalytics.core.schema import SCHEMA_68
from faceanalytics.geometry.crop import crop_faces, square_crop_matrices, to_gray
from faceanalytics.geometry.face_frame import eye_corner_distance
from faceanalytics.train.boxes import match_detection
from faceanalytics.train.data import LandmarkSample, read_csv, split_by_identity
from faceanalytics.train.eyes import eye_aspect_ratio, pad_face_crop, split_eye_state

__all__ = ["REGIONS", "Method", "auc", "evaluate_ear", "evaluate_landmarks", "main", "region_key", "speed_crops"]

logger = logging.getLogger("faceanalytics.train")

REGIONS = {
    "jaw": SCHEMA_68.jaw,
    "brows": SCHEMA_68.right_eyebrow + SCHEMA_68.left_eyebrow,
    "nose": SCHEMA_68.nose,
    "eyes": SCHEMA_68.right_eye + SCHEMA_68.left_eye,
    "outer lips": SCHEMA_68.outer_lips,
    "inner lips": SCHEMA_68.inner_lips,
}
"""The regions of the per-region NME rows: together the 68 points, each once (names from the schema)."""


def region_key(region: str) -> str:
    """The result key of a region's NME: ``"outer lips"`` -> ``"nme_outer_lips_pct"``."""
    return f"nme_{region.replace(' ', '_')}_pct"


@dataclass
class Method:
    """A landmarker under test: ``detect(bgr) -> (M, 4) boxes``, ``landmarks(bgr, boxes) -> (M, 68, 2)``."""

    name: str
    detect: Callable[[np.ndarray], np.ndarray]
    landmarks: Callable[[np.ndarray, np.ndarray], np.ndarray]
    confidence: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None  # (bgr, boxes) -> (M,) mean point confidence
    takes_boxes: bool = True  # False: landmarks() ignores the boxes (no ground-truth-box rows)


def auc(negatives: np.ndarray, positives: np.ndarray) -> float:
    """Area under the ROC curve: P(positive score > negative score), ties counting one half."""
    neg, pos = np.asarray(negatives, np.float64), np.asarray(positives, np.float64)
    if len(neg) == 0 or len(pos) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def _nme(pred: np.ndarray, gt: np.ndarray, idx: Sequence[int] | None = None) -> float:
    iod = eye_corner_distance(gt)
    err = np.linalg.norm(pred - gt, axis=-1)
    return float((err if idx is None else err[list(idx)]).mean() / max(iod, 1e-9))


def _gt_box(points: np.ndarray) -> np.ndarray:
    lo, hi = points.min(0), points.max(0)
    return np.array([lo[0], lo[1], hi[0], hi[1]], np.float32)


def evaluate_landmarks(method: Method, samples: Sequence[LandmarkSample]) -> dict[str, float]:
    """NME (%), per-region NME, failure rate and faces found, from detector and ground-truth boxes."""
    det_regions: dict[str, list[float]] = {r: [] for r in REGIONS}
    det_nme, gt_nme, found = [], [], 0
    offsets = []  # mean signed error of each face / eye distance (x right, y down)
    conf_face, conf_off = [], []
    for s in samples:
        bgr = load_image(s.path)
        boxes = method.detect(bgr)
        i = match_detection(boxes, s.points)
        if i is not None:
            found += 1
            if method.confidence is not None:
                # the face, and the same box moved one box width sideways (a tracker that lost the face)
                b = boxes[i : i + 1].copy()
                conf_face.append(float(method.confidence(bgr, b)[0]))
                w = float(b[0, 2] - b[0, 0])
                b[0, [0, 2]] += w if b[0, 0] + b[0, 2] < bgr.shape[1] else -w
                conf_off.append(float(method.confidence(bgr, b)[0]))
            pred = method.landmarks(bgr, boxes[i : i + 1])[0]
            det_nme.append(_nme(pred, s.points))
            iod = eye_corner_distance(s.points)
            offsets.append((pred - s.points).mean(axis=0) / max(iod, 1e-9))
            for r, idx in REGIONS.items():
                det_regions[r].append(_nme(pred, s.points, idx))
        pred_gt = method.landmarks(bgr, _gt_box(s.points)[None])[0]
        gt_nme.append(_nme(pred_gt, s.points))
    d, g = np.asarray(det_nme), np.asarray(gt_nme)
    n = len(samples)
    out = {
        "faces": n,
        "found_pct": 100.0 * found / n,
        "nme_pct": 100.0 * float(d.mean()) if len(d) else float("nan"),
        "failure_pct": 100.0 * float((d > 0.10).mean()) if len(d) else float("nan"),
        "failure_or_missed_pct": 100.0 * (float((d > 0.10).sum()) + n - found) / n,
        "gt_nme_pct": 100.0 * float(g.mean()),
        "gt_failure_pct": 100.0 * float((g > 0.10).mean()),
    }
    if offsets:
        out["offset_x_pct"], out["offset_y_pct"] = (100.0 * float(v) for v in np.mean(offsets, axis=0))
    for r, v in det_regions.items():
        out[region_key(r)] = 100.0 * float(np.mean(v)) if v else float("nan")
    if conf_face:
        out["conf_auc"] = auc(np.asarray(conf_off), np.asarray(conf_face))
        out["conf_face_median"] = float(np.median(conf_face))
        out["conf_off_median"] = float(np.median(conf_off))
    return out


def evaluate_ear(method: Method, closed: Sequence[Path], opened: Sequence[Path]) -> dict[str, float]:
    """EAR AUC (closed low vs open high) on padded eye_state crops; the whole crop is the box when no face is found."""
    ears: dict[str, list[float]] = {"closed": [], "open": []}
    found = 0
    for key, files in (("closed", closed), ("open", opened)):
        for f in files:
            raw = load_image(f)
            bgr = pad_face_crop(raw)
            boxes = method.detect(bgr)
            if len(boxes):
                found += 1
                box = boxes[np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))]
            else:
                p = (bgr.shape[0] - raw.shape[0]) // 2
                box = np.array([p, p, p + raw.shape[1], p + raw.shape[0]], np.float32)
            ears[key].append(float(eye_aspect_ratio(method.landmarks(bgr, box[None])[0])))
    c, o = np.asarray(ears["closed"]), np.asarray(ears["open"])
    return {
        "ear_auc": auc(c, o),
        "ear_closed_median": float(np.nanmedian(c)),
        "ear_open_median": float(np.nanmedian(o)),
        "ear_found_pct": 100.0 * found / max(len(c) + len(o), 1),
        "ear_n_closed": len(c),
        "ear_n_open": len(o),
    }


def measure_speed(model_path: str, crops: np.ndarray, batch: int = 64, threads: int | None = None) -> dict[str, float]:
    """onnxruntime CPU latency at batch 1 (median ms/face) and throughput at batches of ``batch`` (faces/s)."""
    from faceanalytics.runners.fpenet import FPENetRunner

    runner = FPENetRunner(model_path, device="cpu", threads=threads)
    one = crops[:1]
    for _ in range(20):
        runner.run(one)
    times = []
    for i in range(300):
        c = crops[i % len(crops) : i % len(crops) + 1]
        t = time.perf_counter()
        runner.run(c)
        times.append(time.perf_counter() - t)
    out = {"latency_ms": 1000.0 * float(np.median(times))}
    for b in sorted({8, batch}):
        x = np.ascontiguousarray(np.resize(crops, (b, *crops.shape[1:])))
        runner.run(x)
        n, t = 0, time.perf_counter()
        while time.perf_counter() - t < 2.0:
            runner.run(x)
            n += b
        out[f"throughput_b{b}"] = n / (time.perf_counter() - t)
    return out


def speed_crops(samples: Sequence[LandmarkSample], n: int = 64) -> np.ndarray:
    """(n, 1, 80, 80) gray face crops of the first ``n`` samples, from their ground-truth boxes: the speed rows' inputs."""
    s = samples[: min(len(samples), n)]
    mats = square_crop_matrices(np.stack([_gt_box(x.points) for x in s]), 80)
    return np.concatenate([crop_faces(to_gray(load_image(x.path)), m[None]) for x, m in zip(s, mats, strict=True)])


def _ours(model_path: str, threads: int | None, name: str = "fpenet68") -> Method:
    from faceanalytics.runners.detector import BlazeFaceDetector
    from faceanalytics.runners.fpenet import FPENetRunner

    det = BlazeFaceDetector("short")
    runner = FPENetRunner(model_path, device="cpu", threads=threads)

    def detect(bgr: np.ndarray) -> np.ndarray:
        return np.array([d.box for d in det.detect(bgr)], np.float32).reshape(-1, 4)

    def landmarks(bgr: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        return runner.landmarks(bgr, boxes)[0]

    def confidence(bgr: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        # the raw softargmax:1 peaks, as in every table so far (not the calibrated confidence users get)
        return runner.landmarks(bgr, boxes, raw=True)[1].mean(axis=1)

    return Method(name, detect, landmarks, confidence)


def _dlib() -> tuple[Method, Callable[[np.ndarray, np.ndarray], np.ndarray]] | None:
    """dlib HOG detector + 68-point ERT, or ``None`` when not installed."""
    spec = importlib.util.find_spec("face_recognition_models")
    if importlib.util.find_spec("dlib") is None or spec is None or not spec.submodule_search_locations:
        return None
    import dlib

    model = Path(next(iter(spec.submodule_search_locations))) / "models" / "shape_predictor_68_face_landmarks.dat"
    if not model.exists():
        return None
    hog, predictor = dlib.get_frontal_face_detector(), dlib.shape_predictor(str(model))

    def detect(bgr: np.ndarray) -> np.ndarray:
        rects = hog(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), 1)
        return np.array([[r.left(), r.top(), r.right(), r.bottom()] for r in rects], np.float32).reshape(-1, 4)

    def landmarks(bgr: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        out = []
        for box in boxes:
            shape = predictor(rgb, dlib.rectangle(*(round(float(v)) for v in box)))
            out.append([[p.x, p.y] for p in shape.parts()])
        return np.asarray(out, np.float32)

    return Method("dlib ERT-68", detect, landmarks), landmarks


def _facemesh(python: Path) -> tuple[Method, Callable[[], None]]:
    """MediaPipe FaceMesh (its own detector; boxes are ignored) mapped to 68 points."""
    from faceanalytics.train.facemesh import FaceMeshWorker

    worker = FaceMeshWorker(python)
    cache: dict[int, np.ndarray | None] = {}  # landmarks of the image last passed to detect()

    def detect(bgr: np.ndarray) -> np.ndarray:
        cache.clear()
        pts = cache[id(bgr)] = worker.landmarks68(bgr)
        if pts is None:
            return np.zeros((0, 4), np.float32)
        return np.array([[*pts.min(axis=0), *pts.max(axis=0)]], np.float32)

    def landmarks(bgr: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        pts = cache.get(id(bgr))
        return np.full((len(boxes), 68, 2), np.nan) if pts is None else np.repeat(pts[None], len(boxes), axis=0)

    return Method("MediaPipe FaceMesh", detect, landmarks, takes_boxes=False), worker.close


def _dlib_latency(landmarks: Callable[[np.ndarray, np.ndarray], np.ndarray], samples: Sequence[LandmarkSample]) -> float:
    imgs = [(load_image(s.path), _gt_box(s.points)[None]) for s in samples[:50]]
    t = time.perf_counter()
    for _ in range(4):
        for img, box in imgs:
            landmarks(img, box)
    return 1000.0 * (time.perf_counter() - t) / (4 * len(imgs))


ROWS = [
    ("NME %, 68 points, detector boxes", "nme_pct", "<= 4.5", "{:.2f}"),
    *((f"  {r}", region_key(r), "", "{:.2f}") for r in REGIONS),
    ("  mean offset x / y (% of eye distance, + is right / down)", "offsets", "", "{}"),
    ("faces found %", "found_pct", ">= 99", "{:.1f}"),
    ("failure rate % (NME > 10 %, found faces)", "failure_pct", "<= 2", "{:.2f}"),
    ("failure or missed %", "failure_or_missed_pct", "", "{:.2f}"),
    ("NME %, ground-truth boxes", "gt_nme_pct", "", "{:.2f}"),
    ("failure rate %, ground-truth boxes", "gt_failure_pct", "", "{:.2f}"),
    ("EAR AUC, closed vs open", "ear_auc", ">= 0.98", "{:.4f}"),
    ("  EAR median closed / open", "ear_medians", "", "{}"),
    ("confidence AUC, face vs box moved off the face", "conf_auc", "", "{:.4f}"),
    ("  mean point confidence, median face / off-face", "conf_medians", "", "{}"),
    ("landmark latency, batch 1, ms/face", "latency_ms", "<= 1.5", "{:.3f}"),
    ("throughput, batch 8, faces/s", "throughput_b8", ">= 800", "{:.0f}"),
    ("throughput, batch 64, faces/s", "throughput_b64", ">= 800", "{:.0f}"),
]


def format_table(results: dict[str, dict[str, float]]) -> str:
    """A Markdown table, one column per method."""
    names = list(results)
    lines = ["| metric | target | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for label, key, target, fmt in ROWS:
        cells = []
        for n in names:
            r = results[n]
            if key == "ear_medians" and "ear_closed_median" in r:
                cells.append(f"{r['ear_closed_median']:.3f} / {r['ear_open_median']:.3f}")
            elif key == "offsets" and "offset_x_pct" in r:
                cells.append(f"{r['offset_x_pct']:+.2f} / {r['offset_y_pct']:+.2f}")
            elif key == "conf_medians" and "conf_face_median" in r:
                cells.append(f"{r['conf_face_median']:.4f} / {r['conf_off_median']:.4f}")
            elif key in r and r[key] == r[key]:
                cells.append(fmt.format(r[key]))
            else:
                cells.append("")
        lines.append(f"| {label} | {target} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    here = Path(__file__).resolve().parents[2]
    shared = here.parent / "shared" / "data"
    p = argparse.ArgumentParser(prog="python -m faceanalytics.train.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="fpenet68", help="registered model name or ONNX path")
    p.add_argument("--data", default=str(shared / "landmarks68"), help="landmarks68 folder")
    p.add_argument("--eye-state", default=str(shared / "eye_state"), help="eye_state folder")
    p.add_argument("--seed", type=int, default=0, help="split seed (as in training)")
    p.add_argument("--val-fraction", type=float, default=0.15, help="held-out identity fraction (as in training)")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: one per core)")
    p.add_argument("--no-dlib", action="store_true", help="skip dlib even when installed")
    p.add_argument("--no-facemesh", action="store_true", help="skip MediaPipe FaceMesh even when its venv exists")
    p.add_argument("--json", default=None, help="also write the results here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    os.environ.setdefault("FACEANALYTICS_HOME", str(Path(args.data).resolve().parents[1] / "models"))
    _, val = split_by_identity(read_csv(Path(args.data) / "annotations.csv"), args.val_fraction, args.seed)
    split = split_eye_state(args.eye_state, seed=args.seed)
    methods: list[tuple[Method, Callable[[], dict[str, float]]]] = []

    ours = _ours(args.model, args.threads)

    def ours_speed() -> dict[str, float]:
        return measure_speed(args.model, speed_crops(val), 64, args.threads)

    methods.append((ours, ours_speed))
    dl = None if args.no_dlib else _dlib()
    if dl is not None:
        dmethod, dland = dl
        methods.append((dmethod, lambda: {"latency_ms": _dlib_latency(dland, val)}))
    from faceanalytics.train.facemesh import facemesh_python

    fm_python = None if args.no_facemesh else facemesh_python()
    closers: list[Callable[[], None]] = []
    if fm_python is not None:
        fm_method, fm_close = _facemesh(fm_python)
        methods.append((fm_method, dict))  # no separate landmark latency: FaceMesh detects and landmarks in one
        closers.append(fm_close)
    results: dict[str, dict[str, float]] = {}
    for method, speed in methods:
        logger.info("evaluating %s on %d held-out frames (%d identities)", method.name, len(val), len({s.identity for s in val}))
        r = evaluate_landmarks(method, val)
        if not method.takes_boxes:
            r = {k: v for k, v in r.items() if not k.startswith("gt_")}
        r.update(evaluate_ear(method, split.closed_eval, split.open_eval))
        r.update(speed())
        results[method.name] = r
    for close in closers:
        close()
    summary = (
        f"held-out identities: {len({s.identity for s in val})}, frames: {len(val)}; "
        f"eye_state held out: {len(split.closed_eval)} closed, {len(split.open_eval)} open"
    )
    print(summary)  # noqa: T201
    print(format_table(results))  # noqa: T201
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
