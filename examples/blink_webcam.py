"""Blinks live: EAR graph overlay, blink count and rate, and a microsleep alert.

    python examples/blink_webcam.py 0                      # camera 0, in a window (q quits)
    python examples/blink_webcam.py drive.mp4 --out blinks.mp4 --no-window

Uses the largest face. The EAR threshold adapts to the person (see docs/video.md).
"""

from __future__ import annotations

import argparse
from collections import deque

import cv2
import numpy as np

from faceanalytics import Pipeline, Stream
from faceanalytics.io.video_source import open_source
from faceanalytics.plugins import EyesPlugin

GRAPH_SECONDS = 10.0


def draw_graph(frame: np.ndarray, history: deque, threshold: float, now: float) -> None:
    h, w = frame.shape[:2]
    gw, gh = min(360, w - 20), 90
    x0, y0 = 10, h - gh - 10
    cv2.rectangle(frame, (x0, y0), (x0 + gw, y0 + gh), (30, 30, 30), -1)

    def px(t: float, ear: float) -> tuple[int, int]:
        return int(x0 + gw * (1 - (now - t) / GRAPH_SECONDS)), int(y0 + gh - min(ear, 0.5) / 0.5 * gh)

    ty = px(now, threshold)[1]
    cv2.line(frame, (x0, ty), (x0 + gw, ty), (0, 140, 255), 1)
    pts = [px(t, e) for t, e in history if np.isfinite(e)]
    if len(pts) > 1:
        cv2.polylines(frame, [np.array(pts, np.int32)], False, (0, 255, 0), 1, cv2.LINE_AA)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="camera index or video file")
    ap.add_argument("--out", default=None, help="write the annotated video here (.mp4)")
    ap.add_argument("--no-window", action="store_true", help="do not open a window")
    ap.add_argument("--landmark-model", default=None)
    args = ap.parse_args()
    pipe = Pipeline(args.landmark_model, plugins=[EyesPlugin()])
    source = open_source(args.source)
    writer = None
    if args.out:
        writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(*"mp4v"), source.fps, source.size)
    history: deque = deque()
    blinks = microsleeps = 0
    alert_until = -1.0
    with Stream(pipe, max_faces=1) as stream:
        for frame, t in source:
            result = stream(frame, t)
            for event in result.events:
                blinks += event.kind == "blink"
                if event.kind == "microsleep":
                    microsleeps += 1
                    alert_until = t + 2.0
            shown = frame.copy()
            if result.faces:
                eyes = result.faces[0].eyes
                history.append((t, eyes.ear))
                while history and history[0][0] < t - GRAPH_SECONDS:
                    history.popleft()
                draw_graph(shown, history, eyes.threshold, t)
                (summary,) = [s for s in stream.summaries() if s.track_id == result.faces[0].track_id]
                text = f"blinks {blinks}  rate {summary.blinks_per_minute:.0f}/min  EAR {eyes.ear:.2f}"
                cv2.putText(shown, text, (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
            if t < alert_until:
                cv2.rectangle(shown, (0, 40), (shown.shape[1], 80), (0, 0, 200), -1)
                cv2.putText(shown, "MICROSLEEP", (10, 70), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2, cv2.LINE_AA)
            if writer is not None:
                writer.write(shown)
            if not args.no_window:
                cv2.imshow("blinks", shown)
                if cv2.waitKey(1) & 0xFF == ord("q"):
                    break
    source.close()
    if writer is not None:
        writer.release()
    print(f"{blinks} blinks, {microsleeps} microsleeps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
