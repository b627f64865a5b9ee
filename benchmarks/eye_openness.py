"""Eye openness vs EAR on held-out faces, and the network's cost per face.

    FACEANALYTICS_HOME=../shared/models python benchmarks/eye_openness.py [--net FILE] [--no-speed | --no-accuracy]

Held-out faces: the ``eye_state`` faces that ``split_eye_state(seed=0)`` holds out (CEW closed,
UTKFace open; padded with ``pad_face_crop`` as in training) and the landmarks68 validation
identities (``split_by_identity(0.15, seed=0)``: open). Landmarks from the shipped pipeline, then
:class:`faceanalytics.plugins.EyesPlugin` as a user gets it (openness through the runtime's own
crops). Prints per-eye AUCs (closed vs open) of openness and EAR, the false-closed rate on open
eyes and faces and the closed recall at the default thresholds, the EAR medians, and the cost of
the network per face at batch 1: ``EyesPlugin()`` vs ``EyesPlugin(net=None)`` on the same face,
alternating, median of the paired differences.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from faceanalytics import SCHEMA_68, Face
from faceanalytics.plugins.base import Frame
from faceanalytics.plugins.eyes import DEFAULT_EAR_THRESHOLD, MIN_FACE_CONTRAST, EyesPlugin, face_contrast
from faceanalytics.train.evaluate import auc
from faceanalytics.train.eye_openness import _files, _read, landmarks


def _scores(
    plugin: EyesPlugin, files: list[Path], points: np.ndarray, padded: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(M, 2) openness and (M, 2) EAR, (left, right) per face, (M,) ``closed`` as the plugin says,
    and (M,) face contrast (:func:`~faceanalytics.plugins.eyes.face_contrast`)."""
    op, ear, closed, contrast = [], [], [], []
    for f, p in zip(files, points, strict=True):
        face = Face(box=[0, 0, 1, 1], score=1.0, landmarks=p, confidence=np.ones(68, np.float32), schema=SCHEMA_68)
        image = _read(f, padded)[0]
        e = plugin(face, Frame(image))
        op.append((e.left_openness, e.right_openness))
        ear.append((e.left_ear, e.right_ear))
        closed.append(e.closed)
        contrast.append(face_contrast(image, p))
    return np.array(op), np.array(ear), np.array(closed), np.array(contrast)


def _contrast(values: np.ndarray) -> str:
    low, half = np.percentile(values, [0, 0.5])
    below = int((values < MIN_FACE_CONTRAST).sum())
    return f"face contrast min {low:.1f}, 0.5th percentile {half:.1f}, below {MIN_FACE_CONTRAST:g}: {below}"


def _unjudged(openness: np.ndarray) -> int:
    """Faces whose eyes the plugin did not judge (NaN openness: a face too dark to judge); their
    ``closed`` is False, so they count against closed recall and never as false closed."""
    return int((~np.isfinite(openness)).any(axis=1).sum())


def _cost(files: list[Path], points: np.ndarray, rounds: int) -> float:
    """Median paired extra milliseconds per face of the network."""
    with_net, ear_only = EyesPlugin(), EyesPlugin(net=None)
    cases = []
    for f, p in zip(files[:20], points[:20], strict=True):
        face = Face(box=[0, 0, 1, 1], score=1.0, landmarks=p, confidence=np.ones(68, np.float32), schema=SCHEMA_68)
        cases.append((face, Frame(_read(f, True)[0])))
    diffs = []
    for r in range(rounds):
        face, frame = cases[r % len(cases)]
        order = (with_net, ear_only) if r % 2 else (ear_only, with_net)
        t = {}
        for plugin in order:
            t0 = time.perf_counter()
            plugin(face, frame)
            t[id(plugin)] = time.perf_counter() - t0
        diffs.append(t[id(with_net)] - t[id(ear_only)])
    return 1000 * _order_balanced(diffs)


def _pipeline_cost(rounds: int) -> dict[str, float]:
    """Median paired extra milliseconds per face of the network inside the default Pipeline, on
    ``benchmarks/run.py``'s inputs (its 640x480 clip and held-out landmarks68 images): the eyes
    plugin's place holds both ``EyesPlugin()`` and ``EyesPlugin(net=None)``, called in turn on each
    face (which one first alternates), right after the landmark model and the head pose as in real
    use. (Two whole pipelines timed in turn in one process evict each other's models from the
    caches, which costs more than the network.)"""
    import sys

    import cv2

    from faceanalytics import Pipeline

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import clip_frames, val_samples

    diffs: list[float] = []

    class Both:
        name = "eyes"
        raw_landmarks = True

        def __init__(self) -> None:
            self.with_net, self.ear_only = EyesPlugin(), EyesPlugin(net=None)

        def __call__(self, face: Face, frame: Frame) -> object:
            first, second = (self.with_net, self.ear_only) if len(diffs) % 2 else (self.ear_only, self.with_net)
            t0 = time.perf_counter()
            a = first(face, frame)
            t1 = time.perf_counter()
            b = second(face, frame)
            t2 = time.perf_counter()
            diffs.append((t1 - t0) - (t2 - t1) if first is self.with_net else (t2 - t1) - (t1 - t0))
            return a if first is self.with_net else b

    base = Pipeline(device="cpu")
    pipe = Pipeline(device="cpu", plugins=[Both() if p.name == "eyes" else p for p in base.plugins])
    out = {}
    inputs = {
        "640x480 clip frames": list(clip_frames(30)),
        "landmarks68 held-out images": [cv2.imread(str(s.path)) for s in val_samples(30)],
    }
    for key, images in inputs.items():
        diffs.clear()
        for r in range(rounds):
            pipe(images[r % len(images)].copy())
        out[key] = 1000 * _order_balanced(diffs)
    return out


