"""Train the mouth-cue network (:mod:`faceanalytics.runners.mouth_net`) on ../shared/data/expressions.

    python -m faceanalytics.train.mouth --data ../shared/data/expressions --out faceanalytics/weights/mouth_cues.onnx

1. Faces: the calibration half of each FER-2013 class (:func:`faceanalytics.train.expressions.split`);
   the held-out half is only measured (the AUCs printed at the end).
2. Inputs as the plugin will see them: landmarks and head pose from the shipped pipeline
   (``--landmark-model``), then the mouth crop (:func:`faceanalytics.runners.mouth_net.mouth_crop`)
   and the pose-corrected mouth shape (:func:`faceanalytics.geometry.mouth.mouth_shape`).
3. Network (:class:`MouthCueNet`): five 3x3 conv-BN-ReLU layers over the crop (``--width``
   channels, doubling twice), global average pooling; one hidden layer over the shape; one linear
   layer over both gives two logits: **smile** (happy vs all four other classes, so that an open,
   unsmiling mouth is not a smile; ``--neutral-weight`` weights the neutral faces in that loss) and
   **open** (surprise vs neutral; the other classes are left out of that loss).
4. Augmentation: horizontal mirror (crop and shape together), rotation up to 8.6 degrees, scale
   +-10 %, shift +-4 %, contrast and brightness, blur or sharpen (webcam faces are sharper than
   upscaled 48-pixel ones); Gaussian noise on the standardised shape.
5. AdamW (weight decay 5e-4), one-cycle learning rate up to 3e-3, ``--epochs`` 60, batch 128,
   ``--seed`` 0. About three minutes on two CPU cores; ``--width`` 8 channels, a 32x24 crop
   (``--crop``) 1.7 eye distances wide (``--span``).
6. Export: ONNX opset 17 with the contrast normalisation and the shape standardisation inside,
   the crop geometry in the metadata; checked against torch.

``--folds K`` instead trains K networks on the calibration half, each without one fold of it
(stratified by class, seeded), and prints the out-of-fold AUCs (mirror-averaged, as the plugin
scores): a setting such as ``--neutral-weight`` is chosen by these, never by the held-out half.
Nothing is written.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from faceanalytics.geometry.mouth import MOUTH_SHAPE_POINTS, face_mouth_shape
from faceanalytics.runners.mouth_net import CROP_INPUT, OUTPUT, SHAPE_INPUT, mouth_crop, shape_mirror
from faceanalytics.train.crop_augment import blur_or_sharpen, random_affine, random_contrast, random_flip
from faceanalytics.train.evaluate import auc
from faceanalytics.train.expressions import CLASSES, load, split

log = logging.getLogger("faceanalytics")

SMILE_CLASS, OPEN_CLASS, NEUTRAL_CLASS = CLASSES.index("happy"), CLASSES.index("surprise"), CLASSES.index("neutral")


def collect(
    files: dict[str, list[Path]], landmark_model: str | None, crop: tuple[int, int, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mouth crops ``(N, H, W)`` uint8 (``crop``: width, height, span), shapes ``(N, 44)`` float32
    and class indices ``(N,)``."""
    from faceanalytics.pipeline import Pipeline
    from faceanalytics.plugins import HeadPosePlugin

    pipe = Pipeline(landmark_model, device="cpu", plugins=[HeadPosePlugin()])
    crops, shapes, labels = [], [], []
    for label, cls in enumerate(CLASSES):
        for f in files[cls]:
            image, box = load(f)
            res = pipe(image)
            face = res.faces[0] if res.faces else pipe(image, boxes=np.asarray(box, np.float32)[None]).faces[0]
            shape = face_mouth_shape(face)
            if not np.isfinite(shape).all():
                continue
            crops.append(mouth_crop(image, face.landmarks, *crop))
            shapes.append(shape)
            labels.append(label)
    return np.array(crops), np.array(shapes, np.float32), np.array(labels)


