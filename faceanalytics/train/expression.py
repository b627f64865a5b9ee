"""Train the expression model ``expression-fer5`` (:class:`faceanalytics.plugins.ExpressionPlugin`).

    python -m faceanalytics.train.expression --data ../shared/data/expressions --out faceanalytics/weights/expression_fer5.onnx

1. Faces: FER-2013's neutral, happy, surprise, sad and angry faces in ../shared (2,000 each),
   split by :func:`faceanalytics.train.expressions.split`: the **calibration** half trains, a
   seeded 15 % of it (``--val``) is the validation part that chooses the epoch kept; the
   **held_out** half is only measured (the AUCs printed at the end).
2. Inputs as the plugin sees them: landmarks of the shipped pipeline (``--landmark-model``) on
   each face (:func:`faceanalytics.train.expressions.load`: upscaled 4x and padded; the face's own
   square when the detector finds nothing), normalised by
   :func:`faceanalytics.geometry.expression_input.expression_input` (136 values in the points'
   square box). Cached in ``/tmp`` (``--cache``): the landmarking is most of the time.
3. Network: an MLP 136 -> ``--hidden`` -> ``--hidden``/2 -> 5 (ReLU, dropout 0.1), the input
   standardised inside the graph (mean and standard deviation of the mirrored-and-not training
   inputs); softmax output.
4. Augmentation: horizontal mirror (:func:`~faceanalytics.geometry.expression_input.mirror_expression_input`:
   the schema's flip permutation, x -> 1 - x) for half of each batch; Gaussian jitter of 0.4 % of
   the box on every value; class weights balance the classes.
5. AdamW (weight decay 1e-3), one-cycle learning rate up to 3e-3, ``--epochs`` 80, batch 128,
   ``--seed`` 0; the epoch with the best validation log-loss is kept. Well under a minute on two
   CPU cores once the landmarks are cached.
6. Export: ONNX opset 17 with NVIDIA EmotionNet's tensor names and shapes (input
   ``input_landmarks:0`` ``(N, 1, 136, 1)``, output ``softmax/Softmax:0`` ``(N, 5)``), metadata
   ``classes`` = ``neutral,happy,surprise,sad,angry`` and the training recipe; checked against torch.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import math
import time
from pathlib import Path

import numpy as np

from faceanalytics.core.schema import IBUG_SLICE
from faceanalytics.geometry.expression_input import INPUT_SIZE, expression_input, mirror_expression_input
from faceanalytics.train.data import landmark_model_digest
from faceanalytics.train.evaluate import auc
from faceanalytics.train.expressions import load, split

log = logging.getLogger("faceanalytics")

#: Our model's classes, in its output order.
FER5_CLASSES = ("neutral", "happy", "surprise", "sad", "angry")
INPUT_NAME, OUTPUT_NAME = "input_landmarks:0", "softmax/Softmax:0"


def collect(files: dict[str, list[Path]], landmark_model: str | None, cache: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """Raw landmarks ``(N, 68, 2)`` float32 in image pixels and class indices into
    :data:`FER5_CLASSES` ``(N,)``, cached in ``cache`` (a folder) by the file list and the model file's sha256."""
    items = [(k, f) for k, cls in enumerate(FER5_CLASSES) for f in files[cls]]
    model = landmark_model_digest(landmark_model)
    key = hashlib.sha256(f"{model}|".encode() + "|".join(str(f) for _, f in items).encode()).hexdigest()[:16]
    target = cache / f"faceanalytics_expression_landmarks_{key}.npz" if cache is not None else None
    if target is not None and target.is_file():
        data = np.load(target)
        return data["landmarks"], data["labels"]
    from faceanalytics.pipeline import Pipeline

    pipe = Pipeline(landmark_model, device="cpu", plugins=[])
    points, labels = [], []
    t0 = time.perf_counter()
    for i, (k, f) in enumerate(items):
        image, box = load(f)
        res = pipe(image)
        face = res.faces[0] if res.faces else pipe(image, boxes=np.asarray(box, np.float32)[None]).faces[0]
        points.append(np.asarray(face.landmarks[IBUG_SLICE], np.float32))
        labels.append(k)
        if (i + 1) % 1000 == 0:
            log.info("landmarks: %d/%d faces (%.0f s)", i + 1, len(items), time.perf_counter() - t0)
    out = np.stack(points), np.array(labels, np.int64)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        np.savez(target, landmarks=out[0], labels=out[1])
    return out


