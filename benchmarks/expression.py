"""The expression plugin on held-out FER-2013 faces, and its cost per face.

    FACEANALYTICS_HOME=../shared/models python benchmarks/expression.py [--model expression-fer5] [--limit N]

Faces: the held-out half of ../shared/data/expressions (``faceanalytics.train.expressions.split``,
seed 0; the training script never sees them), loaded as in training (upscaled 4x, padded; the
face's own square when the detector finds nothing). Each goes through ``Pipeline(plugins=[])``
and then :class:`faceanalytics.plugins.ExpressionPlugin` as a user's pipeline would call it (single
images: no smoothing). Prints per-class one-vs-rest AUCs of the class probabilities, their mean
and the accuracy (argmax), for the classes the model shares with FER's five.

Cost: the plugin's extra milliseconds per face at batch 1, paired on the same images, alternating
order: ``Pipeline(plugins=[ExpressionPlugin()])`` against ``Pipeline(plugins=[])`` (median of the
per-image differences), and the plugin call alone (median).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from faceanalytics import Pipeline
from faceanalytics.plugins import ExpressionPlugin
from faceanalytics.plugins.base import Frame
from faceanalytics.train.evaluate import auc
from faceanalytics.train.expressions import load, split

FER5 = ("neutral", "happy", "surprise", "sad", "angry")


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(here.parent / "shared" / "data" / "expressions"))
    ap.add_argument("--model", default="expression-fer5", help="registered name or path (e.g. an EmotionNet ONNX file)")
    ap.add_argument("--limit", type=int, default=0, help="held-out faces per class (0: all 1,000)")
    ap.add_argument("--cost-images", type=int, default=200, help="images for the paired pipeline timing")
    args = ap.parse_args(argv)

    plugin = ExpressionPlugin(args.model)
    plain = Pipeline(device="cpu", plugins=[])
    held = split(Path(args.data))["held_out"]
    shared = [c for c in FER5 if c in plugin.classes]
    probs, labels, call_ms, images = [], [], [], []
    for k, cls in enumerate(FER5):
        for f in held[cls][: args.limit or None]:
            image, box = load(f)
            res = plain(image)
            face = res.faces[0] if res.faces else plain(image, boxes=np.asarray(box, np.float32)[None]).faces[0]
            frame = Frame(image)
            t0 = time.perf_counter()
            r = plugin(face, frame)
            call_ms.append(1000 * (time.perf_counter() - t0))
            if not r.valid:
                continue
            probs.append([r.scores[c] for c in plugin.classes])
            labels.append(k)
            if res.faces and len(images) < args.cost_images:
                images.append(image)
    p, y = np.array(probs), np.array(labels)
    print(f"model {plugin.net.path.name}: classes {', '.join(plugin.classes)}; {len(y)} held-out faces")
    aucs = []
    for c in shared:
        k, j = FER5.index(c), plugin.classes.index(c)
        a = auc(p[y != k, j], p[y == k, j])
        aucs.append(a)
        print(f"held-out AUC {c} vs rest: {a:.3f}")
    print(f"held-out mean AUC: {np.mean(aucs):.3f}")
    if len(shared) == len(FER5) == len(plugin.classes):
        pred = np.array([FER5.index(plugin.classes[i]) for i in p.argmax(axis=1)])
        print(f"held-out accuracy: {(pred == y).mean():.3f} (chance 0.200)")

    with_plugin = Pipeline(device="cpu", plugins=[plugin])
    for pipe in (plain, with_plugin):
        pipe(images[0])  # warm-up
    diffs = []
    for i, image in enumerate(images):
        order = (plain, with_plugin) if i % 2 else (with_plugin, plain)
        t = {}
        for pipe in order:
            t0 = time.perf_counter()
            pipe(image)
            t[id(pipe)] = time.perf_counter() - t0
        diffs.append(t[id(with_plugin)] - t[id(plain)])
    print(f"cost per face: plugin call {np.median(call_ms):.3f} ms (median of {len(call_ms)}); "
          f"pipeline with vs without the plugin {1000 * np.median(diffs):.3f} ms "
          f"(median of {len(diffs)} paired images, one face each)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
