"""How the landmark model's heatmaps are read, and what it does to the inner lips (issue 20).

    python benchmarks/landmark_decoding.py [--temperatures 1,1.5,2,3] [--fer-per-class N]

The shipped model reads each point as the mean of its softmax map (a soft-argmax). Its inner lips
regress to the mean: on the validation identities the MAR of its points against the annotated
MAR has a least-squares slope of about 0.57. A sharper softmax (the map's logits times a
temperature T > 1, on the eight inner-lip points only) moves each point towards its map's peak.
For each T this prints, on the identity-held-out split of ../shared/data/landmarks68 (BlazeFace
boxes, as ``faceanalytics.train.evaluate``): NME, inner-lip NME, failure rate and the MAR slope;
and on the held-out half of ../shared/data/expressions (FER-2013, upscaled and padded as
everywhere): the inner-lip MAR AUC surprise vs neutral. A second row per set reads the points
again from a crop around the first reading (``box_from_landmarks``, as a Stream crops the next
frame): the cost of a second network run, for what it buys.

The maps come from the shipped ONNX file with the softmax's input added as an output; the
decoding is redone in numpy (T = 1 reproduces the file's own points).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from faceanalytics import Pipeline
from faceanalytics.core.schema import SCHEMA_68
from faceanalytics.geometry.boxes import box_from_landmarks
from faceanalytics.geometry.crop import crop_faces, crop_to_image, square_crop_matrices
from faceanalytics.geometry.mouth import mouth_features
from faceanalytics.runners.fpenet import FPENetRunner
from faceanalytics.train.boxes import match_detection
from faceanalytics.train.data import load_image, read_csv, split_by_identity
from faceanalytics.train.evaluate import REGIONS, _nme, auc
from faceanalytics.train.expressions import load, split

SEED, VAL_FRACTION = 0, 0.15  # as in training and faceanalytics.train.evaluate
INNER = list(SCHEMA_68.inner_lips)


class Maps:
    """The shipped landmark model with its softmax logits as a third output."""

    def __init__(self) -> None:
        runner = FPENetRunner("fpenet68", device="cpu")
        self.crop_scale = runner.crop_scale
        model = onnx.load(str(runner.onnx_model))
        softmax = next(n for n in model.graph.node if n.op_type == "Softmax")
        matmul = next(n for n in model.graph.node if n.op_type == "MatMul" and n.input[0] == softmax.output[0])
        grid = next(n for n in model.graph.node if n.output[0] == matmul.input[1])
        self.grid = onnx.numpy_helper.to_array(grid.attribute[0].t).astype(np.float64)  # (H*W, 2): x, y
        model.graph.output.append(onnx.helper.make_tensor_value_info(softmax.input[0], onnx.TensorProto.FLOAT, None))
        self.session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        self.name = softmax.input[0]

    def logits(self, image: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(logits (K, H*W), crop matrix (2, 3))`` of one face box."""
        mats = square_crop_matrices(np.asarray(box, np.float32)[None], 80, self.crop_scale)
        out = self.session.run([self.name], {"input_face_images": crop_faces(image, mats, 80)})[0]
        return out[0], mats[0]

    def points(self, logits: np.ndarray, mat: np.ndarray, temperature: float) -> np.ndarray:
        """(K, 2) image points: soft-argmax, the inner lips' logits times ``temperature``."""
        z = logits.astype(np.float64).copy()
        z[INNER] *= temperature
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return crop_to_image((p @ self.grid)[None].astype(np.float32), mat[None])[0]

    def readings(self, image: np.ndarray, box: np.ndarray, temperatures: list[float]) -> Iterator[tuple[str, np.ndarray]]:
        """``(row name, (K, 2) points)`` of one face: each temperature, read from ``box`` and
        again from a crop around those first points."""
        z, m = self.logits(image, box)
        for t in temperatures:
            first = self.points(z, m, t)
            yield f"T {t:g}", first
            yield f"T {t:g}, second crop", self.points(*self.logits(image, box_from_landmarks(first)), t)


def _mar(points: np.ndarray) -> float:
    return float(mouth_features(points)[0])


def landmarks68(maps: Maps, shared: Path, temperatures: list[float]) -> None:
    from faceanalytics.runners.detector import BlazeFaceDetector

    det = BlazeFaceDetector("short")
    _, val = split_by_identity(read_csv(shared / "data" / "landmarks68" / "annotations.csv"), VAL_FRACTION, SEED)
    rows: dict[str, list[tuple[float, float, float, float]]] = {}
    for s in val:
        bgr = load_image(s.path)
        boxes = np.array([d.box for d in det.detect(bgr)], np.float32).reshape(-1, 4)
        i = match_detection(boxes, s.points)
        if i is None:
            continue
        for key, p in maps.readings(bgr, boxes[i], temperatures):
            row = (_nme(p, s.points), _nme(p, s.points, REGIONS["inner lips"]), _mar(s.points), _mar(p))
            rows.setdefault(key, []).append(row)
    print(f"landmarks68 held-out identities ({len(val)} faces): NME %, inner lips %, failures %, MAR slope")
    for key, r in rows.items():
        a = np.asarray(r)
        slope = np.polyfit(a[:, 2], a[:, 3], 1)[0]
        nme, inner, failures = 100 * a[:, 0].mean(), 100 * a[:, 1].mean(), 100 * (a[:, 0] > 0.1).mean()
        print(f"  {key:<20} {nme:6.2f} {inner:6.2f} {failures:6.2f} {slope:6.3f}")


def fer(maps: Maps, shared: Path, temperatures: list[float], per_class: int | None) -> None:
    pipe = Pipeline(device="cpu", plugins=[])
    held = split(shared / "data" / "expressions")["held_out"]
    mars: dict[str, dict[str, list[float]]] = {}
    for cls in ("neutral", "surprise"):
        for f in held[cls][:per_class]:
            image, fallback = load(f)
            res = pipe(image)
            box = np.asarray(res.faces[0].box, np.float32) if res.faces else fallback
            for key, p in maps.readings(image, box, temperatures):
                mars.setdefault(key, {}).setdefault(cls, []).append(_mar(p))
    print("FER held out: inner-lip MAR AUC surprise vs neutral")
    for key, v in mars.items():
        neutral, surprise = (np.nan_to_num(np.asarray(v[c])) for c in ("neutral", "surprise"))
        print(f"  {key:<20} {auc(neutral, surprise):.3f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"))
    ap.add_argument("--temperatures", default="1,1.5,2,3", help="comma-separated inner-lip temperatures")
    ap.add_argument("--fer-per-class", type=int, default=None, help="held-out FER faces per class (default: all, 1000)")
    args = ap.parse_args(argv)
    shared = Path(args.shared)
    os.environ.setdefault("FACEANALYTICS_HOME", str(shared / "models"))
    temperatures = [float(t) for t in args.temperatures.split(",")]
    maps = Maps()
    landmarks68(maps, shared, temperatures)
    fer(maps, shared, temperatures, args.fer_per_class)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
