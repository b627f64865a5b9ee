"""A long Stream run: memory after warm-up, track ids, events closed at the end.

    python benchmarks/long_run.py [--frames 20000] [--every 1000] [--detect-every 10]

A synthetic 320x240 video at 30 fps, built from real faces of ../shared/data/eye_state: in every
10-second cycle one face crosses the frame (with two blinks: closed-eye crops swapped in), leaves,
two other faces arrive side by side, and leave; each cycle uses other people. The last frames hold
closed eyes, so the stream ends in the middle of a closure. Reported every ``--every`` frames:
resident memory (RSS), Python objects tracked by the garbage collector, tracks alive, tracks
started so far; at the end: appearances vs tracks started, events, the events ``close()``
returned still open, and memory growth after warm-up. The scene is
``faceanalytics.train.long_run``; tests/test_long_run.py runs it shorter.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from faceanalytics.train.long_run import appearances, run

SHARED = Path(os.environ.get("FACEANALYTICS_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20_000)
    ap.add_argument("--every", type=int, default=1000)
    ap.add_argument("--detect-every", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2000, help="frames before memory counts as warm")
    args = ap.parse_args()
    print(f"{'frame':>7} {'RSS MB':>8} {'objects':>9} {'alive':>6} {'started':>8}")
    row = "{:>7} {:>8.1f} {:>9} {:>6} {:>8}"
    eye_state = SHARED / "data" / "eye_state"
    rep = run(args.frames, eye_state, args.every, args.detect_every, log=lambda *s: print(row.format(*s)))
    rss, objects = rep.growth_after(args.warmup)
    print(f"frames: {rep.frames} in {rep.seconds:.0f} s ({rep.frames / rep.seconds:.0f} frames/s)")
    print(f"faces that arrived: {appearances(rep.frames)}; tracks started: {rep.tracks}")
    print(f"tracks alive late in a gap (should be 0), summed over all gaps: {rep.leftover_after_gaps}")
    print(f"most tracks beyond the faces present on any frame: {rep.max_alive_over_present}")
    print(f"events: {rep.events}; returned open by close(): {rep.open_at_end} (marked complete: {rep.open_at_end_complete})")
    print(f"tracks active after close(): {rep.active_after_close}")
    print(f"after frame {args.warmup}: RSS grew {rss:+.1f} MB, GC-tracked objects {objects:+d}")


if __name__ == "__main__":
    main()