def _order_balanced(diffs: list[float]) -> float:
    """The mean of the medians of the rounds run in each order (even rounds: net-less first): the
    one that runs first on a fresh image pays for its cold caches, so the two orders differ."""
    return float((np.median(diffs[0::2]) + np.median(diffs[1::2])) / 2)


def main() -> int:
    here = Path(__file__).resolve().parents[1]
    shared = here.parent / "shared" / "data"
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eye-state", default=str(shared / "eye_state"))
    ap.add_argument("--landmarks68", default=str(shared / "landmarks68"))
    ap.add_argument("--cache", default="/tmp/eye_openness_landmarks.npz", help="landmark cache (shared with training)")
    ap.add_argument("--rounds", type=int, default=4000, help="paired timing rounds (the plugin alone)")
    ap.add_argument("--pipeline-rounds", type=int, default=1000, help="paired timing rounds through the Pipeline")
    ap.add_argument("--net", help="an eye-openness ONNX file (default: the shipped one), at its openness_threshold metadata")
    ap.add_argument("--no-speed", action="store_true", help="accuracy only")
    ap.add_argument("--no-accuracy", action="store_true", help="the cost only")
    args = ap.parse_args()
    files = _files(Path(args.eye_state), Path(args.landmarks68), 0, 0.15, 2400)
    points = landmarks(files, None, Path(args.cache) if args.cache else None)
    if args.net:
        from faceanalytics.train.register import eye_threshold_in_file

        plugin = EyesPlugin(net=args.net, openness_threshold=eye_threshold_in_file(Path(args.net)))
    else:
        plugin = EyesPlugin()
    th = plugin.openness_threshold
    if args.no_accuracy:
        _print_costs(files, points, args.rounds, args.pipeline_rounds)
        return 0
    res = {k: _scores(plugin, files[k], points[k], not k.startswith("lm_")) for k in ("closed_eval", "open_eval", "lm_eval")}
    oc, ec, cc, kc = res["closed_eval"]
    print(f"openness threshold {th}, EAR threshold {DEFAULT_EAR_THRESHOLD}")
    print(f"closed faces {len(oc)} (eye_state held out); not judged (too dark): {_unjudged(oc)}")
    print(
        f"  closed recall: per eye {100 * np.mean(oc < th):.1f} %, faces (closed=True) {100 * np.mean(cc):.1f} %"
        f" (EAR: {100 * np.mean((ec < DEFAULT_EAR_THRESHOLD).all(1)):.1f} %)"
    )
    print(f"  EAR median {np.nanmedian(ec):.3f}; {_contrast(kc)}")
    for name, label in (("open_eval", "eye_state held out (UTKFace)"), ("lm_eval", "landmarks68 validation identities")):
        oo, eo, co, ko = res[name]
        print(f"open faces {len(oo)} ({label}); not judged: {_unjudged(oo)}")
        judged_auc = auc(oc[np.isfinite(oc)], oo[np.isfinite(oo)])
        print(f"  AUC per eye, closed vs open: openness {judged_auc:.4f} (judged eyes), EAR {auc(ec.ravel(), eo.ravel()):.4f}")
        per_eye, per_face = 100 * np.mean(oo < th), 100 * np.mean(co)
        print(
            f"  false closed: per eye {per_eye:.2f} %, faces (closed=True) {per_face:.2f} %"
            f" (EAR: {100 * np.mean((eo < DEFAULT_EAR_THRESHOLD).all(1)):.1f} %)"
        )
        print(f"  EAR median {np.nanmedian(eo):.3f}; {_contrast(ko)}")
    if not args.no_speed:
        _print_costs(files, points, args.rounds, args.pipeline_rounds)
    return 0


def _print_costs(files: dict[str, list[Path]], points: dict[str, np.ndarray], rounds: int, pipeline_rounds: int) -> None:
    print(f"added cost per face at batch 1 (paired median): {_cost(files['open_eval'], points['open_eval'], rounds):.3f} ms")
    for key, ms in _pipeline_cost(pipeline_rounds).items():
        print(f"added cost per face through the default Pipeline, {key} (paired median): {ms:.3f} ms")


if __name__ == "__main__":
    raise SystemExit(main())
