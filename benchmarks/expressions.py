"""FER-2013 expression faces (../shared/data/expressions): a seeded split and their mouth features.

Half of each class calibrates (``calibrate_mouth.py``), the other half is held out
(``plugins_quality.py``). The 48x48 faces are upscaled 4x and padded by 30 % (they are tight
crops, which BlazeFace often misses); where the detector still finds nothing, the face's own
square is used as the box.
"""

from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np

from faceanalytics import Pipeline
from faceanalytics.plugins import HeadPosePlugin, MouthPlugin

CLASSES = ("happy", "neutral", "surprise", "sad", "angry")
UPSCALE = 4
PAD = 0.3


def split(root: Path, seed: int = 0) -> dict[str, dict[str, list[Path]]]:
    """``{"calibration": {class: files}, "held_out": {class: files}}``."""
    out: dict[str, dict[str, list[Path]]] = {"calibration": {}, "held_out": {}}
    for cls in CLASSES:
        files = sorted((root / cls).glob("*.jpg"))
        random.Random(f"{seed}-{cls}").shuffle(files)
        half = len(files) // 2
        out["calibration"][cls], out["held_out"][cls] = files[:half], files[half:]
    return out


def load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The upscaled, padded face and its fallback box."""
    gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    big = cv2.resize(gray, None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_CUBIC)
    p = round(PAD * big.shape[0])
    image = cv2.copyMakeBorder(cv2.cvtColor(big, cv2.COLOR_GRAY2BGR), p, p, p, p, cv2.BORDER_CONSTANT, value=0)
    return image, np.array([p, p, p + big.shape[1], p + big.shape[0]], np.float32)


def mouth_results(pipe: Pipeline, files: list[Path]) -> list:
    """The Mouth result (pose-corrected) of each file's largest face."""
    out = []
    for f in files:
        image, box = load(f)
        res = pipe(image)
        if not res.faces:
            res = pipe(image, boxes=[box])
        out.append(res.faces[0])
    return out


def mouth_pipeline(landmark_model: str | None = None, **mouth_kwargs) -> Pipeline:
    return Pipeline(landmark_model, device="cpu", plugins=[HeadPosePlugin(), MouthPlugin(**mouth_kwargs)])
