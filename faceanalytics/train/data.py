"""Annotation readers: the landmarks68 CSV and iBUG 300-W ``.pts`` folders, and the identity split."""

from __future__ import annotations

import csv
import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import cv2
import numpy as np

from faceanalytics.core.errors import AnnotationError, AnnotationNotFoundError
from faceanalytics.core.image import load_image

__all__ = [
    "IMAGE_SUFFIXES",
    "LandmarkSample",
    "load_gray",
    "read_coco_keypoints",
    "read_csv",
    "read_pts",
    "read_pts_folder",
    "split_by_identity",
    "unlabeled_identity",
]

logger = logging.getLogger("faceanalytics.train")

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True)
class LandmarkSample:
    """One annotated face.

    Attributes:
        path: image file.
        identity: person (or video) the frame belongs to; the validation split never shares one with training.
        points: (K, 2) float32 landmark pixel coordinates (pixel centres on integers), iBUG order.
    """

    path: Path
    identity: str
    points: np.ndarray


def read_csv(csv_path: str | Path, image_dir: str | Path | None = None) -> list[LandmarkSample]:
    """Read ``file, identity, x0, y0, ..., xK-1, yK-1`` rows.

    Args:
        csv_path: the annotation file (e.g. ``landmarks68/annotations.csv``).
        image_dir: folder of the images; default ``images/`` next to the CSV.

    Raises:
        AnnotationNotFoundError: the file is missing or unreadable (a ``FileNotFoundError``).
        AnnotationError: a missing header, or a row without a file name, with an odd number of
            coordinates, with values that are not finite numbers, or with another point count
            than the rows before it (a ``ValueError``).
    """
    csv_path = Path(csv_path)
    image_dir = Path(image_dir) if image_dir is not None else csv_path.parent / "images"
    samples: list[LandmarkSample] = []
    num_points: int | None = None
    with _open_text(csv_path) as f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
            if not header or header[:2] != ["file", "identity"]:
                raise AnnotationError(f"{csv_path}: expected a header starting with 'file,identity', got {header}")
            for line, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) < 2 or not row[0]:
                    raise AnnotationError(f"{csv_path}:{line}: a row needs a file name and an identity, got {row[:2]}")
                coords = row[2:]
                if len(coords) % 2:
                    raise AnnotationError(f"{csv_path}:{line}: odd number of coordinates ({len(coords)})")
                pts = _numbers(coords, f"{csv_path}:{line}").reshape(-1, 2)
                if num_points is not None and len(pts) != num_points:
                    raise AnnotationError(f"{csv_path}:{line}: {len(pts)} points, but the rows before have {num_points}")
                num_points = len(pts)
                samples.append(LandmarkSample(image_dir / row[0], row[1], pts))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise AnnotationError(f"{csv_path}: not a readable CSV text file: {exc}") from None
    logger.info("read %d samples from %s", len(samples), csv_path)
    return samples