def _block(i: int, o: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU())


class MouthCueNet(nn.Module):
    """Crop ``(N, 1, H, W)`` contrast-normalised, shape ``(N, 44)`` standardised -> ``(N, 2)`` logits."""

    def __init__(self, width: int) -> None:
        super().__init__()
        w = width
        self.crop = nn.Sequential(
            _block(1, w), _block(w, w), nn.MaxPool2d(2),
            _block(w, 2 * w), _block(2 * w, 2 * w), nn.MaxPool2d(2),
            _block(2 * w, 4 * w), nn.MaxPool2d(2), _block(4 * w, 4 * w),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3),
        )  # fmt: skip
        self.shape = nn.Sequential(nn.Linear(2 * len(MOUTH_SHAPE_POINTS), 32), nn.ReLU(), nn.Dropout(0.3))
        self.head = nn.Linear(4 * w + 32, 2)

    def forward(self, crop: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.crop(crop), self.shape(shape)], 1))


def normalise_crop(x: torch.Tensor) -> torch.Tensor:
    """Per-crop contrast normalisation of 0-255 gray levels (the same inside the exported graph)."""
    x = x / 255.0
    m = x.mean(dim=(2, 3), keepdim=True)
    s = ((x - m) ** 2).mean(dim=(2, 3), keepdim=True).sqrt()
    return (x - m) / (s + 0.05)


def _augment(
    x: torch.Tensor, s: torch.Tensor, mirror: tuple[np.ndarray, np.ndarray], gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    x, flip = random_flip(x, gen)
    index, sign = torch.as_tensor(mirror[0]), torch.as_tensor(mirror[1], dtype=s.dtype)
    s = torch.where(flip[:, None], s[:, index] * sign, s)
    x = random_affine(x, gen, scale=0.2, angle=0.3, shift=0.16)
    x = blur_or_sharpen(x, gen, span=1.8, low=0.8)
    x = random_contrast(x, gen, gain=0.7, gain_span=0.6, offset=50)
    return x.clamp(0, 255), s + 0.1 * torch.randn(s.shape, generator=gen)


def train(
    crops: np.ndarray, shapes: np.ndarray, labels: np.ndarray, width: int, epochs: int, seed: int, neutral_weight: float = 1.0
) -> tuple[MouthCueNet, tuple[np.ndarray, np.ndarray]]:
    """The trained network (eval mode) and the shape standardisation ``(mean, std)``;
    ``neutral_weight`` weights the neutral faces in the smile loss."""
    fn = torch.nn.functional
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    mu, sd = shapes.mean(axis=0), shapes.std(axis=0) + 1e-6
    x = torch.tensor(crops, dtype=torch.float32)[:, None]
    s = torch.tensor((shapes - mu) / sd, dtype=torch.float32)
    y = torch.tensor(labels)
    smile_t = (y == SMILE_CLASS).float()
    open_t = (y == OPEN_CLASS).float()
    open_m = ((y == OPEN_CLASS) | (y == NEUTRAL_CLASS)).float()
    smile_w = torch.where(y == NEUTRAL_CLASS, float(neutral_weight), 1.0)
    net = MouthCueNet(width)
    batch = 128
    steps = epochs * math.ceil(len(x) / batch)
    opt = torch.optim.AdamW(net.parameters(), 2e-3, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=steps)
    mirror = shape_mirror()
    t0 = time.time()
    for epoch in range(epochs):
        net.train()
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), batch):
            b = perm[i : i + batch]
            xb, sb = _augment(x[b], s[b], mirror, gen)
            out = net(normalise_crop(xb), sb)
            if neutral_weight == 1:  # the plain mean, as the shipped file was trained (it rebuilds bit for bit)
                loss_smile = fn.binary_cross_entropy_with_logits(out[:, 0], smile_t[b])
            else:
                w = smile_w[b]
                loss_smile = (fn.binary_cross_entropy_with_logits(out[:, 0], smile_t[b], reduction="none") * w).sum() / w.sum()
            m = open_m[b]
            loss_open = fn.binary_cross_entropy_with_logits(out[:, 1], open_t[b], reduction="none")
            loss_open = (loss_open * m).sum() / m.sum().clamp(min=1)
            loss = loss_smile + loss_open
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(b)
        log.info("epoch %d/%d loss %.4f (%.0f s)", epoch + 1, epochs, total / len(x), time.time() - t0)
    return net.eval(), (mu.astype(np.float32), sd.astype(np.float32))


