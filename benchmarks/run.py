"""Side-by-side performance harness: faceanalytics against dlib and MediaPipe FaceMesh, one table.

    python benchmarks/run.py [--images 100] [--repeat 3] [--frames 300] [--long 10000] [--rounds 9] [--no-accuracy]

Each method runs in a process of its own (so that peak memory is its own), on the same inputs:

* ``images``: the held-out identities of ../shared/data/landmarks68 (about 176x192 px, one face);
* ``clip``: a 640x480 clip made by moving, rotating and zooming a real face (scikit-image's
  astronaut) along a smooth path (``jitter.clip``'s path), generated frame by frame; frame making
  is not timed (it stands for video decoding, which the targets exclude).

Rows: end-to-end ms per image (detection + 68 points + all plugins for faceanalytics; dlib's HOG
detector + ERT-68; FaceMesh's own detector + mesh), ms per face for the landmark model alone at
batch 1 / 8 / 32 on crops of the images (dlib: batch 1 only, it has no batches), faces per second,
stream-mode frames per second on the clip (faceanalytics: ``Stream(detect_every=10)``; FaceMesh:
its tracking mode; dlib has no tracker, so every frame is detected; for faceanalytics also with
the first 60 frames held in memory and called back to back, which keeps its thread pool and caches
warm), peak memory (the process's peak resident set), resident memory growth over a
``--long``-frame stream after 1,000 frames of warm-up, and the accuracy columns of
``faceanalytics.train.evaluate`` (NME, failure rate, faces found; detector boxes).
Times are medians over ``--repeat`` passes. End-to-end times of faceanalytics and dlib are taken
on a copy of each image made just before the call (:func:`timed_fresh`): a frame fresh from a
decoder, as FaceMesh's own frames are. FaceMesh runs in its own venv (mediapipe 0.10.21,
``.venv-facemesh`` or ``$FACEMESH_PYTHON``); its time is what FaceMesh itself reports per frame
(no file reading or colour conversion); dlib needs ``dlib-bin`` and ``face-recognition-models``.
Methods that are not installed are left out.

The end-to-end targets are judged on a **paired ratio**: one more process holds both
faceanalytics and FaceMesh and times them in ``--rounds`` alternating rounds on the same frames
(``worker_paired``). The machine this was built on changes speed by 30 % and more within minutes;
measured minutes apart, as the table's columns are, the ratio follows those phases.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("FACEANALYTICS_SHARED", HERE.parents[1] / "shared")) / "data"
sys.path.insert(0, str(HERE))

from jitter import path as clip_path  # noqa: E402

METHODS = ("faceanalytics", "faceanalytics-int8", "dlib", "facemesh")


# --- inputs ----------------------------------------------------------------------------------------


def val_samples(n: int) -> list:
    from faceanalytics.train.data import read_csv, split_by_identity

    _, val = split_by_identity(read_csv(SHARED / "landmarks68" / "annotations.csv"), 0.15, seed=0)
    step = max(len(val) // n, 1)
    return val[::step][:n]


def clip_frames(n: int, seed: int = 0) -> Iterator[np.ndarray]:
    """The 640x480 clip, one frame at a time (noise as a camera's, 2 grey levels)."""
    import skimage.data

    face = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    rng = np.random.default_rng(seed)
    for i in range(n):
        frame = cv2.warpAffine(face, clip_path(i, 30.0), (640, 480)).astype(np.float32)
        frame += rng.normal(0, 2.0, frame.shape).astype(np.float32)
        yield np.clip(frame, 0, 255).astype(np.uint8)


def rss_mb(pid: int | str = "self") -> tuple[float, float]:
    """(current, peak) resident memory of a process in MB, from /proc (Linux)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = float(value.split()[0]) / 1024
    return fields.get("VmRSS", float("nan")), fields.get("VmHWM", float("nan"))


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def timed_fresh(fn: Callable[[np.ndarray], object], image: np.ndarray) -> float:
    """Seconds of ``fn(copy)``, the copy made just before and not timed: an image the decoder or
    camera has just written, as the FaceMesh worker's frames are (it times FaceMesh on the frame it
    has just decoded and converted). Images cycled from a list are cold in the caches instead."""
    fresh = image.copy()
    return timed(lambda: fn(fresh))


# --- workers (one process per method) --------------------------------------------------------------


def worker_faceanalytics(args: argparse.Namespace, model: str | None) -> dict:
    from faceanalytics import Pipeline, Stream
    from faceanalytics.geometry.crop import crop_faces, square_crop_matrices, to_gray

    pipe = Pipeline(device="cpu", landmark_model=model)
    images = [cv2.imread(str(s.path)) for s in val_samples(args.images)]
    for img in images[:5]:
        pipe(img)
    out: dict = {"providers": list(pipe.providers), "model": pipe.landmarker.name}
    passes = [[timed_fresh(pipe, im) for im in images] for _ in range(args.repeat)]
    out["e2e_images_ms"] = 1000 * float(np.median([np.median(p) for p in passes]))
    frames = list(clip_frames(min(args.frames, 60)))
    out["e2e_640_ms"] = 1000 * float(np.median([timed_fresh(pipe, f) for _ in range(args.repeat) for f in frames]))

    crops = []
    for img in images:
        res = pipe.detector.detect(img)
        if res:
            mats = square_crop_matrices(np.array([res[0].box]), 80, pipe.landmarker.crop_scale)
            crops.append(crop_faces(to_gray(img), mats, 80)[0])
    crops_arr = np.ascontiguousarray(np.resize(np.stack(crops), (32, 1, 80, 80)), np.float32)
    run = pipe.landmarker.run
    for b in (1, 8, 32):
        x = crops_arr[:b]
        for _ in range(10):
            run(x)
        reps = max(int(400 / b), 20)
        per = [timed(lambda x=x: run(x)) / b for _ in range(reps)]
        out[f"landmarks_b{b}_ms"] = 1000 * float(np.median(per))
    out["faces_per_s"] = 1000 / min(out[f"landmarks_b{b}_ms"] for b in (1, 8, 32))

    fps = []
    for _ in range(args.repeat):
        stream, spent = Stream(pipe, detect_every=10), 0.0
        for i, frame in enumerate(clip_frames(args.frames)):
            spent += timed(lambda s=stream, f=frame, t=i / 30.0: s(f, t))
        fps.append(args.frames / spent)
        stream.close()
    out["stream_fps"] = float(np.median(fps))
    fps = []  # the same with frames already in memory (the 60 above, cycled), called back to back
    for _ in range(args.repeat):
        stream = Stream(pipe, detect_every=10)
        spent = timed(lambda s=stream: [s(frames[i % len(frames)], i / 30.0) for i in range(args.frames)])
        fps.append(args.frames / spent)
        stream.close()
    out["stream_memory_fps"] = float(np.median(fps))

    if args.long:
        stream, marks = Stream(pipe, detect_every=10), {}
        gen = clip_frames(args.long)
        for i, frame in enumerate(gen):
            stream(frame, i / 30.0)
            if i + 1 in (1000, args.long // 2, args.long):
                marks[i + 1] = rss_mb()[0]
        stream.close()
        out["rss_after_warmup_mb"] = marks.get(1000, float("nan"))
        out["rss_growth_mb"] = marks[args.long] - marks.get(1000, marks[args.long])
        out["long_frames"] = args.long
    if args.accuracy:
        out.update(accuracy(args, "faceanalytics", model))
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def worker_dlib(args: argparse.Namespace) -> dict:
    from faceanalytics.train.evaluate import _dlib, _gt_box

    found = _dlib()
    if found is None:
        return {"skipped": "dlib-bin / face-recognition-models not installed"}
    method, landmarks = found
    samples = val_samples(args.images)
    images = [cv2.imread(str(s.path)) for s in samples]

    def e2e(img: np.ndarray) -> None:
        boxes = method.detect(img)
        if len(boxes):
            landmarks(img, boxes)

    out: dict = {}
    passes = [[timed_fresh(e2e, im) for im in images] for _ in range(args.repeat)]
    out["e2e_images_ms"] = 1000 * float(np.median([np.median(p) for p in passes]))
    frames = list(clip_frames(min(args.frames, 30)))
    per = [timed_fresh(e2e, f) for f in frames]
    out["e2e_640_ms"] = 1000 * float(np.median(per))
    fps = []  # no tracker: the detector on every frame of the clip, as the others' stream rows are timed
    for _ in range(args.repeat):
        spent = sum(timed(lambda f=frame: e2e(f)) for frame in clip_frames(args.frames))
        fps.append(args.frames / spent)
    out["stream_fps"] = float(np.median(fps))
    out["stream_note"] = "no tracker: detection on every frame"
    boxes = [(img, _gt_box(s.points)[None]) for img, s in zip(images, samples, strict=True)]
    per_face = [timed(lambda im=im, b=b: landmarks(im, b)) for _ in range(args.repeat) for im, b in boxes]
    out["landmarks_b1_ms"] = 1000 * float(np.median(per_face))  # dlib has no batches: no batch 8 or 32 rows
    out["faces_per_s"] = 1000 / out["landmarks_b1_ms"]
    if args.accuracy:
        out.update(accuracy(args, "dlib", None))
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def worker_facemesh(args: argparse.Namespace) -> dict:
    from faceanalytics.train.facemesh import FaceMeshWorker, facemesh_python

    python = facemesh_python()
    if python is None:
        return {"skipped": "no FaceMesh venv (.venv-facemesh with mediapipe 0.10.21)"}
    out: dict = {}
    mesh = FaceMeshWorker(python)
    images = [cv2.imread(str(s.path)) for s in val_samples(args.images)]
    for img in images[:5]:
        mesh.landmarks68(img)
    passes = []
    for _ in range(args.repeat):
        ms = []
        for img in images:
            mesh.landmarks68(img)
            ms.append(mesh.last_ms)
        passes.append(np.median(ms))
    out["e2e_images_ms"] = float(np.median(passes))
    ms = []
    for _ in range(args.repeat):
        for frame in clip_frames(min(args.frames, 60)):
            mesh.landmarks68(frame)
            ms.append(mesh.last_ms)
    out["e2e_640_ms"] = float(np.median(ms))
    peak = rss_mb(mesh.pid)[1]
    mesh.close()
    fps = []
    for _ in range(args.repeat):
        video = FaceMeshWorker(python, video=True)
        spent = 0.0
        for frame in clip_frames(args.frames):
            video.landmarks68(frame)
            spent += video.last_ms / 1000
        fps.append(args.frames / spent)
        peak = max(peak, rss_mb(video.pid)[1])
        video.close()
    out["stream_fps"] = float(np.median(fps))
    out["stream_note"] = "FaceMesh tracking mode"
    if args.accuracy:
        out.update(accuracy(args, "facemesh", None))
    out["peak_mb"] = peak
    return out


def worker_paired(args: argparse.Namespace, name: str, model: str | None) -> dict:
    """faceanalytics (``model``) and FaceMesh timed in alternation on the same inputs: ``--rounds``
    rounds, each timing a third of the clip (and of the images) through one and then the other
    (which goes first alternates);
    per round the ratio of the medians, and the median of those ratios. A slow phase of a shared
    machine then slows both sides of a round instead of only the method that happened to run in
    it. One pipeline per process: two in one process slow each other down."""
    from faceanalytics import Pipeline
    from faceanalytics.train.facemesh import FaceMeshWorker, facemesh_python

    python = facemesh_python()
    if python is None:
        return {"skipped": "no FaceMesh venv (.venv-facemesh with mediapipe 0.10.21)"}
    pipe = Pipeline(model, device="cpu")
    mesh = FaceMeshWorker(python)
    frames = list(clip_frames(min(args.frames, 60)))
    images = [cv2.imread(str(s.path)) for s in val_samples(args.images)]
    for x in frames[:5] + images[:5]:
        pipe(x)
        mesh.landmarks68(x)
    out: dict = {}
    for key, inputs in (("640", frames), ("images", images)):
        ratios, ours_ms, mesh_ms = [], [], []
        for r in range(args.rounds):
            part = inputs[r % 3 :: 3]
            theirs: list[float] = []

            def run_theirs(part=part, theirs=theirs) -> None:
                for x in part:
                    mesh.landmarks68(x)
                    theirs.append(mesh.last_ms)

            if r % 2:  # every other round faceanalytics goes first: neither side always follows the other
                ours_ms.append(float(np.median([timed_fresh(pipe, x) for x in part]) * 1000))
                run_theirs()
            else:
                run_theirs()
                ours_ms.append(float(np.median([timed_fresh(pipe, x) for x in part]) * 1000))
            mesh_ms.append(float(np.median(theirs)))
            ratios.append(ours_ms[-1] / mesh_ms[-1])
        out[f"{name}_{key}_ratio"] = float(np.median(ratios))
        out[f"{name}_{key}_ratios"] = ratios
        out[f"{name}_{key}_ms"] = (float(np.median(ours_ms)), float(np.median(mesh_ms)))
    mesh.close()
    return out


def accuracy(args: argparse.Namespace, name: str, model: str | None) -> dict:
    from faceanalytics.train.data import read_csv, split_by_identity
    from faceanalytics.train.evaluate import _dlib, _facemesh, _ours, evaluate_landmarks
    from faceanalytics.train.facemesh import facemesh_python

    _, val = split_by_identity(read_csv(SHARED / "landmarks68" / "annotations.csv"), 0.15, seed=0)
    close = None
    if name == "faceanalytics":
        from faceanalytics.runners.fpenet import _locate

        method = _ours(str(_locate(model or "fpenet68")[0]), None)
    elif name == "dlib":
        method = _dlib()[0]  # type: ignore[index]
    else:
        method, close = _facemesh(facemesh_python())  # type: ignore[arg-type]
    res = evaluate_landmarks(method, val)
    if close:
        close()
    return {"nme_pct": res["nme_pct"], "failure_pct": res["failure_pct"], "found_pct": res["found_pct"]}


# --- the table -------------------------------------------------------------------------------------

ROWS = [
    ("end-to-end, landmarks68 images (~176x192), ms/image", "e2e_images_ms", "{:.2f}"),
    ("end-to-end, 640x480 frames, ms/image", "e2e_640_ms", "{:.2f}"),
    ("landmarks alone, batch 1, ms/face", "landmarks_b1_ms", "{:.3f}"),
    ("landmarks alone, batch 8, ms/face", "landmarks_b8_ms", "{:.3f}"),
    ("landmarks alone, batch 32, ms/face", "landmarks_b32_ms", "{:.3f}"),
    ("landmarks alone, faces/s (best batch)", "faces_per_s", "{:.0f}"),
    ("stream, 640x480 clip, frames/s", "stream_fps", "{:.0f}"),
    ("stream, the clip's frames in memory, back to back, frames/s", "stream_memory_fps", "{:.0f}"),
    ("peak memory, MB", "peak_mb", "{:.0f}"),
    ("memory growth over the long stream after warm-up, MB", "rss_growth_mb", "{:+.1f}"),
    ("NME %, detector boxes (held-out identities)", "nme_pct", "{:.2f}"),
    ("failure rate % (NME > 10 %)", "failure_pct", "{:.2f}"),
    ("faces found %", "found_pct", "{:.1f}"),
]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(x.split(":", 1)[1].strip() for x in lines if x.startswith("model name"))
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import onnxruntime as ort

    return (
        f"{cpu}, {os.cpu_count()} logical CPUs, {mem:.0f} GiB, Python {platform.python_version()}, onnxruntime {ort.__version__}"
    )


def table(results: dict[str, dict]) -> str:
    names = [n for n in results if "skipped" not in results[n] and not n.startswith("paired")]
    lines = ["| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, key, fmt in ROWS:
        cells = [fmt.format(results[n][key]) if isinstance(results[n].get(key), float | int) else "" for n in names]
        if any(cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(results: dict[str, dict]) -> str:
    ours, mesh = results.get("faceanalytics", {}), results.get("facemesh", {})
    rows = ["| target | measured | |", "|---|---|---|"]

    def row(text: str, value: float | None, ok: bool | None) -> None:
        rows.append(
            f"| {text} | {'' if value is None else f'{value:.3g}'} | {'' if ok is None else ('met' if ok else 'missed')} |"
        )

    paired = {k: v for name, res in results.items() if name.startswith("paired") for k, v in res.items()}
    for key, what in (("640", "640x480"), ("images", "landmarks68 images")):
        for name in ("faceanalytics", "faceanalytics-int8"):
            if f"{name}_{key}_ratio" in paired:
                r, each = paired[f"{name}_{key}_ratio"], paired[f"{name}_{key}_ratios"]
                ours_ms, mesh_ms = paired[f"{name}_{key}_ms"]
                label = "" if name == "faceanalytics" else " (INT8 landmarks)"
                row(f"end-to-end {what}{label} <= 0.8 x FaceMesh's time (ratio; median of {len(each)} alternating "
                    f"rounds, {min(each):.2f}-{max(each):.2f}; {ours_ms:.2f} vs {mesh_ms:.2f} ms)", r, r <= 0.8)  # fmt: skip
    if "e2e_640_ms" in ours and "e2e_640_ms" in mesh:
        r = ours["e2e_640_ms"] / mesh["e2e_640_ms"]
        row("  the same from the table's columns (640x480; measured minutes apart)", r, None)
    if "e2e_images_ms" in ours and "e2e_images_ms" in mesh:
        r = ours["e2e_images_ms"] / mesh["e2e_images_ms"]
        row("  the same from the table's columns (landmarks68 images)", r, None)
    if "stream_fps" in ours:
        row("stream, one face, 640x480 >= 300 frames/s", ours["stream_fps"], ours["stream_fps"] >= 300)
    if "stream_memory_fps" in ours:
        row("  the same, frames in memory back to back", ours["stream_memory_fps"], ours["stream_memory_fps"] >= 300)
    if "landmarks_b1_ms" in ours:
        row("landmarks alone, batch 1 <= 1.5 ms/face", ours["landmarks_b1_ms"], ours["landmarks_b1_ms"] <= 1.5)
    if "faces_per_s" in ours:
        row("landmarks batched >= 800 faces/s", ours["faces_per_s"], ours["faces_per_s"] >= 800)
    int8 = results.get("faceanalytics-int8", {})
    if "faces_per_s" in int8:
        row("INT8 landmarks batched, faces/s", int8["faces_per_s"], None)
    if "rss_growth_mb" in ours:
        row(f"memory growth over {ours['long_frames']} stream frames after warm-up, MB (flat)", ours["rss_growth_mb"], None)
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=100, help="held-out landmarks68 images (default 100)")
    ap.add_argument("--repeat", type=int, default=3, help="passes; medians are reported (default 3)")
    ap.add_argument("--frames", type=int, default=300, help="clip frames for stream mode (default 300)")
    ap.add_argument("--long", type=int, default=10000, help="frames of the memory run (0: skip; default 10000)")
    ap.add_argument("--no-accuracy", dest="accuracy", action="store_false", help="skip the NME columns")
    ap.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {','.join(METHODS)}")
    ap.add_argument("--json", metavar="FILE", help="also write all numbers as JSON")
    ap.add_argument("--rounds", type=int, default=9, help="alternating rounds of the paired ratio (0: skip; default 9)")
    ap.add_argument("--worker", choices=(*METHODS, "paired", "paired-int8"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        if args.worker == "faceanalytics":
            res = worker_faceanalytics(args, None)
        elif args.worker == "faceanalytics-int8":
            args.long, args.accuracy = 0, args.accuracy
            res = worker_faceanalytics(args, "fpenet68-int8")
        elif args.worker == "dlib":
            res = worker_dlib(args)
        elif args.worker == "paired":
            res = worker_paired(args, "faceanalytics", None)
        elif args.worker == "paired-int8":
            res = worker_paired(args, "faceanalytics-int8", "fpenet68-int8")
        else:
            res = worker_facemesh(args)
        sys.stdout.write("RESULT " + json.dumps(res) + "\n")
        return 0

    results: dict[str, dict] = {}
    names = args.methods.split(",")
    if args.rounds > 0 and "facemesh" in names:
        names += [f"paired{suffix}" for m, suffix in (("faceanalytics", ""), ("faceanalytics-int8", "-int8")) if m in names]
    for name in names:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--images", str(args.images)]
        cmd += ["--repeat", str(args.repeat), "--frames", str(args.frames), "--long", str(args.long)]
        cmd += ["--rounds", str(args.rounds)]
        cmd += [] if args.accuracy else ["--no-accuracy"]
        t = time.time()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if proc.returncode != 0 or line is None:
            results[name] = {"skipped": f"worker failed ({proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}"}
        else:
            results[name] = json.loads(line[len("RESULT ") :])
        sys.stderr.write(
            f"{name}: {time.time() - t:.0f} s{'; ' + results[name]['skipped'] if 'skipped' in results[name] else ''}\n"
        )
    print(f"machine: {machine()}; no GPU used")
    print(f"inputs: {args.images} held-out landmarks68 images, {args.frames}-frame 640x480 clip, medians of {args.repeat} passes")
    print()
    print(table(results))
    print()
    print(targets(results))
    for name, res in results.items():
        if "skipped" in res:
            print(f"\n{name}: skipped: {res['skipped']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
