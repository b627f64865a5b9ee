"""The mouth-cue network: crop geometry (golden values), the model contract, and behaviour on real faces."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import shared_path

from faceanalytics import SCHEMA_68, Face
from faceanalytics.core.errors import ModelFormatError, ModelNotFoundError, ParameterError
from faceanalytics.geometry.face_templates import MEAN_SHAPE_68
from faceanalytics.plugins import HeadPosePlugin, MouthPlugin
from faceanalytics.plugins.base import Frame
from faceanalytics.runners.mouth_net import MouthNet, mouth_crop, mouth_crop_matrix
from faceanalytics.runtime.hub import package_weights_dir
from faceanalytics.runtime.registry import LANDMARK_MODELS


def _face_points(scale: float = 1.0, angle_deg: float = 0.0, centre=(320.0, 240.0)) -> np.ndarray:
    """Mean shape with the outer eye corners ``100 * scale`` px apart, rolled by ``angle_deg``."""
    p = np.array(MEAN_SHAPE_68, float)
    p = (p - p[48:68].mean(axis=0)) * (100 * scale / np.hypot(*(p[45] - p[36])))
    a = np.deg2rad(angle_deg)
    return p @ np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]).T + centre


def test_crop_matrix_golden():
    pts = _face_points(angle_deg=30)
    m = mouth_crop_matrix(pts, 48, 36, 1.6)
    # the lips' mean lands in the crop's centre, the eye line on the crop's x axis, 1.6 eye distances = 48 px
    np.testing.assert_allclose(m @ [*pts[48:68].mean(axis=0), 1], [24, 18], atol=1e-9)
    eye = m[:, :2] @ (pts[45] - pts[36])
    np.testing.assert_allclose(eye, [48 / 1.6, 0], atol=1e-9)
    assert np.isnan(mouth_crop_matrix(np.zeros((68, 2)), 48, 36, 1.6)).all()


def test_crop_follows_the_face_and_large_faces_do_not_alias():
    """A smooth pattern fixed to the face: the crop is the same whatever the face's size and roll."""

    def render(scale: float, angle: float) -> tuple[np.ndarray, np.ndarray]:
        pts = _face_points(scale, angle, centre=(400.0, 400.0))
        m = mouth_crop_matrix(pts, 48, 36, 1.6)  # image -> crop; paint the crop frame's pattern
        yy, xx = np.mgrid[0:800, 0:800].astype(np.float64)
        u = m[0, 0] * xx + m[0, 1] * yy + m[0, 2]
        v = m[1, 0] * xx + m[1, 1] * yy + m[1, 2]
        img = 128 + 60 * np.sin(u / 5.0) * np.cos(v / 7.0)
        return np.dstack([img] * 3).astype(np.uint8), pts

    ref_img, ref_pts = render(1.0, 0.0)
    ref = mouth_crop(ref_img, ref_pts, 48, 36, 1.6).astype(float)
    assert ref.shape == (36, 48) and ref.std() > 20
    for scale, angle in ((0.6, 0.0), (3.0, 25.0), (5.0, -40.0)):  # 3x and 5x go through the pyramid
        img, pts = render(scale, angle)
        crop = mouth_crop(img, pts, 48, 36, 1.6).astype(float)
        assert np.abs(crop - ref)[2:-2, 2:-2].mean() < 6, (scale, angle)
    gray = cv2.cvtColor(ref_img, cv2.COLOR_BGR2GRAY)
    np.testing.assert_array_equal(mouth_crop(gray, ref_pts, 48, 36, 1.6), ref.astype(np.uint8))
    # a mouth at the image's edge: border pixels repeat, no error
    edge = mouth_crop(ref_img[:420, :420], ref_pts, 48, 36, 1.6)
    assert edge.shape == (36, 48)


def test_contract_is_checked(tmp_path: Path):
    with pytest.raises(ModelNotFoundError):
        MouthNet(tmp_path / "missing.onnx")
    with pytest.raises(ModelNotFoundError, match="registered"):
        MouthNet("no-such-model")
    landmark_model = package_weights_dir() / LANDMARK_MODELS["fpenet68"].filename
    with pytest.raises(ModelFormatError, match="not a mouth-cue model"):
        MouthNet(landmark_model)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not onnx")
    with pytest.raises(ModelFormatError):
        MouthNet(junk)
    net = MouthNet()
    assert (net.width, net.height, net.span) == (32, 24, 1.7) and net.providers == ("CPUExecutionProvider",)
    # the metadata must match the crop input
    import onnx

    proto = onnx.load(str(net.path))
    for entry in proto.metadata_props:
        if entry.key == "crop_width":
            entry.value = "40"
    bad = tmp_path / "bad_meta.onnx"
    onnx.save(proto, str(bad))
    with pytest.raises(ModelFormatError, match="does not match the metadata"):
        MouthNet(bad)
    assert MouthNet(net.path).width == 32  # the same file by path