def export(
    net, standardise: tuple[np.ndarray, np.ndarray], crop_geometry: tuple[int, int, float], path: Path, info: dict[str, str]
) -> Path:
    """Write the ONNX file (normalisation inside, geometry in the metadata) and check it against torch."""
    import onnx
    import onnxruntime as ort

    mu, sd = (torch.tensor(v) for v in standardise)

    class Exported(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net
            self.register_buffer("mu", mu)
            self.register_buffer("sd", sd)

        def forward(self, crop, shape):
            return self.net(normalise_crop(crop), (shape - self.mu) / self.sd)

    model = Exported().eval()
    width, height, span = crop_geometry
    crop = torch.rand(3, 1, height, width) * 255
    shape = torch.randn(3, 2 * len(MOUTH_SHAPE_POINTS)) * 0.2 + mu
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        model, (crop, shape), str(path), input_names=[CROP_INPUT, SHAPE_INPUT], output_names=[OUTPUT],
        dynamic_axes={CROP_INPUT: {0: "N"}, SHAPE_INPUT: {0: "N"}, OUTPUT: {0: "N"}}, opset_version=17, dynamo=False,
    )  # fmt: skip
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    meta = {"crop_width": str(width), "crop_height": str(height), "crop_span": str(span), **info}
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    proto.producer_name = "faceanalytics.train.mouth"
    onnx.save(proto, str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run([OUTPUT], {CROP_INPUT: crop.numpy(), SHAPE_INPUT: shape.numpy()})[0]
    with torch.no_grad():
        want = model(crop, shape).numpy()
    if not np.allclose(got, want, atol=1e-4):
        raise RuntimeError(f"exported model differs from torch by {np.abs(got - want).max()}")
    return path


def _aucs(smile: np.ndarray, opening: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    happy = smile[labels == SMILE_CLASS]
    res = {f"smile happy vs {cls}": auc(smile[labels == k], happy) for k, cls in enumerate(CLASSES) if k != SMILE_CLASS}
    res["open surprise vs neutral"] = auc(opening[labels == NEUTRAL_CLASS], opening[labels == OPEN_CLASS])
    return res


def out_of_fold_aucs(
    crops: np.ndarray,
    shapes: np.ndarray,
    labels: np.ndarray,
    folds: int,
    *,
    width: int,
    epochs: int,
    seed: int,
    neutral_weight: float,
) -> dict[str, float]:
    """:func:`_aucs` of out-of-fold scores: ``folds`` networks, each trained without one fold
    (every class split evenly, seeded by ``seed``) and scoring it, mirror-averaged."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), int)
    for k in np.unique(labels):
        idx = np.flatnonzero(labels == k)
        rng.shuffle(idx)
        fold[idx] = np.arange(len(idx)) % folds
    index, sign = shape_mirror()
    scores = np.zeros((len(labels), 2))
    for f in range(folds):
        train_part, test = fold != f, fold == f
        net, (mu, sd) = train(
            crops[train_part],
            shapes[train_part],
            labels[train_part],
            width=width,
            epochs=epochs,
            seed=seed,
            neutral_weight=neutral_weight,
        )
        with torch.no_grad():
            x = torch.tensor(crops[test], dtype=torch.float32)[:, None]
            s = torch.tensor((shapes[test] - mu) / sd, dtype=torch.float32)
            s_mirrored = torch.tensor((shapes[test][:, index] * sign - mu) / sd, dtype=torch.float32)
            both = net(normalise_crop(x), s) + net(normalise_crop(torch.flip(x, [3])), s_mirrored)
        scores[test] = both.numpy() / 2
        log.info("fold %d/%d done", f + 1, folds)
    return _aucs(scores[:, 0], scores[:, 1], labels)


def held_out_aucs(path: Path, crops: np.ndarray, shapes: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Smile AUC happy vs each other class and open AUC surprise vs neutral, from the ONNX file,
    each face and its mirror image averaged as :class:`faceanalytics.runners.mouth_net.MouthNet` does."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    index, sign = shape_mirror()
    x = crops[:, None].astype(np.float32)
    out = sess.run([OUTPUT], {CROP_INPUT: x, SHAPE_INPUT: shapes})[0]
    mirrored = sess.run([OUTPUT], {CROP_INPUT: np.ascontiguousarray(x[..., ::-1]), SHAPE_INPUT: shapes[:, index] * sign})[0]
    smile, opening = ((out + mirrored) / 2).T
    return _aucs(smile, opening, labels)


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(here.parent / "shared" / "data" / "expressions"))
    ap.add_argument("--out", default=str(here / "faceanalytics" / "weights" / "mouth_cues.onnx"))
    ap.add_argument("--landmark-model", default=None, help="landmark model whose points train the net (default: the shipped one)")
    ap.add_argument("--width", type=int, default=8, help="channels of the first conv layers")
    ap.add_argument("--crop", default="32x24", help="crop size WxH in pixels")
    ap.add_argument("--span", type=float, default=1.7, help="crop width in outer eye-corner distances")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--neutral-weight", type=float, default=1.0, help="weight of the neutral faces in the smile loss")
    ap.add_argument(
        "--folds", type=int, default=0, help="print out-of-fold AUCs of the calibration half with K folds; write nothing"
    )
    args = ap.parse_args(argv)
    if args.folds == 1 or args.folds < 0 or args.neutral_weight <= 0:
        ap.error("--folds must be 0 or at least 2, and --neutral-weight positive")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cw, ch = (int(v) for v in args.crop.lower().split("x"))
    geometry = (cw, ch, args.span)
    parts = split(Path(args.data))
    cal = collect(parts["calibration"], args.landmark_model, geometry)
    if args.folds:
        found = out_of_fold_aucs(
            *cal, args.folds, width=args.width, epochs=args.epochs, seed=args.seed, neutral_weight=args.neutral_weight
        )
        for name, value in found.items():
            print(f"out-of-fold AUC ({args.folds} folds of the calibration half), {name}: {value:.4f}")  # noqa: T201
        return 0
    held = collect(parts["held_out"], args.landmark_model, geometry)
    log.info("calibration faces %d, held-out faces %d", len(cal[2]), len(held[2]))
    net, standardise = train(*cal, width=args.width, epochs=args.epochs, seed=args.seed, neutral_weight=args.neutral_weight)
    info = {
        "training": f"python -m faceanalytics.train.mouth --width {args.width} --crop {cw}x{ch} --span {args.span} "
        f"--epochs {args.epochs} --seed {args.seed}"
        + (f" --neutral-weight {args.neutral_weight:g}" if args.neutral_weight != 1 else ""),
        "data": "calibration half of ../shared/data/expressions (FER-2013): "
        + ", ".join(f"{c} {int((cal[2] == k).sum())}" for k, c in enumerate(CLASSES)),
    }
    path = export(net, standardise, geometry, Path(args.out), info)
    for name, value in held_out_aucs(path, *held).items():
        print(f"held-out AUC, {name}: {value:.3f}")  # noqa: T201
    print(f"wrote {path} ({path.stat().st_size} bytes)")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
