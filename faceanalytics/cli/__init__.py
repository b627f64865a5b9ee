"""The ``faceanalytics`` command line.

Exit codes: 0 success; 1 some inputs failed (each named on stderr, the others still processed);
2 usage error (an option value out of range, outputs that exist without ``--overwrite`` or cannot
be written), found before anything loads; 3 set-up failed (model, device), nothing processed;
4 an unexpected error (a bug); 130 interrupted. No traceback is shown unless ``--debug``.

``-v`` logs progress (models loaded, faces per image) to stderr: the CLI, not the library,
configures the ``faceanalytics`` logger.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from faceanalytics import __version__
from faceanalytics.cli.options import (
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_SETUP,
    EXIT_USAGE,
    add_pipeline_options,
    input_message,
    int_at_least,
    number_in,
    options_from_args,
    os_message,
    pipeline_from_args,
)
from faceanalytics.core.errors import FaceAnalyticsError

logger = logging.getLogger("faceanalytics")

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="faceanalytics", description="Face detection and FPENet facial landmarks.")
    p.add_argument("--version", action="version", version=f"faceanalytics {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("detect", help="faces and landmarks of images, as JSON")
    d.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    d.add_argument("--json", metavar="FILE", help="write a JSON array of results to FILE instead of JSON lines on stdout")
    d.add_argument("--draw", metavar="PATH", help="annotated picture: a file for one image, a folder for several")
    indent_help = "indent JSON (stdout lines stay one per image without it)"
    d.add_argument("--indent", type=int_at_least(0), default=None, metavar="N", help=indent_help)
    d.add_argument("--overwrite", action="store_true", help="replace output files that exist")
    add_pipeline_options(d)

    v = sub.add_parser("video", help="track faces through a video: annotated video, per-frame CSV, per-track summary")
    v.add_argument("input", metavar="INPUT", help="video file, image folder, image glob (quoted), or camera index")
    v.add_argument("--out", metavar="FILE", help="annotated video (.mp4 or .avi)")
    v.add_argument("--csv", metavar="FILE", help="one row per face per frame (columns in docs/cli.md)")
    v.add_argument("--json", metavar="FILE", help="summary per track: blinks, PERCLOS, yawns, pose, events")
    v.add_argument("--report", metavar="FILE", help="self-contained HTML report with plots over time")
    v.add_argument(
        "--fps", type=number_in(0.0, above=True), default=30.0, metavar="F", help="frame rate of image sequences (default: 30)"
    )
    v.add_argument("--overwrite", action="store_true", help="replace output files that exist")
    v.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_pipeline_options(v, video=True, max_faces_help="follow at most N faces, largest first (default: all)")

    a = sub.add_parser("align", help="aligned face crops (e.g. for face recognition), one PNG per face")
    a.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    a.add_argument("--out", required=True, metavar="DIR", help="folder for <image stem>_<face index>.png")
    a.add_argument("--size", type=int_at_least(8), default=112, metavar="PX", help="crop side in pixels, >= 8 (default: 112)")
    a.add_argument("--template", choices=["5pt", "68pt"], default="5pt", help="alignment template (default: 5pt)")
    margin_help = "extra framing on every side, a fraction in [0, 2] (default: 0)"
    a.add_argument("--margin", type=number_in(0.0, 2.0), default=0.0, metavar="M", help=margin_help)
    a.add_argument("--overwrite", action="store_true", help="replace crops that exist")
    add_pipeline_options(a, max_faces_help="align the N largest faces of each image (default: all)")

    m = sub.add_parser("download-models", help="where the detector weights are (shipped); fetches any the package lacks")
    m.add_argument("--model", choices=["short", "full", "all"], default="all")

    i = sub.add_parser("info", help="versions, execution providers and model paths")
    i.add_argument("--json", action="store_true", help="print as JSON")

    from faceanalytics.cli.batch import add_batch_parser

    add_batch_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 for --help/--version
        return int(exc.code or 0)
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    if not args.debug:
        # FFmpeg prints a line per damaged macroblock of a corrupt video; the CLI reports the outcome
        # itself (frames read of frames declared). The command owns its process, so it may set this
        # before OpenCV's first video (the library never touches the environment); an explicit
        # setting wins.
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("faceanalytics: %(levelname)s: %(message)s"))
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        commands = {"detect": _detect, "video": _video, "align": _align, "download-models": _download, "info": _info}
        commands["batch"] = _batch
        return commands[args.command](args)
    except KeyboardInterrupt:
        print("faceanalytics: interrupted", file=sys.stderr)
        return 130
    except FaceAnalyticsError as exc:
        if args.debug:
            raise
        print(f"faceanalytics: error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    except OSError as exc:  # a file that could not be read or written
        if args.debug:
            raise
        _error(os_message(exc))
        return EXIT_FAILED
    except Exception as exc:
        if args.debug:
            raise
        _error(f"unexpected {type(exc).__name__}: {exc}. This is a bug: rerun with --debug for the traceback, and report it")
        return EXIT_INTERNAL
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)


def _error(msg: str) -> None:
    print(f"faceanalytics: error: {msg}", file=sys.stderr)


def _warn(msg: str) -> None:
    print(f"faceanalytics: warning: {msg}", file=sys.stderr)


def _unwritable(folder: Path) -> str | None:
    """Why files cannot be created in ``folder`` (created if missing), or ``None``."""
    existing = folder.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"cannot create files under {folder}: {existing} is not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"no permission to write in {existing}"
    return None


def _same_file_key(path: Path) -> Path:
    """``path`` absolute, with ``..`` and links resolved as far as they exist: two spellings of one file compare equal."""
    return Path(os.path.realpath(path))


def _check_outputs(paths: Sequence[Path], overwrite: bool) -> str | None:
    """Why these output files cannot be written (``None`` when they can): a folder given as a
    file, a file that exists without ``--overwrite``, a folder without write permission, or two
    outputs naming the same file."""
    seen: dict[Path, Path] = {}
    for p in paths:
        key = _same_file_key(p)
        if key in seen:
            return f"{seen[key]} and {p} name the same file; give each output its own name"
        seen[key] = p
        if p.is_dir():
            return f"{p} is a folder; give a file name"
        if p.exists() and not overwrite:
            return f"{p} exists; pass --overwrite to replace it"
        problem = _unwritable(p.parent)
        if problem:
            return problem
    return None


def _write_atomic(path: Path, data: bytes) -> None:
    from faceanalytics.runtime.atomic import AtomicFile

    with AtomicFile(path) as tmp:
        tmp.write_bytes(data)


def _draw_target(draw: str, image: str, several: bool) -> Path:
    if not several:
        return Path(draw)
    src = Path(image)
    return Path(draw) / f"{src.stem}_annotated{src.suffix or '.png'}"


def _detect(args: argparse.Namespace) -> int:
    import cv2

    from faceanalytics.core.image import load_image
    from faceanalytics.io.draw import annotate

    several = len(args.images) > 1
    if args.draw and several and Path(args.draw).exists() and not Path(args.draw).is_dir():
        _error(f"--draw {args.draw} is a file, but several images need a folder")
        return EXIT_USAGE
    if args.json and Path(args.json).is_dir():
        _error(f"--json {args.json} is a folder; give a file name")
        return EXIT_USAGE
    drawn: dict[Path, tuple[str, Path]] = {}  # the same image twice may share its picture
    for image in args.images if args.draw else ():
        target = _draw_target(args.draw, image, several)
        other, _ = drawn.setdefault(_same_file_key(target), (image, target))
        if _same_file_key(Path(other)) != _same_file_key(Path(image)):
            _error(f"{other} and {image} would both be drawn to {target}; draw them into separate folders")
            return EXIT_USAGE
    outputs = [target for _, target in drawn.values()] + ([Path(args.json)] if args.json else [])
    problem = _check_outputs(outputs, args.overwrite)
    if problem:
        _error(problem)
        return EXIT_USAGE
    records: list[dict[str, Any]] = []
    failed = 0
    with pipeline_from_args(args) as pipe:
        for path in args.images:
            try:
                t0 = time.perf_counter()
                image = load_image(path)
                result = pipe(image)
                logger.info("%s: %d face(s) in %.0f ms", path, len(result.faces), 1000 * (time.perf_counter() - t0))
                record = {"image": path, **result.to_dict()}
                if args.draw:
                    target = _draw_target(args.draw, path, several)
                    ok, buf = cv2.imencode(target.suffix or ".png", annotate(image, result))
                    if not ok:
                        raise FaceAnalyticsError(f"cannot encode a picture as {target.suffix!r}; use .png or .jpg")
                    _write_atomic(target, buf.tobytes())
            except (FaceAnalyticsError, OSError) as exc:
                if args.debug:
                    raise
                _error(input_message(path, exc))
                failed += 1
                continue
            records.append(record)
            if not args.json:
                print(json.dumps(record, indent=args.indent), flush=True)
    if args.json:
        _write_atomic(Path(args.json), (json.dumps(records, indent=args.indent) + "\n").encode())
    return EXIT_FAILED if failed else EXIT_OK


def _video(args: argparse.Namespace) -> int:
    from faceanalytics.plugins import AlignmentPlugin, default_plugins

    outputs = [Path(p) for p in (args.out, args.csv, args.json, args.report) if p]
    if not outputs:
        _error("give at least one of --out, --csv, --json, --report")
        return EXIT_USAGE
    problem = _check_outputs(outputs, args.overwrite)
    if problem is None and args.out and Path(args.out).suffix.lower() not in (".mp4", ".avi"):
        problem = f"--out {args.out}: use a .mp4 or .avi name"
    if problem:
        _error(problem)
        return EXIT_USAGE
    plugins = [p for p in default_plugins() if not isinstance(p, AlignmentPlugin)]  # crops are not written
    with pipeline_from_args(args, plugins=plugins, cap_faces=False) as pipe:  # --max-faces: the Stream's
        return _run_video(args, pipe, outputs)


def _run_video(args: argparse.Namespace, pipe: Any, outputs: list[Path]) -> int:
    from tqdm import tqdm

    from faceanalytics.io.draw import annotate
    from faceanalytics.io.report import ReportBuilder
    from faceanalytics.io.video_outputs import CsvWriter, SummaryBuilder, VideoWriter
    from faceanalytics.io.video_source import open_source

    pipe.load()  # set-up errors before any output exists
    try:
        source = open_source(args.input, fps=args.fps)
    except FaceAnalyticsError as exc:  # unreadable input (VideoError, a bad first image): nothing read, nothing written
        _error(str(exc))
        return EXIT_FAILED
    logger.info(
        "%s: %s frames at %.3g fps, %dx%d",
        source.name,
        source.frame_count if source.frame_count is not None else "unknown number of",
        source.fps,
        *source.size,
    )
    from faceanalytics.video.stream import Stream

    stream = Stream(pipe, options=options_from_args(args))
    csv_out = video_out = None
    try:
        csv_out = CsvWriter(Path(args.csv), pipe.schema.num_points) if args.csv else None
        video_out = VideoWriter(Path(args.out), source.fps, source.size) if args.out else None
    except BaseException:
        source.close()
        for w in (csv_out, video_out):
            if w is not None:
                w.discard()
        raise
    summary = SummaryBuilder()
    report = ReportBuilder() if args.report else None
    frames, interrupted, failure, finished = 0, False, None, False
    bar = tqdm(total=source.frame_count, unit="frame", disable=args.quiet or None, desc=Path(source.name).name)
    try:
        for frame, t in source:
            result = stream(frame, t)
            frames += 1
            summary.add(result)
            if csv_out:
                csv_out.write(result)
            if video_out:
                video_out.write(annotate(frame, result))
            if report:
                report.add(result, frame)
            bar.update()
        finished = True
    except KeyboardInterrupt:
        interrupted = True
    except (FaceAnalyticsError, OSError) as exc:
        failure = exc  # keep what was done so far
    finally:  # also on an unexpected error: every output is closed with the frames done so far
        bar.close()
        source.close()
        summary.add_events(stream.close())
        stopped = _why_stopped(source, frames, interrupted, failure, finished)
        if csv_out:
            csv_out.close()
        if video_out:
            video_out.close()
        data = summary.to_dict(
            stream.summaries(),
            source.name,
            frames,
            interrupted or failure is not None,
            expected_frames=source.frame_count,
            stopped=stopped,
        )
        if args.json:
            summary.write(Path(args.json), data)
        if report:
            report.write(Path(args.report), data)
    written = ", ".join(str(p) for p in outputs)
    if interrupted:
        print(f"faceanalytics: interrupted after {frames} frames; {written} hold those frames", file=sys.stderr)
        return 130
    if failure is not None:
        _error(f"stopped after {frames} frames: {failure}; {written} hold those frames")
        return EXIT_FAILED
    if stopped:
        _warn(f"{stopped}; {written} hold the frames read")
    logger.info("%d frames, %d tracks; wrote %s", frames, len(stream.summaries()), written)
    return EXIT_OK


def _why_stopped(source: Any, frames: int, interrupted: bool, failure: BaseException | None, finished: bool) -> str | None:
    """Why a run ended before the end of its input, for the summary and the message; ``None`` if it did not."""
    if interrupted:
        return "interrupted"
    if failure is not None:
        return f"stopped by an error: {failure}"
    if not finished:
        return "stopped by an unexpected error"
    if source.live:
        return f"{source.name} stopped giving frames after {frames}"
    if source.frame_count is not None and frames < source.frame_count:
        return f"{source.name} ended after {frames} of the {source.frame_count} frames it declares (truncated or corrupt)"
    return None


def _align(args: argparse.Namespace) -> int:
    import cv2

    from faceanalytics.plugins import AlignmentPlugin

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        _error(f"--out {out} is a file; give a folder")
        return EXIT_USAGE
    problem = _unwritable(out)
    stems: dict[str, str] = {}
    for image in args.images:
        stem = Path(image).stem
        other = stems.setdefault(stem, image)
        if problem is None and _same_file_key(Path(other)) != _same_file_key(Path(image)):
            problem = f"{other} and {image} would both write {stem}_<i>.png; align them into separate folders"
        if problem is None and not args.overwrite and out.is_dir():
            pattern = re.compile(re.escape(stem) + r"_\d+\.png")
            existing = sorted(p.name for p in out.iterdir() if pattern.fullmatch(p.name))
            if existing:
                problem = f"{out / existing[0]} exists; pass --overwrite to replace the crops of {image}"
    if problem:
        _error(problem)
        return EXIT_USAGE
    try:
        plugin = AlignmentPlugin(args.template, size=args.size, margin=args.margin)
    except ValueError as exc:
        _error(str(exc))
        return EXIT_USAGE
    failed = written = 0
    with pipeline_from_args(args, plugins=[plugin]) as pipe:  # set-up errors before any output
        for path in args.images:
            try:
                faces = pipe(path).faces
                for i, face in enumerate(faces):
                    aligned = face.alignment
                    if aligned is None or not aligned.valid:
                        logger.warning("%s face %d: not aligned (%s)", path, i, aligned.reason if aligned else "no result")
                        continue
                    ok, buf = cv2.imencode(".png", aligned.crop)
                    if not ok:
                        raise FaceAnalyticsError(f"cannot encode the aligned crop of face {i} as PNG")
                    _write_atomic(out / f"{Path(path).stem}_{i}.png", buf.tobytes())
                    written += 1
                print(f"{path}: {len(faces)} face(s)")
            except (FaceAnalyticsError, OSError) as exc:
                if args.debug:
                    raise
                _error(input_message(path, exc))
                failed += 1
    logger.info("%d aligned crops in %s", written, out)
    return EXIT_FAILED if failed else EXIT_OK


def _download(args: argparse.Namespace) -> int:
    from faceanalytics.runtime.hub import home, package_weights_dir, resolve_detector_model
    from faceanalytics.runtime.registry import DETECTOR_MODELS

    names = list(DETECTOR_MODELS) if args.model == "all" else [args.model]
    for name in names:
        path = resolve_detector_model(name)
        where = "shipped in the package" if path.parent == package_weights_dir() else "in the model cache"
        print(f"{name}: {path} ({where})")
    logger.info("model cache: %s", home())
    return EXIT_OK


def _batch(args: argparse.Namespace) -> int:
    from faceanalytics.cli.batch import batch_command

    return batch_command(args)


def _info(args: argparse.Namespace) -> int:
    import cv2
    import numpy as np
    import onnxruntime as ort

    from faceanalytics.runtime.device import check_provider, resolve_providers
    from faceanalytics.runtime.hub import home, package_weights_dir, shipped_path
    from faceanalytics.runtime.registry import (
        DEFAULT_LANDMARK_MODEL,
        DETECTOR_MODELS,
        EXPRESSION_MODELS,
        EYE_MODELS,
        LANDMARK_MODELS,
        MOUTH_MODELS,
    )

    try:
        from importlib.metadata import version

        mp_version = version("mediapipe")
    except Exception:
        mp_version = "not installed"
    cache = home()
    info: dict[str, Any] = {
        "faceanalytics": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "onnxruntime": ort.__version__,
        "mediapipe": mp_version,
        # Each provider this onnxruntime lists, and whether it ran a test inference here.
        "providers": {n: check_provider(n).to_dict() for n in ort.get_available_providers()},
        "device_auto_runs_on": [p if isinstance(p, str) else p[0] for p in resolve_providers("auto")],
        "model_cache": str(cache),
        "detector_models": {n: _detector_info(s, cache, shipped_path) for n, s in DETECTOR_MODELS.items()},
        "landmark_models": {
            n: {"path": str(package_weights_dir() / s.filename), "points": s.num_points, "crop_scale": s.crop_scale}
            for n, s in LANDMARK_MODELS.items()
        },
        "default_landmark_model": DEFAULT_LANDMARK_MODEL if DEFAULT_LANDMARK_MODEL in LANDMARK_MODELS else None,
        "mouth_models": {n: {"path": str(package_weights_dir() / s.filename)} for n, s in MOUTH_MODELS.items()},
        "eye_models": {n: {"path": str(package_weights_dir() / s.filename)} for n, s in EYE_MODELS.items()},
        "expression_models": {n: {"path": str(package_weights_dir() / s.filename)} for n, s in EXPRESSION_MODELS.items()},
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return EXIT_OK
    for key, value in info.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for k, v in value.items():
                print(f"  {k}: {v}")
        else:
            print(f"{key}: {value}")
    return EXIT_OK


def _detector_info(spec: Any, cache: Path, shipped_path: Any) -> dict[str, Any]:
    try:
        path = shipped_path(spec)
    except Exception as exc:  # a damaged install: say so, info must not fail
        return {"path": None, "shipped": False, "error": str(exc)}
    if path is not None:
        return {"path": str(path), "shipped": True, "source": spec.source}
    cached = cache / spec.filename
    return {"path": str(cached), "shipped": False, "present": cached.is_file(), "url": spec.url}


if __name__ == "__main__":
    raise SystemExit(main())
