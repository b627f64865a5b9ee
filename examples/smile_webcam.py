"""Smiles and open mouths live: score bars, smile and yawn events with their durations.

    python examples/smile_webcam.py 0                       # camera 0, in a window (q quits)
    python examples/smile_webcam.py talk.mp4 --out smiles.mp4 --no-window

Uses the largest face. ``smile`` and ``open_score`` come from the mouth plugin (the mouth-cue
network; docs/plugins.md, "Mouth"); a smile event is the smile score above 0.6 for 0.3 s, a yawn
the mouth wide open (MAR) for about 1.5 s (docs/video.md).
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from faceanalytics import Pipeline, Stream
from faceanalytics.io.video_source import open_source
from faceanalytics.plugins import HeadPosePlugin, MouthPlugin


def draw_bar(frame: np.ndarray, row: int, label: str, value: float, colour: tuple[int, int, int]) -> None:
    x0, y0, width = 10, 40 + 28 * row, 200
    cv2.rectangle(frame, (x0, y0), (x0 + width, y0 + 18), (40, 40, 40), -1)
    if np.isfinite(value):
        cv2.rectangle(frame, (x0, y0), (x0 + int(width * value), y0 + 18), colour, -1)
    cv2.putText(frame, f"{label} {value:.2f}", (x0 + width + 8, y0 + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="camera index or video file")
    ap.add_argument("--out", default=None, help="write the annotated video here (.mp4)")
    ap.add_argument("--no-window", action="store_true", help="do not open a window")
    ap.add_argument("--landmark-model", default=None)
    args = ap.parse_args()
    # head pose first: the mouth shape is corrected for it
    pipe = Pipeline(args.landmark_model, plugins=[HeadPosePlugin(), MouthPlugin()])
    source = open_source(args.source)
    writer = None
    if args.out:
        writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(*"mp4v"), source.fps, source.size)
    events = []
    with Stream(pipe, max_faces=1) as stream:
        for frame, t in source:
            result = stream(frame, t)
            events += [e for e in result.events if e.kind in ("smile", "yawn")]
            shown = frame.copy()
            if result.faces and result.faces[0].mouth is not None and result.faces[0].mouth.valid:
                mouth = result.faces[0].mouth
                draw_bar(shown, 0, "smile", mouth.smile, (0, 200, 255))
                draw_bar(shown, 1, "open", mouth.open_score, (255, 160, 0))
            smiles = sum(e.kind == "smile" for e in events)
            cv2.putText(shown, f"smiles {smiles}", (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
            if writer is not None:
                writer.write(shown)
            if not args.no_window:
                cv2.imshow("smiles", shown)
                if cv2.waitKey(1) & 0xFF == ord("q"):
                    break
        events += [e for e in stream.close() if e.kind in ("smile", "yawn")]  # the ones still going
    source.close()
    if writer is not None:
        writer.release()
    for e in events:
        print(f"{e.kind}: {e.start:.2f}-{e.end:.2f} s ({e.duration:.2f} s)")
    print(f"{sum(e.kind == 'smile' for e in events)} smiles, {sum(e.kind == 'yawn' for e in events)} yawns")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
