"""Clips with abrupt changes, built from real faces of ../shared, with ground truth per frame.

Shared by ``tests/test_stream_changes.py`` and ``benchmarks/blinks.py`` (issue 19). A 640x480 clip
at 30 fps: one person's open-eye frame (``data/landmarks68``) moving, zooming and rolling smoothly
over a textured background, with

- closed-eye stretches of 3-8 frames: a closed-eye face of ``data/eye_state/closed`` (another
  person, as in the clips of issue 19) put in its place, eyes on the same points;
- optionally a swap (another person's open-eye face of ``data/eye_state/open`` for some frames),
  a cover (a grey patch over the lower half of the face) and a leave (the face slides out of the
  frame and comes back);
- optionally conditions that try to fool the eye decisions on **open** eyes, each for a few
  frames: a nod (the face foreshortened vertically, as when it tilts down, so the eyes look
  narrower), motion blur (a horizontal streak, a fast head shake) and dark (the frame dimmed, with
  sensor noise: a tunnel; the first closed stretch is put inside it, so a blink in the dark must
  still count). :data:`FOOLING` holds the strengths the benchmark uses by default.

Nothing in a clip depends on the landmark model, so two landmark models are judged on the same
clips: the person's frame is aligned by its annotated eye centres and chosen open by its annotated
eye aspect ratio (:data:`OPEN_EAR`) minus a hand-checked list (:data:`NOT_OPEN`); each substitute
face is aligned by the detector's eye keypoints, so its eyes land where the person's eyes were.
``visible`` is the ground truth for "there is a face": whether the detector, and so the
single-image :class:`~faceanalytics.Pipeline`, finds the placed face in that frame, and
:meth:`Clip.placed_face` tells the person's face from detector false positives on the background
by the known position of its eyes.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from faceanalytics.core.schema import SCHEMA_68, LandmarkSchema
from faceanalytics.core.types import Face
from faceanalytics.pipeline import Pipeline
from faceanalytics.plugins.eyes import eye_aspect_ratios
from faceanalytics.train.data import LandmarkSample, read_csv

#: The grey patch of a "covered" stretch, in canonical face pixels (eyes at y = 0): from just under
#: the nose to below the chin, this wide on each side of the face's midline.
COVER_HALF_WIDTH, COVER_TOP, COVER_BOTTOM = 60.0, 45.0, 130.0

#: Default strengths of the fooling conditions (:func:`build_clip`'s ``nod``, ``blur``, ``dark``).
FOOLING: dict[str, float] = {"nod": 0.65, "blur": 15, "dark": 0.3}
#: Sensor noise of a dark frame, standard deviation in gray levels whatever the gain (so the
#: darker, the noisier relative to the face).
DARK_NOISE = 4.0

__all__ = ["Clip", "build_clip", "closed_stretches"]

W, H, FPS = 640, 480, 30.0
#: Where the two eye centres sit in the clip at scale 1 (relative to the face centre), pixels.
EYE_DIST = 70.0

#: A landmarks68 frame is an open-eye frame of the person when both eyes' annotated eye aspect
#: ratio is above this (the annotations' median is 0.27; their quartiles 0.22-0.32).
OPEN_EAR = 0.25

#: landmarks68 frames whose annotation draws the eyes open but whose eyes are nearly shut or hidden
#: (checked by eye: a montage of the frames the benchmark's seeds chose). They are never the open
#: face of a clip.
NOT_OPEN: frozenset[str] = frozenset(
    {
        "test_Martin_Sheen_31.jpg",  # eyes in dark shadow
        "train_Andrea_Bocelli_21.jpg",  # looks down, lids nearly shut
        "train_Itzhak_Perlman_32.jpg",  # looks down through glasses
        "train_Robert_Altman_21.jpg",  # laughing, eyes narrowed to slits
        "train_Rocco_Buttiglione_42.jpg",  # looks down, lids lowered
        "train_Sanjay_Gupta_10.jpg",  # looks down, lids lowered
        "train_Tim_Pawlenty_32.jpg",  # squinting while talking
    }
)


@dataclass
class Clip:
    """Frames and ground truth, one entry per frame.

    Attributes:
        frames: BGR 480x640 images.
        person: 0 the clip's person (eyes open or closed), 1 a swapped-in other person, -1 none
            placed in the frame.
        closed: the person's eyes are closed (a closed-eye face is shown).
        covered: a patch covers part of the face.
        fooled: a fooling condition (nod, blur, dark) is on in this frame.
        visible: the single-image Pipeline finds the face placed in the frame: a detection whose
            eye keypoints' midpoint is within one eye distance of the placed face's (False where
            none is placed; a detector false positive elsewhere does not count).
        eye_centre: (frames, 2) float64 pixel position of the placed face's eye midpoint (it may
            lie outside the frame).
        eye_distance: (frames,) float64 distance between the placed face's eye centres, pixels.
    """

    frames: list[np.ndarray]
    person: np.ndarray
    closed: np.ndarray
    covered: np.ndarray
    fooled: np.ndarray
    visible: np.ndarray
    eye_centre: np.ndarray
    eye_distance: np.ndarray
    fps: float = FPS

    def timestamps(self) -> np.ndarray:
        return np.arange(len(self.frames)) / self.fps

    def placed_face(self, index: int, faces: Sequence[Face]) -> Face | None:
        """Of ``faces`` reported on frame ``index``, the one on the placed face (its landmarks' eye
        midpoint within one eye distance of the true one, the nearest), or ``None``: a face
        elsewhere is a detector false positive, not the person. (One eye distance, not less: on
        the first frame of a sudden fast move a followed face's landmarks lag by up to half of it,
        and they are still that face's.)"""
        if self.person[index] < 0:
            return None
        best, best_d = None, float(self.eye_distance[index])
        for face in faces:
            mid = sum(_eye_centres(face.landmarks, face.schema)) / 2
            d = float(np.hypot(*(mid - self.eye_centre[index])))
            if d <= best_d:
                best, best_d = face, d
        return best


def closed_stretches(closed: np.ndarray) -> list[tuple[int, int]]:
    """``(first, last)`` frame of each run of True."""
    runs, start = [], None
    for i, c in enumerate([*list(closed), False]):
        if c and start is None:
            start = i
        elif not c and start is not None:
            runs.append((start, i - 1))
            start = None
    return runs


def _eye_centres(points: np.ndarray, schema: LandmarkSchema) -> tuple[np.ndarray, np.ndarray]:
    """The subject's right (image left) and left eye centres of (K, 2) landmarks, float64."""
    p = np.asarray(points, np.float64)
    return p[list(schema.right_eye)].mean(axis=0), p[list(schema.left_eye)].mean(axis=0)


def _detector_eyes(pipe: Pipeline, img: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The largest detection's eye keypoints (the subject's right eye, image left, then the left eye),
    or ``None`` (no face)."""
    dets = pipe.detect(img)
    if not dets:
        return None
    kp = dets[0].keypoints.astype(np.float64)
    return kp[0], kp[1]


@functools.lru_cache(maxsize=4)
def _annotations(shared: Path) -> dict[str, LandmarkSample]:
    """landmarks68's annotations by file name, read once per folder (every clip asks)."""
    return {s.path.name: s for s in read_csv(shared / "data/landmarks68/annotations.csv")}


def _identity_frames(pipe: Pipeline, shared: Path, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One open-eye frame (and its canonical matrix) of a landmarks68 identity with big frames:
    annotated eye aspect ratio above :data:`OPEN_EAR` on both eyes, not in :data:`NOT_OPEN`, and
    a face the detector finds."""
    files = sorted((shared / "data/landmarks68/images").glob("*.jpg"))
    notes = _annotations(shared)
    for k in rng.permutation(len(files)):
        sample = notes.get(files[k].name)
        if sample is None or files[k].name in NOT_OPEN or sample.points.shape[0] != SCHEMA_68.num_points:
            continue
        left, right = eye_aspect_ratios(sample.points[None].astype(np.float64), SCHEMA_68)
        if min(float(left[0]), float(right[0])) <= OPEN_EAR:
            continue
        img = cv2.imread(str(files[k]))
        if img is None or min(img.shape[:2]) < 150:
            continue
        img = cv2.resize(img, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_LINEAR)
        if not pipe.detect(img):
            continue
        pts = (sample.points.astype(np.float64) + 0.5) * 1.5 - 0.5  # pixel centres on integers, scaled
        return img, _canonical(*_eye_centres(pts, SCHEMA_68))
    raise RuntimeError("no open-eye face found")


def _sources(pipe: Pipeline, shared: Path, rng: np.random.Generator, folder: str, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` (image, 2x3 matrix to a canonical face: eyes at (+-EYE_DIST/2, 0)) from a folder."""
    files = sorted((shared / folder).glob("*.jpg"))
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for k in rng.permutation(len(files)):
        img = cv2.imread(str(files[k]))
        if img is None or min(img.shape[:2]) < 90:
            continue
        img = cv2.resize(img, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_LINEAR)  # BlazeFace likes margins
        eyes = _detector_eyes(pipe, img)
        if eyes is None:
            continue
        out.append((img, _canonical(*eyes)))
        if len(out) == n:
            break
    return out


def _canonical(right: np.ndarray, left: np.ndarray) -> np.ndarray:
    """Similarity taking the image's right eye (image left) to (-d/2, 0) and left eye to (d/2, 0)."""
    v = left - right
    s = EYE_DIST / max(float(np.hypot(*v)), 1e-6)
    a = -np.arctan2(v[1], v[0])
    c, si = s * np.cos(a), s * np.sin(a)
    rot = np.array([[c, -si], [si, c]])
    centre = (left + right) / 2
    return np.hstack([rot, (-rot @ centre)[:, None]])


def _background(rng: np.random.Generator) -> np.ndarray:
    small = rng.integers(40, 200, (6, 8, 3)).astype(np.uint8)
    bg = cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC)
    noise = rng.normal(0, 6, (H, W, 3))
    return np.clip(bg + noise, 0, 255).astype(np.uint8)


def _paste(canvas: np.ndarray, img: np.ndarray, m: np.ndarray) -> None:
    warped = cv2.warpAffine(img, m, (W, H), flags=cv2.INTER_LINEAR)
    full = np.full(img.shape[:2], 255, np.uint8)
    cover = cv2.GaussianBlur(cv2.warpAffine(full, m, (W, H), flags=cv2.INTER_LINEAR), (9, 9), 0)
    alpha = cover.astype(np.float32)[..., None] / 255.0
    canvas[:] = (canvas * (1 - alpha) + warped * alpha).astype(np.uint8)


def build_clip(
    shared: Path,
    pipe: Pipeline,
    seed: int,
    *,
    frames: int = 150,
    blinks: int = 2,
    swap: bool = False,
    cover: bool = False,
    leave: bool = False,
    closed_at: int | None = None,
    scale: float = 1.0,
    nod: float = 1.0,
    blur: int = 0,
    dark: float = 1.0,
) -> Clip:
    """A clip (module docstring). ``blinks`` closed-eye stretches of 3-8 frames at random, at
    least 20 frames apart; ``closed_at``: the first one starts at this frame. ``scale``: face size
    (eye distance ``EYE_DIST * scale`` px on average). Fooling conditions (off at their
    defaults): ``nod``, the face's height at the deepest of an 8-frame nod relative to its own
    (0.65: eyes about a third narrower); ``blur``, the length in pixels of a 6-frame horizontal
    motion-blur streak (both as long as a blink, on open eyes); ``dark``, the brightness gain of 40
    frames (with :data:`DARK_NOISE`), the first closed stretch inside them."""
    rng = np.random.default_rng(seed)
    person, person_m = _identity_frames(pipe, shared, rng)
    closed_srcs = _sources(pipe, shared, rng, "data/eye_state/closed", 3)
    other = _sources(pipe, shared, rng, "data/eye_state/open", 1) if swap else []
    bg = _background(rng)

    who = np.zeros(frames, int)
    closed = np.zeros(frames, bool)
    covered = np.zeros(frames, bool)
    busy = np.zeros(frames, bool)  # frames already given to a change (with a margin)

    def reserve(length: int, first: int | None = None) -> int:
        for _ in range(1000):
            s = int(first if first is not None else rng.integers(10, frames - length - 10))
            if first is not None or not busy[max(0, s - 8) : s + length + 8].any():
                busy[max(0, s - 8) : s + length + 8] = True
                return s
        raise RuntimeError("clip too short for its changes")

    shift = np.zeros(frames)
    if leave:
        s, out_len = reserve(40), 15
        ramp = np.concatenate([np.linspace(0, 1, 10), np.ones(out_len), np.linspace(1, 0, 10)])
        shift[s : s + len(ramp)] = ramp * (W * 0.5 + 250)
    if swap:
        s = reserve(8)
        who[s : s + 8] = 1
    if cover:
        s = reserve(8)
        covered[s : s + 8] = True
    squash = np.ones(frames)  # the face's height, relative
    if nod < 1:
        s = reserve(8)
        squash[s : s + 8] = 1 - (1 - nod) * np.sin(np.linspace(0, np.pi, 10)[1:-1])
    streak = np.zeros(frames, int)
    if blur > 1:
        s = reserve(6)
        streak[s : s + 6] = int(blur)
    gain = np.ones(frames)
    if dark < 1:
        s = reserve(40)
        gain[s : s + 40] = 1 - (1 - dark) * np.clip(np.minimum(np.arange(1, 41), np.arange(40, 0, -1)) / 5, 0, 1)
        closed_at = s + 12  # the first blink in the dark
    which = np.zeros(frames, int)  # the closed-eye face of each stretch
    for b in range(blinks):
        length = int(rng.integers(3, 9))
        s = reserve(length, closed_at if b == 0 and closed_at is not None else None)
        closed[s : s + length] = True
        which[s : s + length] = b % len(closed_srcs)

    phase = rng.uniform(0, 2 * np.pi, 4)
    out: list[np.ndarray] = []
    centres = np.zeros((frames, 2))
    distances = np.zeros(frames)
    for i in range(frames):
        angle = 12 * np.sin(i / 15 + phase[0])
        zoom = scale * (1.0 + 0.2 * np.sin(i / 20 + phase[1]))
        cx = W / 2 + 90 * np.sin(i / 25 + phase[2]) + shift[i]
        cy = H / 2 + 30 * np.cos(i / 18 + phase[3])
        a = np.deg2rad(angle)
        rot = zoom * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        motion = np.hstack([rot @ np.diag([1.0, squash[i]]), [[cx], [cy]]])  # a nod: eyes stay on y = 0
        centres[i], distances[i] = (cx, cy), EYE_DIST * zoom  # canonical eyes: (+-EYE_DIST/2, 0)
        if who[i] == 1:
            img, m = other[0]
        elif closed[i]:
            img, m = closed_srcs[which[i]]
        else:
            img, m = person, person_m
        full = motion @ np.vstack([m, [0, 0, 1]])
        canvas = bg.copy()
        _paste(canvas, img, full)
        if covered[i]:
            # a grey patch over the lower face: from just under the nose to below the chin
            half, top, bottom = COVER_HALF_WIDTH, COVER_TOP, COVER_BOTTOM
            corners = np.array([[-half, top], [half, top], [half, bottom], [-half, bottom]], np.float64)
            pts = (corners @ rot.T + [cx, cy]).astype(np.int32)
            cv2.fillConvexPoly(canvas, pts, (128, 128, 128))
        if streak[i]:
            kernel = np.full((1, streak[i]), 1.0 / streak[i], np.float32)
            canvas = cv2.filter2D(canvas, -1, kernel, borderType=cv2.BORDER_REPLICATE)
        if gain[i] < 1:
            noise = rng.normal(0, DARK_NOISE, canvas.shape)
            canvas = np.clip(canvas * gain[i] + noise, 0, 255).astype(np.uint8)
        out.append(canvas)
    placed = np.abs(shift) < W * 0.5 + 100

    def found(i: int) -> bool:
        # the detector's eye keypoints, not its box: a source photo may hold a second, larger face
        # whose box covers the placed one
        if not placed[i]:
            return False
        mids = [d.keypoints[:2].astype(np.float64).mean(axis=0) for d in pipe.detect(out[i]) if len(d.keypoints) >= 2]
        return any(float(np.hypot(*(m - centres[i]))) <= distances[i] for m in mids)

    visible = np.array([found(i) for i in range(frames)])
    fooled = (squash < 1) | (streak > 0) | (gain < 1)
    return Clip(out, np.where(placed, who, -1), closed & placed, covered, fooled, visible, centres, distances)