def read_coco_keypoints(json_path: str | Path, image_dir: str | Path | None = None, offset: float = 0.0) -> list[LandmarkSample]:
    """Read a COCO-style keypoint JSON (as mmpose ships 300-W, 300-VW, WFLW, COFW, ...).

    Args:
        json_path: file with ``images`` (``id``, ``file_name``) and ``annotations`` (``image_id``,
            ``keypoints`` as ``x, y, visibility`` triples).
        image_dir: folder the ``file_name`` s are relative to; default the JSON's folder.
        offset: added to every coordinate; mmpose keeps the source's values, so use ``-1.0`` for
            the 1-based 300-W / 300-VW files to get faceanalytics' 0-based pixel centres.

    The identity is the image's folder for files in subfolders (300-VW videos), else the file stem.
    """
    json_path = Path(json_path)
    image_dir = Path(image_dir) if image_dir is not None else json_path.parent
    with _open_text(json_path) as f:
        try:
            doc = json.load(f)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise AnnotationError(f"{json_path}: not a JSON text file: {exc}") from None
    try:
        files = {im["id"]: str(im["file_name"]) for im in doc["images"]}
        anns = list(doc["annotations"])
    except (KeyError, TypeError, ValueError) as exc:
        raise AnnotationError(f"{json_path}: expected 'images' with 'id' and 'file_name', and 'annotations': {exc!r}") from None
    samples = []
    for i, ann in enumerate(anns):
        where = f"{json_path}: annotation {i}"
        try:
            name = files[ann["image_id"]]
            keypoints = ann["keypoints"]
        except (KeyError, TypeError) as exc:
            raise AnnotationError(f"{where}: needs an 'image_id' listed in 'images' and 'keypoints': {exc!r}") from None
        if not isinstance(keypoints, list) or len(keypoints) % 3:
            raise AnnotationError(f"{where}: 'keypoints' must be a list of x, y, visibility triples")
        pts = _numbers(keypoints, where).reshape(-1, 3)[:, :2] + np.float32(offset)
        parts = Path(name).parts
        identity = parts[0] if len(parts) > 1 else Path(name).stem
        samples.append(LandmarkSample(image_dir / name, identity, pts))
    return samples


def read_pts(path: str | Path) -> np.ndarray:
    """Read one iBUG ``.pts`` file (``version: 1``, ``n_points: K``, ``{``, K lines ``x y``, ``}``).

    The 300-W files use 1-based pixel coordinates (the top-left pixel centre is ``1, 1``); they are
    returned 0-based (pixel centres on integers), as everywhere in faceanalytics.

    Raises:
        AnnotationNotFoundError: the file is missing or unreadable (a ``FileNotFoundError``).
        AnnotationError: a malformed file (a ``ValueError``).
    """
    path = Path(path)
    with _open_text(path) as f:
        try:
            lines = [ln.strip() for ln in f.read().splitlines() if ln.strip()]
        except UnicodeDecodeError as exc:
            raise AnnotationError(f"{path}: not a text file: {exc}") from None
    n = None
    for ln in lines:
        if ln.lower().startswith("n_points"):
            try:
                n = int(ln.split(":", 1)[1])
            except (IndexError, ValueError):
                raise AnnotationError(f"{path}: malformed line {ln[:80]!r}; expected 'n_points: K'") from None
    try:
        start, end = lines.index("{"), lines.index("}")
    except ValueError:
        raise AnnotationError(f"{path}: no '{{ ... }}' point block") from None
    if end < start:
        raise AnnotationError(f"{path}: '}}' comes before '{{'")
    rows = [ln.split() for ln in lines[start + 1 : end]]
    for ln, row in zip(lines[start + 1 : end], rows, strict=True):
        if len(row) < 2:
            raise AnnotationError(f"{path}: point line {ln[:80]!r} needs 'x y'")
    pts = _numbers([v for row in rows for v in row[:2]], str(path)).reshape(-1, 2)
    if n is not None and len(pts) != n:
        raise AnnotationError(f"{path}: n_points is {n} but {len(pts)} points are listed")
    return pts - 1.0


def _image_for(pts_path: Path) -> Path | None:
    """The image of an annotation: same stem next to it, or in a sibling ``imgs``/``images`` folder (300-VW)."""
    folders = [pts_path.parent, pts_path.parent.parent / "imgs", pts_path.parent.parent / "images"]
    for folder in folders:
        for suffix in IMAGE_SUFFIXES:
            cand = folder / (pts_path.stem + suffix)
            if cand.exists():
                return cand
    return None