def inputs(landmarks: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised ``(M, 136)`` inputs and their labels, faces whose input is not finite dropped."""
    x = expression_input(landmarks)
    keep = np.isfinite(x).all(axis=1)
    return x[keep], labels[keep]


def build(hidden: int, mean: np.ndarray, std: np.ndarray):
    """The MLP with the input standardisation and the softmax inside."""
    import torch
    from torch import nn

    class ExpressionMLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
            self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
            self.body = nn.Sequential(
                nn.Linear(INPUT_SIZE, hidden), nn.ReLU(), nn.Dropout(0.1),
                nn.Linear(hidden, hidden // 2), nn.ReLU(), nn.Dropout(0.1),
                nn.Linear(hidden // 2, len(FER5_CLASSES)),
            )  # fmt: skip

        def logits(self, x: torch.Tensor) -> torch.Tensor:
            mean, std = self.get_buffer("mean"), self.get_buffer("std")
            return self.body((x.reshape(x.shape[0], INPUT_SIZE) - mean) / std)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.logits(x), dim=1)

    return ExpressionMLP()


def train(
    x: np.ndarray, y: np.ndarray, xv: np.ndarray, yv: np.ndarray, *, hidden: int, epochs: int, seed: int
):
    """The network after the epoch of lowest validation log-loss, and that loss and epoch."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    torch.set_num_threads(1)  # a tiny MLP: more threads only contend
    rng = np.random.default_rng(seed)
    both = np.concatenate([x, mirror_expression_input(x)])
    mean, std = both.mean(axis=0), both.std(axis=0) + 1e-4
    net = build(hidden, mean, std)
    counts = np.bincount(y, minlength=len(FER5_CLASSES)).astype(np.float64)
    weights = torch.as_tensor(counts.sum() / (len(counts) * counts), dtype=torch.float32)
    loss_fn = nn.CrossEntropyLoss(weight=weights)
    batch = 128
    steps = math.ceil(len(x) / batch)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * steps)
    tv, tyv = torch.as_tensor(xv), torch.as_tensor(yv)
    best: tuple[float, int, dict] = (math.inf, -1, {})
    for epoch in range(epochs):
        net.train()
        order = rng.permutation(len(x))
        for s in range(steps):
            idx = order[s * batch : (s + 1) * batch]
            xb = x[idx].copy()
            flip = rng.random(len(idx)) < 0.5
            xb[flip] = mirror_expression_input(xb[flip])
            xb += rng.normal(0.0, 0.004, xb.shape).astype(np.float32)
            loss = loss_fn(net.logits(torch.as_tensor(xb)), torch.as_tensor(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        with torch.no_grad():
            val = float(nn.functional.cross_entropy(net.logits(tv), tyv))
        if val < best[0]:
            best = (val, epoch, {k: v.clone() for k, v in net.state_dict().items()})
    net.load_state_dict(best[2])
    net.eval()
    log.info("kept epoch %d of %d: validation log-loss %.4f", best[1] + 1, epochs, best[0])
    return net, best[0], best[1]


def export(net, path: Path, info: dict[str, str]) -> Path:
    """The network as ONNX with EmotionNet's tensor names, the class names and ``info`` as
    metadata; the file's output checked against torch."""
    import onnx
    import onnxruntime as ort
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    example = torch.zeros(2, 1, INPUT_SIZE, 1)
    torch.onnx.export(
        net, (example,), str(tmp), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], opset_version=17,
        dynamic_axes={INPUT_NAME: {0: "N"}, OUTPUT_NAME: {0: "N"}}, dynamo=False,
    )  # fmt: skip
    model = onnx.load(str(tmp))
    tmp.unlink()
    model.producer_name = "faceanalytics.train.expression"
    model.doc_string = "faceanalytics expression-fer5: 5 FER-2013 expressions from 68 normalised landmarks"
    del model.metadata_props[:]
    for k, v in {"classes": ",".join(FER5_CLASSES), **info}.items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    probe = torch.rand(4, 1, INPUT_SIZE, 1)
    with torch.no_grad():
        ref = net(probe).numpy()
    got = sess.run([OUTPUT_NAME], {INPUT_NAME: probe.numpy()})[0]
    if not np.allclose(ref, got, atol=1e-5):
        raise RuntimeError(f"ONNX export differs from torch by {np.abs(ref - got).max()}")
    return path


def report(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Per-class one-vs-rest AUCs (``"auc <class>"``), their mean and the accuracy."""
    out = {f"auc {c}": auc(probs[labels != k, k], probs[labels == k, k]) for k, c in enumerate(FER5_CLASSES)}
    out["mean auc"] = float(np.mean(list(out.values())))
    out["accuracy"] = float((probs.argmax(axis=1) == labels).mean())
    return out


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(here.parent / "shared" / "data" / "expressions"))
    ap.add_argument("--out", default=str(here / "faceanalytics" / "weights" / "expression_fer5.onnx"))
    ap.add_argument("--landmark-model", default=None, help="landmark model whose points train the net (default: the shipped one)")
    ap.add_argument("--cache", default="/tmp", help="folder for the landmark cache ('' for none)")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=80)
    ap.add_argument("--val", type=float, default=0.15, help="share of the calibration half kept for validation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--collect-only", action="store_true", help="only landmark the faces (fill the cache)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import onnxruntime as ort

    cache = Path(args.cache) if args.cache else None
    parts = split(Path(args.data))
    cal = inputs(*collect(parts["calibration"], args.landmark_model, cache))
    held = inputs(*collect(parts["held_out"], args.landmark_model, cache))
    if args.collect_only:
        return 0
    perm = np.random.default_rng(args.seed).permutation(len(cal[1]))
    n_val = round(args.val * len(perm))
    val_idx, tr_idx = perm[:n_val], perm[n_val:]
    log.info("training faces %d, validation %d, held-out %d", len(tr_idx), n_val, len(held[1]))
    net, val_loss, epoch = train(cal[0][tr_idx], cal[1][tr_idx], cal[0][val_idx], cal[1][val_idx],
                                 hidden=args.hidden, epochs=args.epochs, seed=args.seed)  # fmt: skip
    info = {
        "training": f"python -m faceanalytics.train.expression --hidden {args.hidden} --epochs {args.epochs} "
        f"--val {args.val} --seed {args.seed}",
        "data": "calibration half of ../shared/data/expressions (FER-2013, research use): "
        + ", ".join(f"{c} {int((cal[1] == k).sum())}" for k, c in enumerate(FER5_CLASSES))
        + f"; {n_val} of them validation (kept epoch {epoch + 1}, log-loss {val_loss:.3f})",
        "input": "68 iBUG landmarks in their square bounding box, [0, 1] (faceanalytics.geometry.expression_input)",
    }
    path = export(net, Path(args.out), info)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    probs = sess.run([OUTPUT_NAME], {INPUT_NAME: held[0].reshape(-1, 1, INPUT_SIZE, 1)})[0]
    for name, value in report(probs, held[1]).items():
        print(f"held-out {name}: {value:.3f}")  # noqa: T201
    print(f"wrote {path} ({path.stat().st_size} bytes)")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
