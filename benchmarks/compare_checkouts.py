"""Two checkouts of faceanalytics side by side: image-mode time and stream frame rate, alternating.

    git worktree add /tmp/before <commit>
    python benchmarks/compare_checkouts.py /tmp/before . [--rounds 5]

Each round runs each checkout in a fresh process of its own, one after the other, so that a slow
phase of a shared machine hits both sides of a round. A process imports faceanalytics from its
checkout (the editable install's import hook is bypassed), times ``Pipeline()(frame)`` on the 60
frames of the harness clip (``run.clip_frames``; medians of three passes, frames cycled from a
list, as docs/performance.md measures them) and ``Stream(detect_every=10)`` on 300 frames
generated between calls (``run.py``'s stream row), and within that stream the median time per
frame of the plugins (``Pipeline.run_plugins``: head pose, eyes, mouth, alignment, their small
networks included). Prints the series, round by round.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

WORKER = r"""
import json, sys, time
sys.meta_path[:] = [f for f in sys.meta_path if "ditable" not in type(f).__name__ and "ditable" not in getattr(f, "__name__", "")]
sys.path.insert(0, sys.argv[1])
sys.path.insert(1, sys.argv[2])
import numpy as np
from run import clip_frames, timed
import faceanalytics
from faceanalytics import Pipeline, Stream
assert faceanalytics.__file__.startswith(sys.argv[1]), faceanalytics.__file__
pipe = Pipeline(device="cpu")
frames = list(clip_frames(60))
for f in frames[:10]:
    pipe(f)
image_ms = 1000 * float(np.median([timed(lambda f=f: pipe(f)) for _ in range(3) for f in frames]))
fps, plugin_ms = [], []
run_plugins = pipe.run_plugins
def timed_plugins(*args, **kwargs):
    t = time.perf_counter()
    out = run_plugins(*args, **kwargs)
    plugin_ms.append(1000 * (time.perf_counter() - t))
    return out
pipe.run_plugins = timed_plugins
for _ in range(2):
    stream, spent = Stream(pipe, detect_every=10), 0.0
    for i, f in enumerate(clip_frames(300)):
        spent += timed(lambda s=stream, f=f, t=i / 30.0: s(f, t))
    fps.append(300 / spent)
    stream.close()
print(json.dumps({"image_ms": image_ms, "stream_fps": float(np.median(fps)), "plugins_ms": float(np.median(plugin_ms))}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before", type=Path, help="a checkout (e.g. a git worktree of an older commit)")
    ap.add_argument("after", type=Path, help="another checkout")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    for name, root in trees.items():
        if not (root / "faceanalytics" / "__init__.py").is_file():
            ap.error(f"{name}: {root} is not a faceanalytics checkout")
    results: dict[str, list[dict]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, root in trees.items():
            command = [sys.executable, "-c", WORKER, str(root), str(HERE)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode:
                print(done.stderr[-3000:], file=sys.stderr)
                return 1
            results[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    for name, rows in results.items():
        ms = ", ".join(f"{r['image_ms']:.2f}" for r in rows)
        fps = ", ".join(f"{r['stream_fps']:.0f}" for r in rows)
        plugins = ", ".join(f"{r['plugins_ms']:.2f}" for r in rows)
        print(f"{name:6s} image mode ms/frame: {ms}   stream frames/s: {fps}   stream plugins ms/frame: {plugins}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
