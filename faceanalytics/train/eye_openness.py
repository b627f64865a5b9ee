"""Train the eye-openness network (:mod:`faceanalytics.runners.eye_net`) on ../shared/data.

    python -m faceanalytics.train.eye_openness --out faceanalytics/weights/eye_openness.onnx

1. Faces and labels. ``eye_state/closed`` (CEW): both eyes closed; ``eye_state/open`` (UTKFace):
   both open; ``landmarks68`` frames of the **training identities** (:func:`split_by_identity`,
   ``--val-fraction`` 0.15, ``--seed`` 0, as train/loop.py and train/evaluate.py): open, except
   frames whose mean EAR is below ``--min-ear`` (possibly mid-blink), which are left out.
   Threshold: ``--folds`` (5) seeded folds of the closed and of the open ``eye_state`` training
   faces; one network per fold, trained on the other folds, gives each training face an
   out-of-fold openness (a face is scored only by a network that never saw it), and the
   threshold is chosen on those. The shipped network is then trained on all the training faces.
   ``--folds 0``: the earlier recipe, a seeded ``--threshold-fraction`` (0.2) of each class held
   back from training to choose the threshold on (83 closed faces).
   Held out, only measured: the ``eye_state`` faces that :func:`split_eye_state` holds out for the
   EAR evaluation (same seed) and the landmarks68 validation identities.
2. Inputs as the plugin sees them: landmarks from the shipped pipeline (``eye_state`` crops padded
   with :func:`pad_face_crop` first; the whole crop is the box when no face is found), then each
   eye's crop, slices of one eye strip (:func:`faceanalytics.geometry.eye_crop.eye_crops`), the
   left eye mirrored.
3. Network (:class:`EyeOpennessCNN`): instance normalisation, three 3x3 conv-BN-ReLU layers
   with stride 2 (``--width`` channels, doubling; ``--first-stride 1``: the earlier four layers, the
   first at full resolution), global average pooling, one logit (eye open). Class-balanced binary
   cross-entropy.
4. Augmentation: mirror, rotation up to 10 degrees, scale +-15 %, shift, contrast and brightness,
   blur or sharpen, gamma.
5. AdamW, one-cycle learning rate up to 3e-3, ``--epochs``, batch 256, ``--seed`` 0.
6. Export: ONNX opset 17, contrast normalisation (InstanceNormalization) inside, crop geometry in the metadata; checked
   against torch.
7. Threshold (:func:`choose_threshold`), chosen on the out-of-fold openness of the training faces
   only, per face (a face is closed when the two eyes' combined openness, as ``Eyes.closed``
   uses it, is below the threshold): of the
   thresholds (steps of 0.01) with closed recall >= 95 % and open faces called closed <= 2 %, the
   middle of that range (the largest margin to both limits). Written to the ONNX metadata
   (``openness_threshold``) and printed; it is
   :data:`faceanalytics.plugins.eyes.DEFAULT_OPENNESS_THRESHOLD`. The held-out faces are used only
   for the report.

Landmarks are cached (``--cache``, default /tmp/eye_openness_landmarks.npz) so that further runs
skip the pipeline.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from faceanalytics.core.image import load_image
from faceanalytics.core.schema import IBUG_SLICE, SCHEMA_68
from faceanalytics.geometry.eye_crop import eye_crops
from faceanalytics.plugins.eyes import combined_openness
from faceanalytics.runners.eye_net import INPUT, OUTPUT
from faceanalytics.train.crop_augment import blur_or_sharpen, random_affine, random_conditions, random_contrast, random_flip
from faceanalytics.train.data import landmark_model_digest, read_csv, split_by_identity
from faceanalytics.train.evaluate import auc
from faceanalytics.train.eyes import eye_aspect_ratio, pad_face_crop, split_eye_state

log = logging.getLogger("faceanalytics")

SETS = ("closed_train", "open_train", "lm_train", "closed_eval", "open_eval", "lm_eval")


def _files(eye_state: Path, landmarks68: Path, seed: int, val_fraction: float, open_extra: int) -> dict[str, list[Path]]:
    split = split_eye_state(eye_state, seed=seed, open_extra=open_extra)
    train_s, val_s = split_by_identity(read_csv(landmarks68 / "annotations.csv"), val_fraction, seed)
    return {
        "closed_train": split.closed_train, "open_train": split.open_train + split.open_extra,
        "lm_train": [s.path for s in train_s], "closed_eval": split.closed_eval, "open_eval": split.open_eval,
        "lm_eval": [s.path for s in val_s],
    }  # fmt: skip


def _read(path: Path, padded: bool) -> tuple[np.ndarray, np.ndarray]:
    """The image (eye_state: padded) and the box of the original crop in it."""
    raw = load_image(path)
    image = pad_face_crop(raw) if padded else raw
    p = (image.shape[0] - raw.shape[0]) // 2
    return image, np.array([[p, p, p + raw.shape[1], p + raw.shape[0]]], np.float32)


def landmarks(files: dict[str, list[Path]], landmark_model: str | None, cache: Path | None) -> dict[str, np.ndarray]:
    """(N, 68, 2) pipeline landmarks of each set's images (eye_state padded), cached by the file
    list and the landmark model file's sha256."""
    key = repr((landmark_model_digest(landmark_model), {k: [str(p) for p in v] for k, v in files.items()}))
    if cache is not None and cache.exists():
        data = np.load(cache, allow_pickle=False)
        if str(data["key"]) == key:
            return {k: data[k] for k in SETS}
    from faceanalytics.pipeline import Pipeline

    pipe = Pipeline(landmark_model, device="cpu", threads=1, plugins=[])
    out: dict[str, np.ndarray] = {}
    t0 = time.time()
    for name in SETS:
        padded = not name.startswith("lm_")
        points = []
        for f in files[name]:
            image, box = _read(f, padded)
            res = pipe(image)
            if res.faces:
                face = max(res.faces, key=lambda fc: float((fc.box[2] - fc.box[0]) * (fc.box[3] - fc.box[1])))
            else:
                face = pipe(image, boxes=box).faces[0]
            points.append(np.asarray(face.landmarks[IBUG_SLICE], np.float32))
        out[name] = np.array(points, np.float32).reshape(-1, SCHEMA_68.num_points, 2)
        log.info("%s: %d faces (%.0f s)", name, len(points), time.time() - t0)
    if cache is not None:
        payload: dict[str, Any] = {"key": np.array(key), **out}
        np.savez(cache, **payload)
    return out


