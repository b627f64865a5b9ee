"""Where the time goes: image mode, stream mode, and inside the landmark network.

    python benchmarks/profile_stages.py [--frames 300] [--model fpenet68]

0. Image mode without a profiler: the detector, the landmark runner and each plugin wrapped in a
   timer inside ``Pipeline.__call__``; medians per frame (cProfile inflates the Python parts).
1. Image mode (``Pipeline()(frame)`` on 640x480 frames of the harness clip) and stream mode
   (``Stream(detect_every=10)``): time per stage from cProfile's cumulative times (the profiler
   inflates Python-heavy parts; the unprofiled time per frame is printed first), summarised as
   detector / landmark network / crops / plugins / rest.
2. The landmark network alone: onnxruntime's per-operator profile at batch 1 (share per
   operator type and the slowest nodes).
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import json
import pstats
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import clip_frames

from faceanalytics import Pipeline, Stream
from faceanalytics.runners.fpenet import INPUT_NAME, _locate

STAGES = {  # (file fragment, function) -> stage; cumulative times of these calls
    "detector": [("blazeface.py", "detect")],
    "landmark network": [("fpenet.py", "_run_raw")],
    "crops": [("crop.py", "crop_faces"), ("crop.py", "to_gray")],
    "plugins": [("head_pose.py", "estimate"), ("eyes.py", "__call__"), ("mouth.py", "__call__"), ("alignment.py", "__call__")],
}


def stage_times(prof: cProfile.Profile, calls: int) -> dict[str, float]:
    st = pstats.Stats(prof)
    out: dict[str, float] = collections.defaultdict(float)
    seen = set()
    for (file, _, func), (_, _, _, cum, _) in st.stats.items():  # type: ignore[attr-defined]
        for stage, keys in STAGES.items():
            if any(file.endswith(f) and func == fn for f, fn in keys) and (stage, file, func) not in seen:
                seen.add((stage, file, func))
                out[stage] += cum
    total = st.total_tt  # type: ignore[attr-defined]
    out["rest (Python glue, results, NMS, smoothing)"] = total - sum(out.values())
    return {k: 1000 * v / calls for k, v in out.items()} | {"total": 1000 * total / calls}


def timed_stages(pipe: Pipeline, frames: list[np.ndarray], passes: int = 3) -> dict[str, float]:
    """Median ms per frame of the detector, the landmark runner and each plugin, and of the whole
    call, with each stage wrapped in a timer (the pipeline object is changed; use a fresh one)."""
    spent: dict[str, list[float]] = collections.defaultdict(list)

    def wrap(name: str, fn):
        def timed_fn(*a, **kw):
            t = time.perf_counter()
            out = fn(*a, **kw)
            spent[name].append(time.perf_counter() - t)
            return out

        return timed_fn

    class Timed:
        def __init__(self, plugin) -> None:
            self.name, self._call = plugin.name, wrap(plugin.name, plugin)

        def __call__(self, face, frame):
            return self._call(face, frame)

    pipe._detect = wrap("detector", pipe._detect)  # type: ignore[method-assign]
    pipe.landmarker.landmarks = wrap("landmarks", pipe.landmarker.landmarks)  # type: ignore[method-assign]
    pipe.plugins = tuple(Timed(p) for p in pipe.plugins)
    call = wrap("total", pipe.__call__)
    for f in frames[:10]:
        call(f)
    spent.clear()
    for _ in range(passes):
        for f in frames:
            call(f)
    out = {k: 1000 * float(np.median(v)) for k, v in spent.items() if k != "total"}
    out["rest (image checks, results)"] = 1000 * float(np.median(spent["total"])) - sum(out.values())
    return out | {"total": 1000 * float(np.median(spent["total"]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--model", default="fpenet68")
    args = ap.parse_args()
    frames = list(clip_frames(args.frames))
    print("image mode, 640x480, one face, each stage timed (medians, no profiler):")
    for k, v in timed_stages(Pipeline(args.model, device="cpu"), frames).items():
        print(f"  {k:48s} {v:6.3f} ms")
    pipe = Pipeline(args.model, device="cpu")
    for f in frames[:20]:
        pipe(f)

    t = time.perf_counter()
    for f in frames:
        pipe(f)
    plain = 1000 * (time.perf_counter() - t) / len(frames)
    prof = cProfile.Profile()
    prof.enable()
    for f in frames:
        pipe(f)
    prof.disable()
    print(f"image mode, 640x480, one face: {plain:.2f} ms/frame without the profiler; shares under cProfile:")
    times = stage_times(prof, len(frames))
    for k, v in times.items():
        print(f"  {k:48s} {v:6.2f} ms  {100 * v / times['total']:5.1f} %")

    stream = Stream(pipe, detect_every=10)
    prof = cProfile.Profile()
    t = time.perf_counter()
    for i, f in enumerate(frames):
        if i == len(frames) // 2:
            prof.enable()
        stream(f, i / 30)
    prof.disable()
    fps = len(frames) / (time.perf_counter() - t)
    print(f"stream mode (detect every 10): {fps:.0f} frames/s (the second half under cProfile); shares:")
    times = stage_times(prof, len(frames) - len(frames) // 2)
    for k, v in times.items():
        print(f"  {k:48s} {v:6.2f} ms  {100 * v / times['total']:5.1f} %")

    opts = ort.SessionOptions()
    opts.enable_profiling = True
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(str(_locate(args.model)[0]), opts, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).uniform(0, 255, (1, 1, 80, 80)).astype(np.float32)
    for _ in range(300):
        sess.run(None, {INPUT_NAME: x})
    trace = sess.end_profiling()
    events = json.loads(Path(trace).read_text())
    Path(trace).unlink()
    by_node: collections.Counter = collections.Counter()
    by_type: collections.Counter = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            by_node[(e["args"]["op_name"], e["name"][: -len("_kernel_time")])] += e["dur"]
            by_type[e["args"]["op_name"]] += e["dur"]
    total = sum(by_type.values())
    print(f"landmark network {args.model}, batch 1, onnxruntime per-operator profile ({total / 300:.0f} us/run under profiling):")
    for op, d in by_type.most_common(6):
        print(f"  {op:20s} {100 * d / total:5.1f} %")
    print("  slowest nodes:")
    for (op, node), d in by_node.most_common(6):
        print(f"    {node[:60]:60s} {op:10s} {d / 300:7.1f} us")


if __name__ == "__main__":
    main()
