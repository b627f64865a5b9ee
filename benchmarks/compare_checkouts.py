"""Two checkouts of faceanalytics side by side: image-mode time and stream frame rate, alternating.

    git worktree add /tmp/before <commit>
    python benchmarks/compare_checkouts.py /tmp/before . [--rounds 5]
    python benchmarks/compare_checkouts.py /tmp/before . --results

Each round runs each checkout in a fresh process of its own, one after the other, so that a slow
phase of a shared machine hits both sides of a round. A process imports faceanalytics from its
checkout (the editable install's import hook is bypassed), times ``Pipeline()(frame)`` on the 60
frames of the harness clip (``run.clip_frames``; medians of three passes, frames cycled from a
list, as docs/performance.md measures them) and ``Stream(detect_every=10)`` on 300 frames
generated between calls (``run.py``'s stream row), and within that stream the median time per
frame of the plugins (``Pipeline.run_plugins``: head pose, eyes, mouth, alignment, their small
networks included). Prints the series, round by round.

``--results`` instead compares what the two checkouts compute: every face's JSON (``to_dict``,
rounded as there) on 150 frames of the clip in a Stream, every fifth frame also as a single image,
and the events; prints each field that differs and by how much (a speed change should list none).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# Both workers: faceanalytics from the checkout in argv[1] (not the editable install), the
# benchmarks folder (run.py) from argv[2].
PREAMBLE = r"""
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
"""

WORKER = PREAMBLE + r"""
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


RESULTS_WORKER = PREAMBLE + r"""
stream = Stream(pipe, detect_every=10)
rows = []
for i, f in enumerate(clip_frames(150)):
    r = stream(f, i / 30)
    row = {"stream": [face.to_dict() for face in r.faces], "events": [e.to_dict() for e in r.events]}
    if i % 5 == 0:
        row["image"] = [face.to_dict() for face in pipe(f).faces]
    rows.append(row)
print(json.dumps(rows))
"""


def result_differences(a: object, b: object, path: str = "", out: dict[str, object] | None = None) -> dict[str, object]:
    """Fields of two JSON results that differ, by path (list positions left out): the largest
    absolute difference of a numeric field, or a description of any other difference."""
    out = {} if out is None else out
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k in a and k in b:
                result_differences(a[k], b[k], f"{path}.{k}", out)
            else:
                out[f"{path}.{k}"] = "present on one side only"
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out[path] = f"{len(a)} against {len(b)} items"
        for u, v in zip(a, b, strict=False):
            result_differences(u, v, path, out)
    elif type(a) in (int, float) and type(b) in (int, float):
        if a != b:
            before = out.get(path, 0.0)
            out[path] = max(before, abs(float(a) - float(b))) if isinstance(before, float) else before  # type: ignore[arg-type]
    elif a != b:
        out.setdefault(path, f"{a!r} against {b!r}")
    return out


def run_worker(script: str, root: Path) -> Any:
    """Run a worker script in a fresh process on the checkout at ``root``; the JSON it prints last,
    or None (its error output printed) when it fails."""
    done = subprocess.run([sys.executable, "-c", script, str(root), str(HERE)], capture_output=True, text=True, check=False)
    if done.returncode:
        print(done.stderr[-3000:], file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare_results(trees: dict[str, Path]) -> int:
    """Print the fields whose values differ between the two checkouts' results on 150 frames of
    the harness clip (a Stream, and every fifth frame as a single image); 0 when none do."""
    dumps = {name: run_worker(RESULTS_WORKER, root) for name, root in trees.items()}
    if None in dumps.values():
        return 1
    diffs = result_differences(dumps["before"], dumps["after"])
    print(f"results (JSON, as rounded there) of 150 stream frames and 30 single images: {len(diffs)} fields differ")
    for key, d in diffs.items():
        print(f"  {key or '(top)'}: {d:.4g} at most" if isinstance(d, float) else f"  {key}: {d}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before", type=Path, help="a checkout (e.g. a git worktree of an older commit)")
    ap.add_argument("after", type=Path, help="another checkout")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--results", action="store_true", help="compare the two checkouts' results instead of their speed")
    args = ap.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    for name, root in trees.items():
        if not (root / "faceanalytics" / "__init__.py").is_file():
            ap.error(f"{name}: {root} is not a faceanalytics checkout")
    if args.results:
        return compare_results(trees)
    results: dict[str, list[dict]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, root in trees.items():
            row = run_worker(WORKER, root)
            if row is None:
                return 1
            results[name].append(row)
    for name, rows in results.items():
        ms = ", ".join(f"{r['image_ms']:.2f}" for r in rows)
        fps = ", ".join(f"{r['stream_fps']:.0f}" for r in rows)
        plugins = ", ".join(f"{r['plugins_ms']:.2f}" for r in rows)
        print(f"{name:6s} image mode ms/frame: {ms}   stream frames/s: {fps}   stream plugins ms/frame: {plugins}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
