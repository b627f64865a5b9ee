"""Blinks, microsleeps and kept faces of a Stream on clips with abrupt changes (issue 19).

    python benchmarks/blinks.py [--clips 10] [--frames 150] [--ear-only] [--fool]

Each clip (seeded; :func:`faceanalytics.train.clips.build_clip`) is a real open-eye face of
../shared/data/landmarks68 moving, zooming and rolling at 640x480 and 30 fps, with 3-8-frame
closed-eye stretches (closed faces of another person, ../shared/data/eye_state/closed) and, in
turn, nothing else, a swapped-in face, a covered lower face, the face leaving and coming back, or
a closure in the first frames (cold start). Prints per clip and in total: blink recall and
precision (an event matches a closed stretch when they overlap, within a frame; a second blink on
one stretch is a false one), microsleeps (there
are none in the clips: every one is false), frames where the stream reports the person's face vs
frames where the single-image Pipeline finds it (``Clip.visible``; a face is the person's when its
eyes are where the clip put them, ``Clip.placed_face``: a detector false positive on the background
is not), and track-id switches within one appearance of the person.

``--fool``: instead, clips with conditions that try to fool the eye decisions on open eyes (a nod,
motion blur, dark; ``build_clip``'s ``nod``, ``blur`` and ``dark``), each at rising strengths,
``--clips`` clips per row. Besides the events, a row counts the frame decisions on the fooled
frames with open eyes: how many say ``eyes.closed``.
"""

from __future__ import annotations

import argparse
import collections
import os
import time
from pathlib import Path

from faceanalytics import Pipeline, Stream
from faceanalytics.train.clips import FOOLING, Clip, build_clip, closed_stretches
from faceanalytics.video.events import BlinkMonitor