def read_pts_folder(root: str | Path, num_points: int = 68) -> list[LandmarkSample]:
    """All ``.pts`` annotations under ``root`` (recursive) that have an image and ``num_points`` points.

    Works for 300-W (``image.png`` + ``image.pts`` side by side), 300-VW (``video/annot/*.pts`` with
    ``video/imgs/*.jpg``) and WFLW-68 / own data converted to ``.pts``. The identity is the video
    folder for 300-VW layouts and the file stem otherwise (each still image its own identity).
    """
    root = Path(root)
    samples: list[LandmarkSample] = []
    for pts_path in sorted(root.rglob("*.pts")):
        image = _image_for(pts_path)
        if image is None:
            logger.warning("no image for %s; skipped", pts_path)
            continue
        pts = read_pts(pts_path)
        if len(pts) != num_points:
            logger.warning("%s has %d points, not %d; skipped", pts_path, len(pts), num_points)
            continue
        identity = pts_path.parent.parent.name if pts_path.parent.name == "annot" else pts_path.stem
        samples.append(LandmarkSample(image, identity, pts))
    logger.info("read %d .pts samples under %s", len(samples), root)
    return samples


def split_by_identity(
    samples: Sequence[LandmarkSample], val_fraction: float = 0.15, seed: int = 0
) -> tuple[list[LandmarkSample], list[LandmarkSample]]:
    """Split into (train, val) so that no identity is in both; ``val_fraction`` of the identities go to val."""
    identities = sorted({s.identity for s in samples})
    rng = random.Random(seed)
    rng.shuffle(identities)
    n_val = round(len(identities) * val_fraction)
    val_ids = set(identities[:n_val])
    train = [s for s in samples if s.identity not in val_ids]
    val = [s for s in samples if s.identity in val_ids]
    return train, val


def landmark_model_digest(landmark_model: str | None) -> str:
    """sha256 of the file that ``Pipeline(landmark_model)`` loads (a registered name, a path, or
    ``None`` for the default model). Caches of landmarked faces are keyed by it, so a rebuilt model
    never reuses the landmarks of the file it replaced."""
    from faceanalytics.runtime.hub import landmark_model_path, sha256_file
    from faceanalytics.runtime.registry import DEFAULT_LANDMARK_MODEL, LANDMARK_MODELS

    name = landmark_model or DEFAULT_LANDMARK_MODEL
    return sha256_file(landmark_model_path(name)[0] if name in LANDMARK_MODELS else Path(name))


def load_gray(path: str | Path) -> np.ndarray:
    """An image file as HxW uint8 gray (BT.601, as :func:`faceanalytics.geometry.crop.to_gray`).

    Raises:
        ImageNotFoundError: no such file (a ``FileNotFoundError``).
        ImageDecodeError: the file cannot be read or decoded (an ``OSError``).
    """
    return cv2.cvtColor(load_image(Path(path)), cv2.COLOR_BGR2GRAY)


def _open_text(path: Path) -> IO[str]:
    """``path`` opened for reading text (strict UTF-8, a BOM skipped, newlines kept for the csv module)."""
    try:
        return path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise AnnotationNotFoundError(f"cannot read annotation file {path}: {exc.strerror or exc}") from None


def _numbers(values: Sequence[object], where: str) -> np.ndarray:
    """A flat, non-empty list of numbers as a float32 array of finite values."""
    try:
        arr = np.asarray(values, np.float64)
    except (TypeError, ValueError, OverflowError):
        raise AnnotationError(f"{where}: coordinates must be numbers") from None
    if arr.ndim != 1 or arr.size == 0:
        raise AnnotationError(f"{where}: expected a flat, non-empty list of coordinates")
    with np.errstate(over="ignore"):
        out = arr.astype(np.float32)
    if not np.isfinite(out).all():
        raise AnnotationError(f"{where}: coordinates must be finite numbers (no NaN, inf or values beyond float32)")
    return out


def unlabeled_identity(path: str | Path) -> str:
    """The identity of an unlabeled frame from its name: ``Abdullah_Gul_10.jpg`` -> ``Abdullah_Gul``."""
    stem = Path(path).stem
    head, _, tail = stem.rpartition("_")
    return head if head and tail.isdigit() else stem
