"""The eye-openness network: its crops, its model file, its results, and real closed vs open eyes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from faceanalytics import SCHEMA_68, Face
from faceanalytics.core.errors import ModelFormatError, ModelNotFoundError, ParameterError
from faceanalytics.core.types import Eyes
from faceanalytics.geometry.eye_crop import eye_crops, eye_strip
from faceanalytics.geometry.face_templates import MEAN_SHAPE_68
from faceanalytics.plugins.base import Frame
from faceanalytics.plugins.eyes import (
    DEFAULT_OPENNESS_THRESHOLD,
    MIN_FACE_CONTRAST,
    EyesPlugin,
    _combined,
    _face_ears,
    combined_openness,
    eye_aspect_ratios,
    face_contrast,
)
from faceanalytics.runners.eye_net import EyeOpennessNet

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _points(scale: float = 4.0, shift: tuple[float, float] = (40.0, 60.0)) -> np.ndarray:
    return np.array(MEAN_SHAPE_68, np.float64) * scale + np.array(shift)


def test_the_strip_centres_each_eye_and_mirrors_the_left_one():
    pts = _points()
    strip = eye_strip(pts, 32, 24, 1.6)
    assert strip is not None
    m = strip.matrix
    centres = {side: (pts[o] + pts[i]) / 2 for side, (o, i) in (("right", (36, 39)), ("left", (45, 42)))}
    np.testing.assert_allclose(m @ np.append(centres["right"], 1), [16, 12], atol=1e-9)
    np.testing.assert_allclose(m @ np.append(centres["left"], 1), [strip.left_start + 16, 12], atol=1e-9)
    width = (np.linalg.norm(pts[39] - pts[36]) + np.linalg.norm(pts[45] - pts[42])) / 2
    assert np.sqrt(abs(np.linalg.det(m[:, :2]))) * width == pytest.approx(32 / 1.6, rel=0.02)  # scale rounded < 2 %
    # a ramp rising along the image's x axis: it rises across the right eye's crop (image left,
    # outer corner first) and falls across the mirrored left eye's
    ramp = np.tile((np.arange(1000) // 4).astype(np.uint8), (1000, 1))
    crops = eye_crops(ramp, pts, 32, 24, 1.6)
    assert crops is not None and crops.shape == (2, 24, 32) and crops.dtype == np.uint8
    assert crops[1][:, 0].mean() < crops[1][:, -1].mean() and crops[0][:, 0].mean() > crops[0][:, -1].mean()
    # a mirrored image's right eye is the original's left eye
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (200, 200), np.uint8)
    image = np.ascontiguousarray(np.kron(image[::4, ::4], np.ones((4, 4), np.uint8)))
    mirrored_pts = pts[list(SCHEMA_68.flip_permutation)] * [-1, 1] + [199, 0]
    a = eye_crops(image, pts, 32, 24, 1.6)
    b = eye_crops(image[:, ::-1].copy(), mirrored_pts, 32, 24, 1.6)
    assert a is not None and b is not None
    np.testing.assert_allclose(a[0].astype(float), b[1].astype(float), atol=2)
    # BGR in, gray out: the same as the gray image
    bgr = np.repeat(image[:, :, None], 3, axis=2)
    np.testing.assert_allclose(eye_crops(bgr, pts, 32, 24, 1.6).astype(float), a.astype(float), atol=1)
    pts[[42, 45]] = pts[42]
    assert eye_strip(pts, 32, 24, 1.6) is None and eye_crops(image, pts, 32, 24, 1.6) is None
    pts = _points()
    pts[36] = np.nan
    assert eye_crops(image, pts, 32, 24, 1.6) is None


def test_large_eyes_are_averaged_not_sampled():
    # a large face: the crops average the image instead of sampling every fifth pixel
    pts = _points(scale=10.0, shift=(0.0, 0.0))  # eyes about 140 px wide, crops 32 px
    image = np.zeros((2000, 2000), np.uint8)
    image[:, ::2] = 255  # stripes finer than the crop's pixels
    crops = eye_crops(image, pts, 32, 24, 1.6)
    assert crops is not None
    assert abs(float(crops.mean()) - 127.5) < 10 and float(crops.std()) < 20


def test_the_runner_rejects_a_wrong_model_file(tmp_path):
    from faceanalytics.runtime.hub import package_weights_dir

    with pytest.raises(ModelFormatError, match="not an eye-openness model"):
        EyeOpennessNet(package_weights_dir() / "mouth_cues.onnx")
    with pytest.raises(ModelNotFoundError):
        EyeOpennessNet(tmp_path / "missing.onnx")
    net = EyeOpennessNet()
    assert net.providers == ("CPUExecutionProvider",)
    with pytest.raises(ParameterError):
        net.openness(np.zeros((8, 8), np.float32), _points())


def test_eyes_json_and_the_ear_only_path():
    face = Face(box=[0, 0, 1, 1], score=1, landmarks=_points(), confidence=np.ones(68), schema=SCHEMA_68)
    frame = Frame(np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8))
    ear_only = EyesPlugin(net=None)(face, frame)
    assert math.isnan(ear_only.left_openness) and math.isnan(ear_only.openness_threshold)
    d = json.loads(json.dumps(ear_only.to_dict()))
    assert d["left_openness"] is None and d["right_openness"] is None and d["ear"] == round(ear_only.ear, 4)
    assert ear_only.closed == (ear_only.left_ear < 0.2 and ear_only.right_ear < 0.2)
    r = EyesPlugin()(face, frame)
    assert r.valid and 0 <= r.left_openness <= 1 and 0 <= r.right_openness <= 1 and r.ear == ear_only.ear
    assert r.left_closed == (r.left_openness < r.openness_threshold)
    assert r.openness == pytest.approx(float(combined_openness(r.left_openness, r.right_openness)))
    assert r.closed == (r.openness < r.openness_threshold)
    assert math.isnan(ear_only.openness) and d["openness"] is None
    d = r.to_dict()
    assert d["left_openness"] == round(r.left_openness, 4)
    e = Eyes(0.3, 0.3, 0.3, False, False, False, 0.2)
    assert math.isnan(e.left_openness)  # the EAR-only constructor still works
    with pytest.raises(ParameterError):
        EyesPlugin(openness_threshold=1.0)


def test_eyes_of_a_face_too_dark_to_judge_are_not_judged():
    """A face whose gray levels hardly vary (a frame too dark, washed out) gets no openness and no
    closed flag, and says why; the EAR is still measured but not used. The contrast is the face's,
    not the eyes', so closed eyes (flatter than open ones) are not favoured."""
    face = Face(box=[0, 0, 1, 1], score=1, landmarks=_points(), confidence=np.ones(68), schema=SCHEMA_68)
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)
    for image, judged in (
        (np.full((300, 300, 3), 128, np.uint8), False),  # flat gray
        ((texture // 40).astype(np.uint8), False),  # dark: 7 levels, contrast about 1.8
        (texture // 12 + 100, False),  # dim: contrast about 6.0
        (texture // 8 + 100, True),  # contrast about 9.1
    ):
        contrast = face_contrast(image, face.landmarks)
        assert (contrast >= MIN_FACE_CONTRAST) == judged, contrast
        r = EyesPlugin()(face, Frame(image))
        assert r.valid == judged, contrast
        if judged:
            assert math.isfinite(r.openness)
            continue
        assert "too dark or flat" in r.reason
        assert math.isnan(r.left_openness) and math.isnan(r.right_openness) and math.isnan(r.openness)
        assert not (r.closed or r.left_closed or r.right_closed)
        assert math.isfinite(r.ear)
        assert json.loads(json.dumps(r.to_dict()))["valid"] is False
    # golden: the green channel's standard deviation over the landmarks' box, every fourth pixel
    image = np.zeros((300, 300, 3), np.uint8)
    image[:, :, 1] = np.tile(np.array([0, 0, 40, 40, 40, 0, 0, 0], np.uint8), 38)[None, :300]  # uneven stripes
    box = _points()
    x0, y0 = (int(v) for v in box.min(axis=0))
    x1, y1 = int(box[:, 0].max()) + 1, int(box[:, 1].max()) + 1
    assert face_contrast(image, box) == pytest.approx(float(image[y0:y1:4, x0:x1:4, 1].std()))
    assert math.isnan(face_contrast(image, box + 1000)) and math.isnan(face_contrast(image, box * np.nan))


@pytest.mark.skipif(not (SHARED / "eye_state").is_dir(), reason="needs ../shared/data/eye_state")
def test_held_out_closed_and_open_eyes_separate():
    from faceanalytics import Pipeline
    from faceanalytics.core.image import load_image
    from faceanalytics.train.eyes import pad_face_crop, split_eye_state

    split = split_eye_state(SHARED / "eye_state", seed=0)
    pipe = Pipeline(device="cpu", plugins=[EyesPlugin()])

    def openness(files: list[Path]) -> np.ndarray:
        out = []
        for f in files:
            res = pipe(pad_face_crop(load_image(f)))
            if res.faces:
                e = res.faces[0].eyes
                out.append((e.left_openness + e.right_openness) / 2)
        return np.array(out)

    closed, opened = openness(split.closed_eval[:12]), openness(split.open_eval[:12])
    assert len(closed) >= 8 and len(opened) >= 8
    assert np.median(closed) < 0.2 and np.median(opened) > 0.8
    assert closed.max() < opened.min() or np.mean(closed[:, None] < opened[None]) > 0.97


def test_combined_openness_golden_values():
    """Both eyes together: the logistic of the mean log-odds. A face with one eye clearly shut and
    the other not clearly open is closed; two clearly open eyes stay open; a wink sits at 0.5."""
    assert float(combined_openness(0.9, 0.9)) == pytest.approx(0.9)
    assert float(combined_openness(0.01, 0.99)) == pytest.approx(0.5)
    odds = (0.05 / 0.95 * 0.85 / 0.15) ** 0.5
    assert float(combined_openness(0.05, 0.85)) == pytest.approx(odds / (1 + odds))
    both = combined_openness(np.array([0.0, 1.0, 0.3]), np.array([0.0, 1.0, 0.3]))  # clipped, not inf
    np.testing.assert_allclose(both, [1e-6, 1 - 1e-6, 0.3], rtol=1e-6)
    assert float(combined_openness(0.05, 0.85)) < DEFAULT_OPENNESS_THRESHOLD < float(combined_openness(0.6, 0.95))
    # the plugin's per-face paths in plain floats give the same numbers
    rng = np.random.default_rng(1)
    for pts in (_points(), _points() + rng.normal(0, 2, (68, 2)), np.zeros((68, 2))):
        pts32 = pts.astype(np.float32)  # as a Face holds them
        ref = eye_aspect_ratios(pts32, SCHEMA_68)
        np.testing.assert_allclose(_face_ears(pts32, SCHEMA_68), np.array(ref, float), rtol=1e-12)
    for a, b in ((0.9, 0.9), (0.01, 0.99), (0.05, 0.85), (0.0, 1.0), (0.3, 0.3), (1e-9, 0.2)):
        assert _combined(a, b) == pytest.approx(float(combined_openness(a, b)), rel=1e-12, abs=1e-15)
