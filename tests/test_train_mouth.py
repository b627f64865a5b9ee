"""Training the mouth-cue network: mirror bookkeeping, a tiny run, and an export the plugin loads."""

import numpy as np
import pytest

from faceanalytics import SCHEMA_68, Face
from faceanalytics.geometry.face_templates import MEAN_SHAPE_68
from faceanalytics.geometry.mouth import mouth_shape
from faceanalytics.plugins import MouthPlugin
from faceanalytics.plugins.base import Frame
from faceanalytics.runners.mouth_net import MouthNet, shape_mirror


def _points() -> np.ndarray:
    p = np.array(MEAN_SHAPE_68, float) * 3 + [200, 150]
    p[54] += [6, -4]  # an asymmetric mouth: one corner lifted and pulled out
    return p


def test_shape_mirror_is_the_shape_of_the_mirrored_face():
    pts = _points()
    mirrored = pts[np.asarray(SCHEMA_68.flip_permutation)] * [-1, 1] + [640, 0]
    index, sign = shape_mirror()
    np.testing.assert_allclose(mouth_shape(pts)[index] * sign, mouth_shape(mirrored), atol=1e-9)
    np.testing.assert_allclose((mouth_shape(pts)[index] * sign)[index] * sign, mouth_shape(pts), atol=1e-12)


def test_tiny_training_run_exports_a_model_the_plugin_loads(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from faceanalytics.train.mouth import export, held_out_aucs, train

    rng = np.random.default_rng(0)
    n = 64
    labels = np.arange(n) % 5
    crops = rng.integers(0, 255, (n, 24, 32)).astype(np.uint8)
    crops[labels == 0, 12:, :] = 250  # "happy" crops: a bright lower half, learnable
    shapes = rng.normal(0, 0.1, (n, 44)).astype(np.float32) + mouth_shape(_points()).astype(np.float32)
    net, standardise = train(crops, shapes, labels, width=4, epochs=3, seed=0)
    path = export(net, standardise, (32, 24, 1.7), tmp_path / "m.onnx", {"training": "test"})
    loaded = MouthNet(path)
    assert (loaded.width, loaded.height, loaded.span) == (32, 24, 1.7)
    aucs = held_out_aucs(path, crops, shapes, labels)
    assert set(aucs) == {"smile happy vs neutral", "smile happy vs surprise", "smile happy vs sad",
                         "smile happy vs angry", "open surprise vs neutral"}  # fmt: skip
    assert all(0.0 <= v <= 1.0 for v in aucs.values())
    face = Face(box=[0, 0, 1, 1], score=1, landmarks=_points(), confidence=np.ones(68), schema=SCHEMA_68)
    r = MouthPlugin(net=path)(face, Frame(np.full((300, 400, 3), 90, np.uint8)))
    assert r.valid and 0 <= r.smile <= 1 and 0 <= r.open_score <= 1


def _learnable(n: int = 80) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crops where happy faces (class 0) have a bright lower half, the others noise."""
    rng = np.random.default_rng(1)
    labels = np.arange(n) % 5
    crops = rng.integers(0, 255, (n, 24, 32)).astype(np.uint8)
    crops[labels == 0, 12:, :] = 250
    shapes = rng.normal(0, 0.1, (n, 44)).astype(np.float32) + mouth_shape(_points()).astype(np.float32)
    return crops, shapes, labels


def test_out_of_fold_aucs_score_each_face_by_a_network_that_never_saw_it():
    pytest.importorskip("torch")
    from faceanalytics.train.mouth import out_of_fold_aucs

    crops, shapes, labels = _learnable()
    aucs = out_of_fold_aucs(crops, shapes, labels, 2, width=4, epochs=60, seed=0, neutral_weight=1.0)
    assert set(aucs) == {"smile happy vs neutral", "smile happy vs surprise", "smile happy vs sad",
                         "smile happy vs angry", "open surprise vs neutral"}  # fmt: skip
    # the bright lower half is learnable from the other fold: every held-out happy face ranks high
    assert min(v for k, v in aucs.items() if k.startswith("smile")) > 0.9


def test_neutral_weight_pushes_neutral_faces_away_from_a_smile():
    torch = pytest.importorskip("torch")
    from faceanalytics.train.mouth import normalise_crop, train

    crops, shapes, labels = _learnable()
    crops[labels == 1, 12:, :] = 250  # neutral faces look exactly like the happy ones
    bright = torch.tensor(crops[labels <= 1], dtype=torch.float32)[:, None]

    def smile_logit(weight: float) -> float:
        net, (mu, sd) = train(crops, shapes, labels, width=4, epochs=60, seed=0, neutral_weight=weight)
        with torch.no_grad():
            s = torch.tensor((shapes[labels <= 1] - mu) / sd, dtype=torch.float32)
            return float(net(normalise_crop(bright), s)[:, 0].mean())

    low, high = smile_logit(20.0), smile_logit(1.0)
    assert low < high - 1.0
