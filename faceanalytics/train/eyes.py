"""Closed-eye training data and the eye aspect ratio.

Landmark sets are almost all open-eyed, so a model trained on them keeps the eyelids open on
closed eyes. Our fix (see ``models/README.md``): a teacher (the model after the first training
stage) labels the faces of ``eye_state/closed`` and a matching number of open-eyed faces; on the
closed ones the eyelid points are collapsed onto the line between the eye corners, and both sets
join the second stage with eye-weighted loss. A seeded part of ``eye_state`` is held out for the
EAR evaluation only.

``eye_state`` faces are tight crops, which face detectors often miss; they are padded with a black
border of 30 % of their size first (:func:`pad_face_crop`), in training and in evaluation alike.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from faceanalytics.core.schema import SCHEMA_68, LandmarkSchema
from faceanalytics.plugins.eyes import eye_aspect_ratios
from faceanalytics.train.data import IMAGE_SUFFIXES

__all__ = ["EyeStateSplit", "collapse_eyelids", "eye_aspect_ratio", "pad_face_crop", "split_eye_state"]

PAD_FRACTION = 0.3


@dataclass(frozen=True)
class EyeStateSplit:
    """Image files of ``eye_state`` for training (pseudo-labels) and held out for evaluation."""

    closed_train: list[Path]
    closed_eval: list[Path]
    open_train: list[Path]
    open_eval: list[Path]
    #: further open faces, after ``open_train`` (``--pseudo-faces``: labelled on all points)
    open_extra: list[Path] = field(default_factory=list)


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def split_eye_state(
    root: str | Path,
    seed: int = 0,
    eval_fraction: float = 0.3,
    open_eval: int = 600,
    open_train: int = 600,
    open_extra: int = 0,
) -> EyeStateSplit:
    """Seeded split of ``root/closed`` and ``root/open``.

    ``eval_fraction`` of the closed faces and ``open_eval`` open faces are held out; the remaining
    closed faces and ``open_train`` further open faces are for training, then ``open_extra`` more
    (never the held-out ones). The same arguments always give the same split, so training and
    evaluation agree on it.
    """
    root = Path(root)
    closed, opened = _images(root / "closed"), _images(root / "open")
    rng = random.Random(seed)
    rng.shuffle(closed)
    rng.shuffle(opened)
    n_eval = round(len(closed) * eval_fraction)
    first = open_eval + open_train
    return EyeStateSplit(
        closed[n_eval:], closed[:n_eval], opened[open_eval:first], opened[:open_eval], opened[first : first + open_extra]
    )


def pad_face_crop(image: np.ndarray, fraction: float = PAD_FRACTION) -> np.ndarray:
    """A tight face crop with a black border of ``fraction`` of its larger side on every edge."""
    p = round(fraction * max(image.shape[:2]))
    return cv2.copyMakeBorder(image, p, p, p, p, cv2.BORDER_CONSTANT, value=0)


def _eye_pairs(schema: LandmarkSchema) -> list[tuple[int, int, int, int]]:
    """(outer corner, inner corner, upper lid, lower lid) index pairs of both eyes, iBUG contour order."""
    pairs = []
    for eye in (schema.right_eye, schema.left_eye):
        c0, u1, u2, c3, l4, l5 = eye
        pairs += [(c0, c3, u1, l5), (c0, c3, u2, l4)]
    return pairs


def collapse_eyelids(points: np.ndarray, schema: LandmarkSchema = SCHEMA_68) -> np.ndarray:
    """Close the eyes of a (K, 2) landmark set: each upper/lower eyelid pair (37/41, 38/40, 43/47,
    44/46) moves to the projection of its midpoint onto the corner-to-corner line."""
    out = np.array(points, np.float32, copy=True)
    for a, b, up, lo in _eye_pairs(schema):
        p0, p1 = out[a], out[b]
        d = p1 - p0
        mid = (out[up] + out[lo]) / 2
        t = float(np.dot(mid - p0, d) / max(float(np.dot(d, d)), 1e-9))
        out[up] = out[lo] = p0 + np.clip(t, 0.0, 1.0) * d
    return out


def eye_aspect_ratio(points: np.ndarray, schema: LandmarkSchema = SCHEMA_68) -> np.ndarray:
    """Mean eye aspect ratio of both eyes (:func:`faceanalytics.plugins.eyes.eye_aspect_ratios`).

    Args:
        points: (K, 2) or (N, K, 2) landmarks.

    Returns:
        Scalar array or (N,): low for closed eyes; with the shipped landmarks medians of about 0.22
        open and 0.095 closed (docs/plugins.md).
    """
    left, right = eye_aspect_ratios(points, schema)
    return (left + right) / 2