SHARED = Path(os.environ.get("FACEANALYTICS_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
KINDS = ({}, {"swap": True}, {"cover": True}, {"leave": True}, {"closed_at": 4})
#: ``--fool``: each condition at the default strength (clips.FOOLING) and two harsher ones
LADDERS = {"nod": (FOOLING["nod"], 0.5, 0.4), "blur": (FOOLING["blur"], 25, 35), "dark": (FOOLING["dark"], 0.15, 0.08)}


def score_clip(pipe: Pipeline, clip: Clip) -> dict[str, int]:
    stream = Stream(pipe)
    ids: list[int | None] = []
    events = []
    fooled_open = false_closed = 0  # frame decisions on fooled frames with open eyes
    for i, (frame, t) in enumerate(zip(clip.frames, clip.timestamps(), strict=True)):
        res = stream(frame, float(t))
        face = clip.placed_face(i, res.faces)  # the person's face, not a detector false positive elsewhere
        ids.append(face.track_id if face is not None else None)
        if face is not None and clip.fooled[i] and clip.person[i] == 0 and not clip.closed[i]:
            fooled_open += 1
            false_closed += bool(face.eyes is not None and face.eyes.closed)
        events += res.events
    events += stream.close()
    truth = closed_stretches(clip.closed)
    fps = clip.fps
    blinks = [(round(e.start * fps), round(e.end * fps)) for e in events if e.kind == "blink"]
    hit = [any(s - 1 <= be and bs <= e + 1 for bs, be in blinks) for s, e in truth]
    # a blink is true when it overlaps a stretch no earlier blink took (a split closure counts once)
    taken: set[int] = set()
    good = []
    for bs, be in blinks:
        k = next((k for k, (s, e) in enumerate(truth) if s - 1 <= be and bs <= e + 1 and k not in taken), None)
        good.append(k is not None)
        if k is not None:
            taken.add(k)
    # id switches: the person's frames (eyes open or closed, a swap in between) of one appearance
    switches, prev = 0, None
    for i, who in enumerate(clip.person):
        if who < 0:
            prev = None
        elif who == 0 and ids[i] is not None:
            switches += prev is not None and ids[i] != prev
            prev = ids[i]
    visible = clip.visible
    return {
        "stretches": len(truth),
        "found": sum(hit),
        "blinks": len(blinks),
        "true_blinks": sum(good),
        "microsleeps": sum(e.kind == "microsleep" for e in events),
        "visible": int(visible.sum()),
        "with_face": sum(ids[i] is not None for i in range(len(ids)) if visible[i]),
        "switches": switches,
        "fooled_open": fooled_open,
        "false_closed": false_closed,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=10)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--confirm-ratio", type=float, default=None, help="BlinkMonitor's confirm_ratio (EAR only)")
    ap.add_argument("--ear-only", action="store_true", help="eyes decided by the EAR alone: EyesPlugin(net=None)")
    ap.add_argument("--fool", action="store_true", help="clips with a nod, motion blur or dark, at rising strengths")
    args = ap.parse_args()
    if args.confirm_ratio is not None:
        import functools

        import faceanalytics.video.stream as stream_module

        stream_module.BlinkMonitor = functools.partial(BlinkMonitor, confirm_ratio=args.confirm_ratio)  # type: ignore[misc]
    plugins = None
    if args.ear_only:
        from faceanalytics.plugins import EyesPlugin, default_plugins

        plugins = [EyesPlugin(net=None) if getattr(p, "name", "") == "eyes" else p for p in default_plugins()]
    pipe = Pipeline(device="cpu", plugins=plugins)
    eyes = next((p for p in pipe.plugins if getattr(p, "name", "") == "eyes"), None)
    print(f"eyes decided by: {'a learned openness' if getattr(eyes, 'net', None) is not None else 'the EAR'}")
    if args.fool:
        fool(pipe, args)
        return
    total: dict[str, int] = {}
    print(
        f"{'clip':>4} {'kind':>10} {'stretches':>9} {'found':>5} {'blinks':>6} {'true':>4} {'microsl':>7} "
        f"{'visible':>7} {'w/face':>6} {'switch':>6} {'s':>5}"
    )
    for seed in range(args.clips):
        kind = KINDS[seed % len(KINDS)]
        t0 = time.perf_counter()
        clip = build_clip(args.shared, pipe, seed, frames=args.frames, scale=0.8 + 0.1 * (seed % 5), **kind)  # type: ignore[arg-type]
        r = score_clip(pipe, clip)
        name = ",".join(kind) or "plain"
        print(
            f"{seed:>4} {name:>10} {r['stretches']:>9} {r['found']:>5} {r['blinks']:>6} {r['true_blinks']:>4} "
            f"{r['microsleeps']:>7} {r['visible']:>7} {r['with_face']:>6} {r['switches']:>6} {time.perf_counter() - t0:>5.1f}"
        )
        for k, v in r.items():
            total[k] = total.get(k, 0) + v
    recall = total["found"] / max(total["stretches"], 1)
    precision = total["true_blinks"] / max(total["blinks"], 1)
    print(
        f"blink recall {recall:.3f}  precision {precision:.3f}  false microsleeps {total['microsleeps']}  "
        f"frames with the face {total['with_face']}/{total['visible']} visible  id switches {total['switches']}"
    )


def fool(pipe: Pipeline, args: argparse.Namespace) -> None:
    """One row per condition and strength: events and frame decisions over ``args.clips`` clips."""
    print(
        f"{'condition':>9} {'strength':>8} {'stretches':>9} {'found':>5} {'false blinks':>12} {'microsl':>7} "
        f"{'w/face':>11} {'closed on open':>14} {'s':>5}"
    )
    for condition, strengths in LADDERS.items():
        for strength in strengths:
            t0, total = time.perf_counter(), collections.Counter[str]()
            for seed in range(args.clips):
                change = {condition: strength}
                clip = build_clip(args.shared, pipe, seed, frames=args.frames, scale=0.8 + 0.1 * (seed % 5), **change)  # type: ignore[arg-type]
                total.update(score_clip(pipe, clip))
            print(
                f"{condition:>9} {strength:>8} {total['stretches']:>9} {total['found']:>5} "
                f"{total['blinks'] - total['true_blinks']:>12} {total['microsleeps']:>7} "
                f"{total['with_face']:>5}/{total['visible']:<5} {total['false_closed']:>6}/{total['fooled_open']:<7} "
                f"{time.perf_counter() - t0:>5.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
