"""The FER-2013 split (``faceanalytics.train.expressions``) and the mouth results of its faces."""

from __future__ import annotations

from pathlib import Path

from faceanalytics import Pipeline
from faceanalytics.plugins import HeadPosePlugin, MouthPlugin
from faceanalytics.train.expressions import CLASSES, load, split

__all__ = ["CLASSES", "load", "mouth_pipeline", "mouth_results", "split"]


def mouth_results(pipe: Pipeline, files: list[Path]) -> list:
    """The largest face of each file (its own square when nothing is detected)."""
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