def carve_validation(
    files: dict[str, list[Path]], points: dict[str, np.ndarray], fraction: float, seed: int
) -> tuple[dict[str, list[Path]], dict[str, np.ndarray]]:
    """Move a seeded ``fraction`` of ``closed_train`` and of ``open_train`` faces to ``closed_val``
    and ``open_val`` (training faces only; the held-out sets are untouched)."""
    rng = np.random.default_rng(seed)
    files, points = dict(files), dict(points)
    for label in ("closed", "open"):
        name = f"{label}_train"
        n = round(fraction * len(files[name]))
        order = rng.permutation(len(files[name]))
        val, keep = np.sort(order[:n]), np.sort(order[n:])
        files[f"{label}_val"] = [files[name][i] for i in val]
        points[f"{label}_val"] = points[name][val]
        files[name] = [files[name][i] for i in keep]
        points[name] = points[name][keep]
    return files, points


def fold_of_faces(n: int, folds: int, seed: int) -> np.ndarray:
    """``(n,)`` fold index of each face: seeded, as equal in size as can be."""
    return np.random.default_rng(seed).permutation(n) % folds


def out_of_fold(
    data: dict[str, tuple[np.ndarray, np.ndarray]], folds: int, args: argparse.Namespace
) -> dict[str, np.ndarray]:
    """Per-face ``(N, 2)`` out-of-fold openness of ``closed_train`` and ``open_train``: each fold's
    faces scored by a network trained on the other folds (and all of ``lm_train``)."""
    ids = {k: fold_of_faces(len(data[k][1]) // 2, folds, args.seed + i) for i, k in enumerate(("closed_train", "open_train"))}
    oof = {k: np.zeros((len(v), 2), np.float32) for k, v in ids.items()}
    for f in range(folds):
        xs, ys = [data["lm_train"][0]], [data["lm_train"][1]]
        for k, fold in ids.items():
            keep = np.repeat(fold != f, 2)  # two crops per face
            xs.append(data[k][0][keep])
            ys.append(data[k][1][keep])
        log.info("fold %d/%d", f + 1, folds)
        x_fold, y_fold = np.concatenate(xs), np.concatenate(ys)
        net = train(x_fold, y_fold, args.width, args.epochs, args.seed, args.first_stride, (args.nod, args.streak, args.dark))
        with torch.no_grad():
            for k, fold in ids.items():
                x = torch.tensor(data[k][0][np.repeat(fold == f, 2)], dtype=torch.float32)[:, None]
                oof[k][fold == f] = torch.sigmoid(net(x)[:, 0]).numpy().reshape(-1, 2)
    return {"closed": oof["closed_train"], "open": oof["open_train"]}


#: limits of :func:`choose_threshold`, per face
MIN_CLOSED_RECALL, MAX_FALSE_CLOSED = 0.95, 0.02


def choose_threshold(closed: np.ndarray, open_: np.ndarray) -> float:
    """The threshold from per-face ``(N, 2)`` openness of closed and open faces: of the values
    0.01..0.99 with closed recall >= 95 % and open faces called closed <= 2 % (a face is closed when
    its :func:`~faceanalytics.plugins.eyes.combined_openness` is below it, as ``Eyes.closed``), the
    middle of the range; without any, the one with the smallest larger shortfall."""
    grid = np.round(np.arange(1, 100) / 100, 2)
    closed_face, open_face = combined_openness(closed[:, 0], closed[:, 1]), combined_openness(open_[:, 0], open_[:, 1])
    recall = np.array([np.mean(closed_face < t) for t in grid])
    false_closed = np.array([np.mean(open_face < t) for t in grid])
    ok = (recall >= MIN_CLOSED_RECALL) & (false_closed <= MAX_FALSE_CLOSED)
    if ok.any():
        idx = np.flatnonzero(ok)
        return float(np.round((grid[idx[0]] + grid[idx[-1]]) / 2, 2))
    shortfall = np.maximum(MIN_CLOSED_RECALL - recall, false_closed - MAX_FALSE_CLOSED)
    log.warning("no threshold meets both limits on the validation part")
    return float(grid[int(np.argmin(shortfall))])


def crops(
    files: dict[str, list[Path]],
    points: dict[str, np.ndarray],
    geometry: tuple[int, int, float],
    min_ear: float,
    names: tuple[str, ...] = SETS,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per set: eye crops ``(M, H, W)`` uint8 (left mirrored, right) and labels ``(M,)`` (1 open)."""
    out = {}
    for name in names:
        xs, ys = [], []
        padded, label = not name.startswith("lm_"), 0 if name.startswith("closed") else 1
        for f, p in zip(files[name], points[name], strict=True):
            if name.startswith("lm_") and not float(eye_aspect_ratio(p)) >= min_ear:
                continue
            c = eye_crops(_read(f, padded)[0], p, *geometry)
            if c is not None:
                xs.append(c)
                ys += [label, label]
        out[name] = (np.concatenate(xs), np.array(ys, np.float32))
        log.info("%s: %d eyes", name, len(ys))
    return out


def _block(i: int, o: int, stride: int = 1) -> nn.Module:
    return nn.Sequential(nn.Conv2d(i, o, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU())


class EyeOpennessCNN(nn.Module):
    """Crop ``(N, 1, H, W)`` gray 0-255 -> ``(N, 1)`` open logit.

    Few, cheap nodes (the cost at batch 1 is mostly onnxruntime's per-node overhead): instance
    normalisation of the crop (one node), three 3x3 convolutions with stride 2 (``width``, 2 x and
    4 x ``width`` channels), global average pooling, one linear output. ``first_stride=1`` is the
    earlier network (a fourth convolution at the crop's full resolution first): two thirds more
    time in onnxruntime (73 against 43 us for both eyes), as accurate (models/README.md)."""

    def __init__(self, width: int, first_stride: int = 2) -> None:
        super().__init__()
        w = width
        convs = [_block(1, w, first_stride), _block(w, 2 * w, 2), _block(2 * w, 4 * w, 2)]
        convs += [_block(4 * w, 4 * w, 2)] if first_stride == 1 else []
        self.body = nn.Sequential(*convs, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(4 * w, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(normalise_crop(x))


#: contrast floor of :func:`normalise_crop`, in gray levels squared (a standard deviation of about 13)
CONTRAST_EPS = 160.0


def normalise_crop(x: torch.Tensor) -> torch.Tensor:
    """Per-crop contrast normalisation of 0-255 gray levels: one InstanceNormalization node in ONNX."""
    return torch.nn.functional.instance_norm(x, eps=CONTRAST_EPS)


def _augment(x: torch.Tensor, gen: torch.Generator, conditions: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> torch.Tensor:
    """Training augmentation of (N, 1, H, W) 0-255 crops; ``conditions``: the shares of crops given
    a nod, a streak and dark (:func:`~faceanalytics.train.crop_augment.random_conditions`; all 0:
    not drawn at all)."""
    x, _ = random_flip(x, gen)
    x = random_affine(x, gen, scale=0.3, angle=0.35, shift=0.2)
    x = blur_or_sharpen(x, gen, span=1.6, low=1.0).clamp(0, 255)
    gamma = torch.exp(0.6 * (torch.rand(len(x), 1, 1, 1, generator=gen) - 0.5))
    x = 255 * (x / 255) ** gamma
    x = random_contrast(x, gen, gain=0.6, gain_span=0.8, offset=60)
    x = (x + 3 * torch.randn(x.shape, generator=gen)).clamp(0, 255)
    return random_conditions(x, gen, *conditions) if any(conditions) else x


def train(
    x_np: np.ndarray, y_np: np.ndarray, width: int, epochs: int, seed: int, first_stride: int = 2,
    conditions: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> EyeOpennessCNN:
    """The trained network (eval mode); ``conditions``: :func:`_augment`'s."""
    fn = torch.nn.functional
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x = torch.tensor(x_np, dtype=torch.float32)[:, None]
    y = torch.tensor(y_np)
    pos = float(y.mean())
    weight = torch.where(y > 0.5, 0.5 / pos, 0.5 / (1 - pos))  # each class half the loss
    net = EyeOpennessCNN(width, first_stride)
    batch = 256
    steps = epochs * math.ceil(len(x) / batch)
    opt = torch.optim.AdamW(net.parameters(), 2e-3, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=steps)
    t0 = time.time()
    for epoch in range(epochs):
        net.train()
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), batch):
            b = perm[i : i + batch]
            out = net(_augment(x[b], gen, conditions))[:, 0]
            loss = (fn.binary_cross_entropy_with_logits(out, y[b], reduction="none") * weight[b]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(b)
        log.info("epoch %d/%d loss %.4f (%.0f s)", epoch + 1, epochs, total / len(x), time.time() - t0)
    return net.eval()


def export(net: EyeOpennessCNN, geometry: tuple[int, int, float], path: Path, info: dict[str, str]) -> Path:
    """Write the ONNX file (normalisation inside, geometry in the metadata) and check it against torch."""
    import onnx
    import onnxruntime as ort

    model = net.eval()
    width, height, span = geometry
    crop = torch.rand(3, 1, height, width) * 255
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        model, (crop,), str(path), input_names=[INPUT], output_names=[OUTPUT],
        dynamic_axes={INPUT: {0: "N"}, OUTPUT: {0: "N"}}, opset_version=17, dynamo=False,
    )  # fmt: skip
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    meta = {"crop_width": str(width), "crop_height": str(height), "crop_span": str(span), **info}
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    proto.producer_name = "faceanalytics.train.eye_openness"
    onnx.save(proto, str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run([OUTPUT], {INPUT: crop.numpy()})[0]
    with torch.no_grad():
        want = model(crop).numpy()
    if not np.allclose(got, want, atol=1e-4):
        raise RuntimeError(f"exported model differs from torch by {np.abs(got - want).max()}")
    return path


def open_probabilities(path: Path, x: np.ndarray) -> np.ndarray:
    """Open probability of each crop ``(M, H, W)`` from the ONNX file."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = sess.run([OUTPUT], {INPUT: x[:, None].astype(np.float32)})[0][:, 0]
    return 1 / (1 + np.exp(-logits))


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parents[2]
    shared = here.parent / "shared" / "data"
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eye-state", default=str(shared / "eye_state"))
    ap.add_argument("--landmarks68", default=str(shared / "landmarks68"))
    ap.add_argument("--out", default=str(here / "faceanalytics" / "weights" / "eye_openness.onnx"))
    ap.add_argument("--landmark-model", default=None, help="landmark model placing the crops (default: the shipped one)")
    ap.add_argument("--cache", default="/tmp/eye_openness_landmarks.npz", help="landmark cache ('' for none)")
    ap.add_argument("--width", type=int, default=8, help="channels of the first conv layer")
    ap.add_argument("--first-stride", type=int, choices=(1, 2), default=2, help="2: three strided convs; 1: the earlier four")
    ap.add_argument("--crop", default="24x16", help="crop size WxH in pixels")
    ap.add_argument("--span", type=float, default=1.6, help="crop width in eye widths (corner to corner)")
    ap.add_argument("--open-extra", type=int, default=2400, help="open eye_state faces beyond split_eye_state's 600")
    ap.add_argument("--min-ear", type=float, default=0.16, help="landmarks68 training frames below this mean EAR are left out")
    ap.add_argument("--val-fraction", type=float, default=0.15)
    ap.add_argument(
        "--threshold-fraction", type=float, default=0.2,
        help="share of the closed and of the open eye_state training faces set aside to choose the threshold",
    )  # fmt: skip
    ap.add_argument(
        "--folds", type=int, default=5, help="folds whose out-of-fold openness sets the threshold (0: --threshold-fraction)"
    )
    ap.add_argument("--epochs", type=int, default=40)
    for name in ("nod", "streak", "dark"):
        ap.add_argument(
            f"--{name}", type=float, default=0.0, help=f"share of training crops given a {name} (crop_augment.random_conditions)"
        )
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cw, ch = (int(v) for v in args.crop.lower().split("x"))
    geometry = (cw, ch, args.span)
    files = _files(Path(args.eye_state), Path(args.landmarks68), args.seed, args.val_fraction, args.open_extra)
    points = landmarks(files, args.landmark_model, Path(args.cache) if args.cache else None)
    if args.folds == 1 or args.folds < 0:
        ap.error("--folds is 0 (a held-back part) or at least 2")
    names: tuple[str, ...] = SETS
    if not args.folds:
        files, points = carve_validation(files, points, args.threshold_fraction, args.seed)
        names = (*SETS, "closed_val", "open_val")
    data = crops(files, points, geometry, args.min_ear, names)
    train_sets = ("closed_train", "open_train", "lm_train")
    if args.folds:
        val = out_of_fold(data, args.folds, args)
        part, recipe = f"out-of-fold openness of the training faces ({args.folds} folds)", f"--folds {args.folds}"
    x = np.concatenate([data[k][0] for k in train_sets])
    y = np.concatenate([data[k][1] for k in train_sets])
    net = train(x, y, args.width, args.epochs, args.seed, args.first_stride, (args.nod, args.streak, args.dark))
    if not args.folds:
        with torch.no_grad():
            held_back = {k: torch.tensor(data[f"{k}_val"][0], dtype=torch.float32)[:, None] for k in ("closed", "open")}
            val = {k: torch.sigmoid(net(x)[:, 0]).numpy().reshape(-1, 2) for k, x in held_back.items()}
        part = "closed_val and open_val training faces held back from training"
        recipe = f"--folds 0 --threshold-fraction {args.threshold_fraction}"
    info = {
        "training": f"python -m faceanalytics.train.eye_openness --width {args.width} --first-stride {args.first_stride} "
        f"--crop {cw}x{ch} --span {args.span} "
        f"--open-extra {args.open_extra} --min-ear {args.min_ear} {recipe} "
        f"--epochs {args.epochs} "
        + "".join(f"--{k} {getattr(args, k)} " for k in ("nod", "streak", "dark") if getattr(args, k))
        + f"--seed {args.seed}",
        "data": f"eye_state (CEW closed, UTKFace open) minus split_eye_state(seed={args.seed})'s held-out faces; "
        f"landmarks68 training identities (split_by_identity {args.val_fraction}, seed {args.seed}): "
        + ", ".join(f"{k} {len(data[k][1])} eyes" for k in train_sets),
    }
    threshold = choose_threshold(val["closed"], val["open"])
    cv = combined_openness(val["closed"][:, 0], val["closed"][:, 1]) < threshold
    ov = combined_openness(val["open"][:, 0], val["open"][:, 1]) < threshold
    print(f"threshold part: {part}")  # noqa: T201
    print(f"threshold-part eye AUC closed vs open: {auc(val['closed'].ravel(), val['open'].ravel()):.4f}")  # noqa: T201
    print(  # noqa: T201
        f"openness threshold {threshold} ({len(cv)} closed, {len(ov)} open faces; "
        f"closed recall {100 * cv.mean():.1f} %, open called closed {100 * ov.mean():.2f} %)"
    )
    info["threshold"] = (
        f"openness_threshold chosen on {len(cv)} closed and {len(ov)} open faces, the {part}: middle of the range "
        f"with closed recall >= {MIN_CLOSED_RECALL:.0%} and open faces called closed <= {MAX_FALSE_CLOSED:.0%}"
    )
    info["openness_threshold"] = str(threshold)
    path = export(net, geometry, Path(args.out), info)
    pc = open_probabilities(path, data["closed_eval"][0])
    for name in ("open_eval", "lm_eval"):
        po = open_probabilities(path, data[name][0])
        print(f"held-out eye AUC closed_eval vs {name}: {auc(pc, po):.4f}")  # noqa: T201
    print(f"wrote {path} ({path.stat().st_size} bytes)")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
