"""The shipped landmark model variants: every registered file loads and checks out, and the
quantised ones stay within 0.2 NME points of the float model on held-out faces."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import shared_path

from faceanalytics import FPENetRunner
from faceanalytics.geometry.crop import to_gray
from faceanalytics.runtime.registry import LANDMARK_MODELS
from faceanalytics.train.data import read_csv, split_by_identity


@pytest.mark.parametrize("name", sorted(LANDMARK_MODELS))
def test_registered_models_load_with_their_checksum(name):
    runner = FPENetRunner(name, device="cpu")
    spec = LANDMARK_MODELS[name]
    assert runner.name == name and runner.num_points == spec.num_points
    assert runner.path.stat().st_size == spec.size


@pytest.mark.parametrize("name", ["fpenet68-int8", "fpenet68-fp16"])
def test_quantised_variants_keep_the_accuracy(name):
    samples = read_csv(shared_path("data", "landmarks68", "annotations.csv"))
    _, val = split_by_identity(samples, 0.15, seed=0)
    ref, variant = FPENetRunner("fpenet68", device="cpu"), FPENetRunner(name, device="cpu")
    nme_ref, nme_var, moved = [], [], []
    for s in val[::8]:
        gray = to_gray(cv2.imread(str(s.path)))
        lo, hi = s.points.min(0), s.points.max(0)
        box = np.array([[lo[0], lo[1], hi[0], hi[1]]], np.float32)
        p_ref, p_var = ref.landmarks(gray, box)[0][0], variant.landmarks(gray, box)[0][0]
        iod = np.linalg.norm(s.points[36] - s.points[45])
        nme_ref.append(np.linalg.norm(p_ref - s.points, axis=1).mean() / iod)
        nme_var.append(np.linalg.norm(p_var - s.points, axis=1).mean() / iod)
        moved.append(np.linalg.norm(p_var - p_ref, axis=1).mean() / iod)
    assert len(nme_ref) >= 60
    assert 100 * (np.mean(nme_var) - np.mean(nme_ref)) <= 0.2
    assert 100 * np.median(moved) < 1.0  # the variant places the points where the float model does
