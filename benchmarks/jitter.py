"""Landmark jitter and lag in stream mode, with and without smoothing.

    python benchmarks/jitter.py [--frames 240] [--noise 4]

A clip is made by moving, rotating and zooming a real face (scikit-image's astronaut) along a
smooth known path, with camera-like pixel noise on every frame, so the true landmark path is the
reference landmarks carried along that path. Reported, over the frames after the first second:

* jitter: the residual is the landmarks mapped back into the reference image by the known motion
  (zero for a perfect, perfectly steady landmarker). Jitter is the standard deviation of the white
  noise in it, estimated from its second differences (RMS of the second difference over sqrt(6)),
  so that slow errors hardly count: a bias that follows the pose, and the lag error of a smoothed
  track, which changes smoothly with the face's speed. In % of the outer eye-corner distance. The
  first-difference estimate (RMS of the frame-to-frame change over sqrt(2)) is printed as well;
  when the face moves fast it also counts the change of the lag error;
* lag: the delay (frames, sub-frame) that best aligns the landmark centroid's path with the truth.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from faceanalytics import Pipeline, Stream


def path(i: int, fps: float) -> np.ndarray:
    """2x3 matrix of frame i: slow sway, nod-like rotation and zoom (about 0.5 face widths/s)."""
    t = i / fps
    angle = 8 * np.sin(2 * np.pi * t / 4.0)
    scale = 1.0 + 0.12 * np.sin(2 * np.pi * t / 5.0)
    m = cv2.getRotationMatrix2D((225.0, 130.0), angle, scale)
    m[:, 2] += [70 * np.sin(2 * np.pi * t / 3.0), 25 * np.sin(2 * np.pi * t / 3.7) - 20]
    return m


def clip(image: np.ndarray, frames: int, fps: float, noise: float, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(frames):
        m = path(i, fps)
        frame = cv2.warpAffine(image, m, (640, 480)).astype(np.float32)
        frame += rng.normal(0, noise, frame.shape)
        out.append((np.clip(frame, 0, 255).astype(np.uint8), m))
    return out


def measure(
    pipe: Pipeline, frames: list[tuple[np.ndarray, np.ndarray]], ref: np.ndarray, fps: float, **stream_options
) -> tuple[float, float, float]:
    stream = Stream(pipe, **stream_options)
    back, cents, truth_c = [], [], []
    for i, (frame, m) in enumerate(frames):
        res = stream(frame, i / fps)
        if not res.faces:
            continue
        lm = res.faces[0].landmarks.astype(np.float64)
        inv = cv2.invertAffineTransform(m)
        back.append(lm @ inv[:, :2].T + inv[:, 2])
        cents.append(lm.mean(axis=0))
        truth_c.append((ref @ m[:, :2].T + m[:, 2]).mean(axis=0))
    skip = int(fps)
    q = np.stack(back)[skip:]
    iod = float(np.linalg.norm(ref[45] - ref[36]))
    jitter = float(np.sqrt((np.diff(q, n=2, axis=0) ** 2).sum(axis=2).mean() / 6)) / iod * 100
    step = float(np.sqrt((np.diff(q, axis=0) ** 2).sum(axis=2).mean() / 2)) / iod * 100
    c, tc = np.stack(cents)[skip:], np.stack(truth_c)[skip:]
    idx = np.arange(len(tc), dtype=np.float64)
    best = (np.inf, 0.0)
    for lag in np.arange(0.0, 6.0, 0.05):
        shifted = np.stack([np.interp(idx - lag, idx, tc[:, k]) for k in range(2)], axis=1)
        err = float(((c[10:] - shifted[10:]) ** 2).sum(axis=1).mean())
        best = min(best, (err, float(lag)))
    return jitter, best[1], step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=240)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--noise", type=float, default=4.0, help="pixel noise standard deviation (0-255 scale)")
    ap.add_argument("--landmark-model", default=None)
    args = ap.parse_args()
    import skimage.data

    image = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    pipe = Pipeline(args.landmark_model, device="cpu")
    ref = pipe(image).faces[0].landmarks.astype(np.float64)
    frames = clip(image, args.frames, args.fps, args.noise)
    raw = measure(pipe, frames, ref, args.fps, smoothing=False)
    smooth = measure(pipe, frames, ref, args.fps, smoothing=True)
    print(f"{'':12} {'jitter % IOD':>13} {'lag (frames)':>13} {'1st-diff % IOD':>15}")
    print(f"{'raw':12} {raw[0]:>13.3f} {raw[1]:>13.2f} {raw[2]:>15.3f}")
    print(f"{'smoothed':12} {smooth[0]:>13.3f} {smooth[1]:>13.2f} {smooth[2]:>15.3f}")
    print(f"jitter cut by {100 * (1 - smooth[0] / raw[0]):.0f} %, lag added {smooth[1] - raw[1]:.2f} frames at {args.fps:g} fps")


if __name__ == "__main__":
    main()
