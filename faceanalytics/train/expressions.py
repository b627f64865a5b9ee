"""FER-2013 expression faces (../shared/data/expressions): a seeded split and how a face is loaded.

Half of each class trains or calibrates the mouth cues (``python -m faceanalytics.train.mouth``,
``benchmarks/calibrate_mouth.py``), the other half is held out (``benchmarks/plugins_quality.py``).
FER-2013 has no identities, so the split is by image. The 48x48 faces are upscaled 4x and padded
by 30 % (they are tight crops, which BlazeFace often misses); where the detector still finds
nothing, the face's own square is used as the box.
"""

from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np

__all__ = ["CLASSES", "load", "split"]

CLASSES = ("happy", "neutral", "surprise", "sad", "angry")
UPSCALE = 4
PAD = 0.3


def split(root: Path, seed: int = 0) -> dict[str, dict[str, list[Path]]]:
    """``{"calibration": {class: files}, "held_out": {class: files}}``, half of each class each."""
    out: dict[str, dict[str, list[Path]]] = {"calibration": {}, "held_out": {}}
    for cls in CLASSES:
        files = sorted((root / cls).glob("*.jpg"))
        random.Random(f"{seed}-{cls}").shuffle(files)
        half = len(files) // 2
        out["calibration"][cls], out["held_out"][cls] = files[:half], files[half:]
    return out


def load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The upscaled, padded BGR face and its fallback box ``(x0, y0, x1, y1)``."""
    gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise OSError(f"cannot read {path}")
    big = cv2.resize(gray, None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_CUBIC)
    p = round(PAD * big.shape[0])
    image = cv2.copyMakeBorder(cv2.cvtColor(big, cv2.COLOR_GRAY2BGR), p, p, p, p, cv2.BORDER_CONSTANT, value=0)
    return image, np.array([p, p, p + big.shape[1], p + big.shape[0]], np.float32)