def test_bad_inputs_get_typed_errors():
    net = MouthNet()
    img, pts, shape = np.zeros((100, 100, 3), np.uint8), _face_points(0.3, centre=(50.0, 50.0)), np.zeros(44)
    assert all(np.isfinite(net.logits(img, pts, shape)))
    bad_points = pts.copy()
    bad_points[50] = np.nan
    collapsed = pts.copy()
    collapsed[45] = collapsed[36]
    for args in (
        (img.astype(np.float32), pts, shape),
        (np.zeros((0, 10, 3), np.uint8), pts, shape),
        (np.zeros((10, 10, 4), np.uint8), pts, shape),
        (img, pts[:40], shape),
        (img, bad_points, shape),
        (img, collapsed, shape),
        (img, pts, np.zeros(40)),
        (img, pts, np.full(44, np.inf)),
    ):
        with pytest.raises(ParameterError):
            net.logits(*args)


def test_net_scores_are_probabilities_on_any_image():
    plugin = MouthPlugin()
    pts = _face_points()
    face = Face(box=[0, 0, 1, 1], score=1, landmarks=pts, confidence=np.ones(68), schema=SCHEMA_68)
    for image in (np.zeros((4, 4, 3), np.uint8), np.full((480, 640, 3), 255, np.uint8)):
        r = plugin(face, Frame(image))
        assert r.valid and 0 <= r.smile <= 1 and 0 <= r.open_score <= 1 and r.open == (r.open_score >= 0.5)


def test_net_tells_expressions_apart_on_held_out_faces(detector_home: Path):
    """On 40 held-out FER faces per class: happy faces smile more than neutral ones, surprised
    mouths are more open; the AUCs are far above chance (the benchmark reports the full numbers)."""
    from faceanalytics import Pipeline
    from faceanalytics.train.evaluate import auc
    from faceanalytics.train.expressions import load, split

    held = split(shared_path("data", "expressions"))["held_out"]
    pipe = Pipeline(device="cpu", plugins=[HeadPosePlugin(), MouthPlugin()])
    scores = {}
    for cls in ("happy", "neutral", "surprise"):
        rows = []
        for f in held[cls][:40]:
            image, box = load(f)
            res = pipe(image)
            face = res.faces[0] if res.faces else pipe(image, boxes=[box]).faces[0]
            rows.append((face.mouth.smile, face.mouth.open_score))
        scores[cls] = np.array(rows)
    assert auc(scores["neutral"][:, 0], scores["happy"][:, 0]) > 0.85
    assert auc(scores["neutral"][:, 1], scores["surprise"][:, 1]) > 0.85
    # mirrored faces get about the same scores
    image, box = load(held["happy"][0])
    a = pipe(image, boxes=[box]).faces[0].mouth
    w = image.shape[1]
    b = pipe(np.ascontiguousarray(image[:, ::-1]), boxes=[[w - box[2], box[1], w - box[0], box[3]]]).faces[0].mouth
    assert abs(a.smile - b.smile) < 0.25 and abs(a.open_score - b.open_score) < 0.25


def test_bound_runs_match_plain_session_runs_in_every_thread():
    """The eye and mouth networks run with their buffers bound once per thread (PairRun): from
    eight threads at once, every answer is the plain ``session.run``'s on the same inputs."""
    import threading

    from faceanalytics.runners.eye_net import EyeOpennessNet
    from faceanalytics.runners.mouth_net import CROP_INPUT, OUTPUT, SHAPE_INPUT

    mouth, eyes = MouthNet(), EyeOpennessNet()
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3), np.uint8), (0, 0), 2)
    cases = [_face_points(scale, angle) for scale, angle in ((0.6, -20), (1.0, 0), (1.7, 15), (3.0, 5))]
    shapes = [rng.normal(0, 0.3, 44) for _ in cases]

    def plain(points: np.ndarray, shape: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
        crop = mouth_crop(image, points, mouth.width, mouth.height, mouth.span).astype(np.float32)
        crops = np.stack([crop, crop[:, ::-1]])[:, None]
        s = shape.astype(np.float32)
        both = np.stack([s, s[mouth._mirror_index] * mouth._mirror_sign])
        logits = mouth._session.run([OUTPUT], {CROP_INPUT: crops, SHAPE_INPUT: both})[0].astype(np.float64).mean(axis=0)
        from faceanalytics.geometry.eye_crop import eye_crops

        e = eye_crops(image, points, eyes.width, eyes.height, eyes.span).reshape(2, 1, eyes.height, eyes.width)
        eye_logits = eyes._session.run(["logits"], {"crop": e.astype(np.float32)})[0][:, 0].astype(np.float64)
        return (float(logits[0]), float(logits[1])), tuple(float(v) for v in 1 / (1 + np.exp(-eye_logits)))  # type: ignore[return-value]

    expected = [plain(p, s) for p, s in zip(cases, shapes, strict=True)]
    failures: list[str] = []
    barrier = threading.Barrier(8)

    def work(offset: int) -> None:
        barrier.wait()
        for r in range(40):
            i = (offset + r) % len(cases)
            got = (mouth.checked_logits(image, cases[i], shapes[i]), eyes.checked_openness(image, cases[i]))
            if not np.allclose(np.array(got, dtype=object).tolist(), expected[i], rtol=0, atol=1e-6):
                failures.append(f"case {i}: {got} != {expected[i]}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:3]
    assert mouth.checked_logits(image, cases[1], shapes[1]) == pytest.approx(mouth.logits(image, cases[1], shapes[1]), abs=0)
