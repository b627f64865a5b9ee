"""Tests of the training package (faceanalytics.train): readers, crops, augmentation, model, losses, export."""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceanalytics.core.schema import SCHEMA_68
from faceanalytics.geometry.crop import crop_faces, image_to_crop, square_crop_matrices
from faceanalytics.train.augment import AugmentConfig, augment_matrix, flip_points, make_crop, photometric, textured_occluder
from faceanalytics.train.boxes import box_features, box_from_features, match_detection
from faceanalytics.train.data import LandmarkSample, read_coco_keypoints, read_csv, read_pts, read_pts_folder, split_by_identity
from faceanalytics.train.evaluate import auc
from faceanalytics.train.eyes import collapse_eyelids, eye_aspect_ratio

SHARED = Path(os.environ.get("FACEANALYTICS_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data"
FIXTURES = SHARED / "fixtures"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not available (../shared is absent)")
    return path


def _face(cx: float = 100.0, cy: float = 100.0, s: float = 60.0) -> np.ndarray:
    """A plausible frontal 68-point face: the mean shape of the landmarks68 CSV if present, else a synthetic one."""
    rng = np.random.default_rng(0)
    pts = rng.uniform(-0.5, 0.5, (68, 2))
    pts[36] = (-0.35, -0.2)  # subject's right eye, outer corner: image left
    pts[45] = (0.35, -0.2)
    pts[39], pts[42] = (-0.1, -0.2), (0.1, -0.2)
    return (pts * s + (cx, cy)).astype(np.float32)


# --- readers -------------------------------------------------------------------------------------


def test_read_csv_roundtrip(tmp_path: Path) -> None:
    header = "file,identity," + ",".join(f"x{i},y{i}" for i in range(68))
    row = "a.jpg,Someone," + ",".join(f"{i}.0,{i + 0.5}" for i in range(68))
    (tmp_path / "annotations.csv").write_text(header + "\n" + row + "\n")
    (s,) = read_csv(tmp_path / "annotations.csv")
    assert s.identity == "Someone" and s.path == tmp_path / "images" / "a.jpg"
    assert s.points.shape == (68, 2) and s.points[3].tolist() == [3.0, 3.5]


def test_read_csv_landmarks68() -> None:
    samples = read_csv(_need(SHARED / "landmarks68" / "annotations.csv"))
    assert len(samples) > 3000
    assert all(s.points.shape == (68, 2) for s in samples[:50])
    assert samples[0].path.exists()


def test_read_pts_folder_300vw_matches_json() -> None:
    root = _need(FIXTURES / "300vw")
    samples = read_pts_folder(root)
    assert len(samples) == 4
    assert {s.identity for s in samples} == {"001", "401"}
    assert all(s.path.exists() and s.points.shape == (68, 2) for s in samples)
    # mmpose's JSON keeps the .pts values (1-based); read_pts returns 0-based pixel centres.
    coco = {str(s.path): s.points for s in read_coco_keypoints(root / "anno_300vw.json")}
    common = [s for s in samples if str(s.path) in coco]
    assert len(common) >= 3
    for s in common:
        np.testing.assert_allclose(s.points + 1.0, coco[str(s.path)], atol=1e-3)


def test_read_pts_rejects_bad_count(tmp_path: Path) -> None:
    (tmp_path / "x.pts").write_text("version: 1\nn_points: 3\n{\n1 2\n3 4\n}\n")
    with pytest.raises(ValueError, match="n_points"):
        read_pts(tmp_path / "x.pts")


def test_read_coco_300w() -> None:
    samples = read_coco_keypoints(_need(FIXTURES / "300w" / "test_300w.json"), offset=-1.0)
    assert len(samples) == 2
    assert all(s.path.exists() and s.points.shape == (68, 2) for s in samples)


def test_split_by_identity_is_disjoint_and_seeded() -> None:
    samples = [LandmarkSample(Path(f"{i}.jpg"), f"id{i % 20}", np.zeros((68, 2), np.float32)) for i in range(200)]
    train, val = split_by_identity(samples, 0.15, seed=3)
    assert not {s.identity for s in train} & {s.identity for s in val}
    assert len({s.identity for s in val}) == 3
    assert [s.path for s in split_by_identity(samples, 0.15, seed=3)[1]] == [s.path for s in val]


# --- crops, boxes, augmentation ------------------------------------------------------------------


@pytest.mark.parametrize("crop_scale", [1.0, 1.25])
def test_unaugmented_crop_equals_runtime_crop(crop_scale: float) -> None:
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (200, 220), dtype=np.uint8)
    pts = _face()
    box = np.array([60.0, 55.0, 150.0, 160.0], np.float32)
    crop, cpts = make_crop(gray, pts, box, rng, AugmentConfig.none(), crop_scale=crop_scale)
    mats = square_crop_matrices(box[None], 80, crop_scale)
    np.testing.assert_array_equal(crop.astype(np.float32), crop_faces(gray, mats)[0, 0])
    np.testing.assert_allclose(cpts, image_to_crop(pts[None], mats)[0], atol=1e-4)


def test_eye_state_split_extra_open_faces_never_touch_the_held_out_ones(tmp_path: Path) -> None:
    from faceanalytics.train.eyes import split_eye_state

    for kind, n in (("closed", 10), ("open", 40)):
        (tmp_path / kind).mkdir()
        for i in range(n):
            (tmp_path / kind / f"{i:03d}.jpg").write_bytes(b"")
    base = split_eye_state(tmp_path, open_eval=10, open_train=10)
    more = split_eye_state(tmp_path, open_eval=10, open_train=10, open_extra=15)
    assert (more.open_eval, more.open_train, more.closed_eval) == (base.open_eval, base.open_train, base.closed_eval)
    assert base.open_extra == [] and len(more.open_extra) == 15
    assert not set(more.open_extra) & (set(more.open_eval) | set(more.open_train))
    assert len(split_eye_state(tmp_path, open_eval=10, open_train=10, open_extra=99).open_extra) == 20  # what is left


def test_flip_keeps_left_and_right_consistent() -> None:
    pts = _face()
    gray = np.zeros((200, 200), np.uint8)
    x, y = np.round(pts[36]).astype(int)  # a bright spot on the subject's right outer eye corner
    gray[y, x] = 255
    pts[36] = (x, y)
    base = square_crop_matrices(np.array([[60.0, 60.0, 140.0, 140.0]]), 80)[0]
    m = augment_matrix(base, 0.0, 1.0, (0.0, 0.0), True)
    crop = cv2.warpAffine(gray, m, (80, 80), flags=cv2.INTER_LINEAR)
    mirrored = flip_points(image_to_crop(pts[None], m[None])[0])
    # The spot is now the subject's LEFT outer eye corner (45) of the mirrored face ...
    spot = np.unravel_index(np.argmax(crop), crop.shape)
    np.testing.assert_allclose(mirrored[45], (spot[1], spot[0]), atol=1.0)
    # ... and the subject's right eye is still on the image's left.
    assert mirrored[36, 0] < mirrored[45, 0]
    assert mirrored[SCHEMA_68.right_eye, 0].mean() < mirrored[SCHEMA_68.left_eye, 0].mean()
    # Flipping twice is the identity.
    np.testing.assert_allclose(flip_points(flip_points(mirrored)), mirrored)


def test_flip_permutation_is_an_involution() -> None:
    p = np.array(SCHEMA_68.flip_permutation)
    np.testing.assert_array_equal(p[p], np.arange(68))


def test_augmented_crop_labels_follow_the_image() -> None:
    """A spot drawn at one landmark must end up under that landmark after any augmentation."""
    pts = _face()
    for seed in range(10):
        rng = np.random.default_rng(seed)
        k = int(rng.integers(0, 68))
        gray = np.zeros((200, 200), np.uint8)
        x, y = np.round(pts[k]).astype(int)
        cv2.circle(gray, (int(x), int(y)), 2, 255, -1)
        p = pts.copy()
        p[k] = (x, y)
        cfg = AugmentConfig(flip_p=0.5, gamma_p=0, contrast_p=0, blur_p=0, noise_p=0, occlusion_p=0, jpeg_p=0, downscale_p=0)
        crop, cp = make_crop(gray, p, np.array([60, 60, 140, 140], np.float32), rng, cfg)
        ys, xs = np.nonzero(crop > 100)
        if len(xs) == 0:
            continue  # moved out of the crop
        centre = np.array([xs.mean(), ys.mean()])
        dists = np.linalg.norm(cp - centre, axis=1)
        j = int(np.argmin(dists))
        assert dists[j] < 1.5
        # Unflipped the spot is landmark k; flipped, it is k's mirror partner.
        assert j in (k, SCHEMA_68.flip_permutation[k]) or np.linalg.norm(cp[j] - cp[k]) < 1.5


def test_textured_occluder_covers_one_region_with_texture_from_elsewhere() -> None:
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:80, 0:80]
    img = (xx * 3 + (yy % 7) * 10).astype(np.float32)  # a texture whose shifted copy differs everywhere
    for seed in range(20):
        out = textured_occluder(img, np.random.default_rng(seed))
        assert out.shape == img.shape and out.dtype == np.float32
        changed = out != img
        assert 0.005 < changed.mean() < 0.4  # a blob or a bar, never the whole crop
        ys, xs = np.nonzero(changed)  # one connected shape: its pixels span less than the crop
        assert min(np.ptp(ys), np.ptp(xs)) < 70
    # off (the default), it draws no random number, so the shipped recipe's crops are as before;
    # on, it draws one
    crop = rng.integers(0, 255, (80, 80)).astype(np.uint8)
    after = {}
    for p in (0.0, 1e-12, 1.0):
        r = np.random.default_rng(0)
        out = photometric(crop, r, replace(AugmentConfig.none(), texture_occlusion_p=p))
        after[p] = (r.random(), out)
    assert after[0.0][0] != after[1e-12][0]  # on, one more draw: off, none
    np.testing.assert_array_equal(after[0.0][1], after[1e-12][1])  # ... which almost never occludes
    assert not np.array_equal(after[0.0][1], after[1.0][1])


def test_box_features_roundtrip_and_match() -> None:
    pts = _face()
    box = np.array([70.0, 60.0, 135.0, 140.0])
    f = box_features(box, pts)
    sq = box_from_features(f, pts)
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    np.testing.assert_allclose(((sq[0] + sq[2]) / 2, (sq[1] + sq[3]) / 2), centre, atol=1e-3)
    np.testing.assert_allclose(sq[2] - sq[0], 80.0, atol=1e-3)
    boxes = np.array([[0, 0, 30, 30], box, [60, 60, 200, 200]], np.float32)
    assert match_detection(boxes, pts) == 1
    assert match_detection(np.zeros((0, 4)), pts) is None


# --- eyes ----------------------------------------------------------------------------------------


def test_collapse_eyelids_closes_eyes() -> None:
    pts = _face()
    for eye in (SCHEMA_68.right_eye, SCHEMA_68.left_eye):
        c = pts[list(eye)].mean(0)
        pts[list(eye)] = c + np.array([[-10, 0], [-4, -4], [4, -4], [10, 0], [4, 4], [-4, 4]], np.float32)
    assert eye_aspect_ratio(pts) == pytest.approx(8 / 20)
    closed = collapse_eyelids(pts)
    assert eye_aspect_ratio(closed) == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_array_equal(closed[:36], pts[:36])
    np.testing.assert_array_equal(closed[[36, 39, 42, 45]], pts[[36, 39, 42, 45]])


def test_auc() -> None:
    assert auc(np.array([0.1, 0.2]), np.array([0.3, 0.4])) == 1.0
    assert auc(np.array([0.3]), np.array([0.3])) == 0.5


# --- torch: model, losses, export ----------------------------------------------------------------


@pytest.mark.parametrize("decoder", ["concat", "add"])
def test_model_forward_shapes(decoder: str) -> None:
    torch = pytest.importorskip("torch")
    from faceanalytics.train.model import RecombinatorNet

    model = RecombinatorNet(68, (4, 8, 8, 8), decoder).eval()
    with torch.no_grad():
        coords, conf = model(torch.rand(3, 1, 80, 80) * 255)
        heat = model.heatmaps(torch.zeros(1, 1, 80, 80))
    assert coords.shape == (3, 68, 2) and conf.shape == (3, 68) and heat.shape == (1, 68, 80, 80)
    assert float(coords.min()) >= 0.0 and float(coords.max()) <= 79.0
    assert float(conf.min()) > 0.0 and float(conf.max()) <= 1.0


def test_the_add_decoder_is_cheaper_and_reloads_from_its_weights(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from faceanalytics.train.loop import load_network
    from faceanalytics.train.model import RecombinatorNet

    def params(m: torch.nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    concat, add = RecombinatorNet(68), RecombinatorNet(68, decoder="add")
    # the shipped concat network: 292,660 weights; the add decoder drops 53,024 of them
    assert params(concat) == 292_660 and params(add) == 239_636
    for net in (concat, add):
        torch.save(net.state_dict(), tmp_path / f"{net.decoder}.pt")
        back = load_network(tmp_path / f"{net.decoder}.pt", torch.device("cpu"))
        assert back.decoder == net.decoder and back.widths == net.widths
        x = torch.rand(1, 1, 80, 80) * 255
        with torch.no_grad():
            torch.testing.assert_close(back(x)[0], net.eval()(x)[0])
    with pytest.raises(ValueError, match="decoder"):
        RecombinatorNet(68, decoder="sum")


def test_softargmax_finds_the_peak() -> None:
    torch = pytest.importorskip("torch")
    from faceanalytics.train.model import SoftArgmax

    heat = torch.zeros(1, 2, 80, 80)
    heat[0, 0, 30, 10] = 50.0  # row 30, column 10 -> x = 10, y = 30
    coords, conf = SoftArgmax()(heat)
    np.testing.assert_allclose(coords[0, 0].numpy(), (10.0, 30.0), atol=1e-3)
    np.testing.assert_allclose(coords[0, 1].numpy(), (39.5, 39.5), atol=1e-3)  # uniform map: the centre
    assert float(conf[0, 0]) == pytest.approx(1.0, abs=1e-6)
    assert float(conf[0, 1]) == pytest.approx(1 / 6400)


def test_loss_golden_values() -> None:
    torch = pytest.importorskip("torch")
    from faceanalytics.train.losses import l1_loss, l2_loss, landmark_loss, region_weights, wing_loss

    d = torch.tensor([0.0, -1.0, 5.0, 20.0])
    np.testing.assert_allclose(l1_loss(d).numpy(), [0, 1, 5, 20])
    np.testing.assert_allclose(l2_loss(d).numpy(), [0, 0.5, 12.5, 200])
    golden = [0.0, 10 * math.log(1.5), 10 * math.log(3.5), 20 - (10 - 10 * math.log(6))]
    np.testing.assert_allclose(wing_loss(d, 10.0, 2.0).numpy(), golden, rtol=1e-6)
    # continuity at |d| = w
    np.testing.assert_allclose(wing_loss(torch.tensor([9.9999, 10.0])).numpy(), [10 * math.log(6)] * 2, rtol=1e-4)

    w = region_weights(eyes=2.0, mouth=3.0, rest=1.0)
    assert w[36:48].eq(2).all() and w[48:68].eq(3).all() and w[:36].eq(1).all()
    pred, target = torch.zeros(1, 68, 2), torch.zeros(1, 68, 2)
    pred[0, 40] = torch.tensor([1.0, 2.0])  # an eye point: L1 = 3, weight 2
    expected = 2 * 3 / float(w.sum())
    assert float(landmark_loss(pred, target, w, "l1")) == pytest.approx(expected)
    with pytest.raises(ValueError, match="unknown loss"):
        landmark_loss(pred, target, w, "huber")


def test_inner_lip_weight_and_gap_loss_golden_values() -> None:
    torch = pytest.importorskip("torch")
    from faceanalytics.train.losses import inner_gap_loss, region_weights

    w = region_weights(eyes=2.0, mouth=1.5, rest=1.0, inner_lips=4.0)
    assert w[48:60].eq(1.5).all() and w[60:68].eq(4).all() and w[36:48].eq(2).all()
    target = torch.zeros(2, 68, 2)
    target[:, 66, 1] = 6.0  # the middle lower inner point 6 px below the upper one: an open mouth
    pred = target.clone()
    assert float(inner_gap_loss(pred, target, w)) == 0.0
    pred[0, 66, 1] = 2.0  # face 0 opens 4 px less
    pred[1, 62] += 3.0  # face 1: the whole middle pair moves 3 px, the gap is unchanged
    pred[1, 66] += 3.0
    # three gaps per face, weight 4 each: the one error of 4 px over six gaps
    assert float(inner_gap_loss(pred, target, w)) == pytest.approx(4 * 4 / (6 * 4))
    per_sample = w.expand(2, -1).clone()
    per_sample[0] = 0  # a sample without weight (a negative crop) adds nothing
    assert float(inner_gap_loss(pred, target, per_sample)) == 0.0


def test_heatmap_losses() -> None:
    torch = pytest.importorskip("torch")
    from faceanalytics.train.losses import flat_heatmap_loss, heatmap_cross_entropy

    logits = torch.zeros(1, 1, 80, 80)
    assert float(flat_heatmap_loss(logits)) == pytest.approx(0.0, abs=1e-5)
    target = torch.tensor([[[10.0, 20.0]]])
    # A flat map against any target: cross-entropy log(6400).
    assert float(heatmap_cross_entropy(logits, target, torch.ones(1))) == pytest.approx(math.log(6400), rel=1e-5)
    sharp = logits.clone()
    sharp[0, 0, 20, 10] = 5.0  # a peak at x = 10, y = 20 lowers the loss; a peak elsewhere raises it
    wrong = logits.clone()
    wrong[0, 0, 60, 60] = 5.0
    assert float(heatmap_cross_entropy(sharp, target, torch.ones(1))) < math.log(6400)
    assert float(heatmap_cross_entropy(wrong, target, torch.ones(1))) > math.log(6400)
    assert float(flat_heatmap_loss(sharp)) > 0.0
    # zero weights: ignored
    assert float(heatmap_cross_entropy(wrong, target, torch.zeros(1))) == 0.0


@pytest.mark.parametrize("decoder", ["concat", "add"])
def test_export_is_accepted_by_fpenet_runner(tmp_path: Path, decoder: str) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from faceanalytics.runners.fpenet import FPENetRunner
    from faceanalytics.train.export import export_onnx
    from faceanalytics.train.model import RecombinatorNet

    torch.manual_seed(0)
    model = RecombinatorNet(68, (4, 8, 8, 8), decoder)
    path = export_onnx(model, tmp_path / "tiny.onnx", crop_scale=1.25)
    import onnx

    proto = onnx.load(str(path))
    assert proto.ir_version <= 10 and proto.opset_import[0].version == 17
    assert path.stat().st_size < 5_000_000
    runner = FPENetRunner(path, device="cpu")
    assert runner.num_points == 68 and runner.batch_size is None and runner.crop_scale == 1.25
    x = (np.random.default_rng(0).random((3, 1, 80, 80)) * 255).astype(np.float32)
    pts, conf = runner.run(x)
    with torch.no_grad():
        tp, tc = model.eval()(torch.from_numpy(x))
    np.testing.assert_allclose(pts, tp.numpy(), atol=1e-3)
    np.testing.assert_allclose(conf, tc.numpy(), atol=1e-5)
    # one batch dimension throughout: onnxruntime fuses the add decoder's sums only then
    batch = {v.type.tensor_type.shape.dim[0].dim_param for v in proto.graph.value_info if len(v.type.tensor_type.shape.dim) >= 3}
    assert batch == {"N"}


def test_onnxruntime_fuses_the_add_decoders_sums(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")
    import onnxruntime as ort

    from faceanalytics.train.export import export_onnx
    from faceanalytics.train.model import RecombinatorNet

    torch.manual_seed(0)
    path = export_onnx(RecombinatorNet(68, (16, 32, 64, 64), "add"), tmp_path / "add.onnx")
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimised.onnx")
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    ops = [n.op_type for n in onnx.load(str(tmp_path / "optimised.onnx")).graph.node]
    assert ops.count("Add") == 0 and ops.count("Relu") == 0  # both inside the decoder's convolutions
    assert ops.count("Conv") >= 15


def test_box_stats_json(tmp_path: Path) -> None:
    from faceanalytics.train.boxes import BoxStats, sample_detector_box

    stats = BoxStats([0.0, -0.05, 0.0], np.diag([1e-4, 1e-4, 1e-4]).tolist(), 9, 10)
    stats.save(tmp_path / "b.json")
    assert json.loads((tmp_path / "b.json").read_text())["found"] == 9
    box = sample_detector_box(_face(100, 100, 60), BoxStats.load(tmp_path / "b.json"), np.random.default_rng(0))
    assert box.shape == (4,) and 80 < box[2] - box[0] + 40 < 140


# --- the shipped model ---------------------------------------------------------------------------

SHIPPED = Path(__file__).resolve().parents[1] / "faceanalytics" / "weights" / "fpenet68.onnx"


def test_shipped_model_accuracy_floor() -> None:
    """The bundled model on held-out identities, from ground-truth boxes: catches a broken export or crop."""
    if not SHIPPED.exists():
        pytest.skip("faceanalytics/weights/fpenet68.onnx not built yet")
    from faceanalytics.geometry.crop import to_gray
    from faceanalytics.runners.fpenet import FPENetRunner

    samples = read_csv(_need(SHARED / "landmarks68" / "annotations.csv"))
    _, val = split_by_identity(samples, 0.15, seed=0)
    runner = FPENetRunner(SHIPPED, device="cpu")
    errs = []
    for s in val[::10]:
        gray = to_gray(cv2.imread(str(s.path)))
        lo, hi = s.points.min(0), s.points.max(0)
        pts, conf = runner.landmarks(gray, np.array([[lo[0], lo[1], hi[0], hi[1]]], np.float32))
        iod = np.linalg.norm(s.points[36] - s.points[45])
        errs.append(np.linalg.norm(pts[0] - s.points, axis=1).mean() / iod)
        assert conf.shape == (1, 68) and np.all((conf > 0) & (conf <= 1))
    assert len(errs) >= 40
    assert float(np.mean(errs)) < 0.06  # 4.4 % on all 560 held-out frames (models/README.md)


# --- the training loop ---------------------------------------------------------------------------


def test_unlabeled_identity_from_file_name() -> None:
    from faceanalytics.train.data import unlabeled_identity

    assert unlabeled_identity("unlabeled/Abdullah_Gul_10.jpg") == "Abdullah_Gul"
    assert unlabeled_identity("Cher_07.png") == "Cher"
    assert unlabeled_identity("no_number.jpg") == "no_number"


def test_training_smoke_run_uses_only_training_identities_and_resumes(tmp_path: Path) -> None:
    """Three tiny epochs (teacher, stage 2 with unlabeled frames, stage 3) end in a model the runner accepts;
    unlabeled frames of validation identities are never labelled; --resume after the end changes nothing."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from faceanalytics.runtime.hub import home
    from faceanalytics.train.__main__ import main
    from faceanalytics.train.data import unlabeled_identity

    if not (home() / "face_detection_short_range.tflite").exists():
        pytest.skip("BlazeFace weights not in the model cache")
    data = _need(SHARED / "landmarks68")
    samples = read_csv(data / "annotations.csv")
    train_s, val_s = split_by_identity(samples, 0.15, seed=0)
    train_ids = {s.identity for s in train_s[:24]}
    val_id = val_s[0].identity
    ul = tmp_path / "unlabeled"
    ul.mkdir()
    pool = sorted((data / "unlabeled").iterdir())
    picked = [f for f in pool if unlabeled_identity(f) in train_ids][:4]
    picked += [f for f in pool if unlabeled_identity(f) == val_id][:2]
    for f in picked:
        (ul / f.name).write_bytes(f.read_bytes())
    args = ["--data", str(data), "--out", str(tmp_path / "out"), "--limit", "24", "--batch-size", "8", "--no-eye-state"]
    args += ["--unlabeled", str(ul), "--epochs", "3", "--teacher-epochs", "1", "--finetune-epochs", "1", "--widths", "8,16,16,16"]
    assert main(args) == 0
    labelled = np.load(tmp_path / "out" / "checkpoints" / "unlabeled_labels.npz")
    names = [Path(str(f)).name for f in labelled["files"]]
    assert 1 <= len(names) <= 4 and all(unlabeled_identity(n) in train_ids for n in names)
    assert labelled["points"].shape == (len(names), 68, 2)
    history = json.loads((tmp_path / "out" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [0, 1, 2] and all(math.isfinite(h["loss"]) for h in history)
    from faceanalytics.runners.fpenet import FPENetRunner

    assert FPENetRunner(tmp_path / "out" / "fpenet68.onnx", device="cpu").num_points == 68
    assert main([*args, "--resume"]) == 0
    assert len(json.loads((tmp_path / "out" / "history.json").read_text())) == 3
    with pytest.raises(ValueError, match=r"crop_scale=1\.25, not 1\.0"):  # a resume must not change the crops
        main([*args, "--resume", "--crop-scale", "1.0"])
    # Distillation: another run (other widths) whose stage-2 labels come from the first run's teacher.
    teacher = tmp_path / "out" / "checkpoints" / "teacher.pt"
    student = [a if a != str(tmp_path / "out") else str(tmp_path / "student") for a in args[:-2]]
    assert main([*student, "--teacher", str(teacher)]) == 0
    again = np.load(tmp_path / "student" / "checkpoints" / "unlabeled_labels.npz")
    assert list(again["files"]) == list(labelled["files"])
    np.testing.assert_allclose(again["points"], labelled["points"], atol=1e-3)  # the same teacher's labels
    with pytest.raises(FileNotFoundError):
        main([*student, "--out", str(tmp_path / "bad"), "--teacher", str(tmp_path / "missing.pt")])


def test_training_fails_before_stage_1_when_blazeface_cannot_be_found(tmp_path: Path, monkeypatch) -> None:
    """Stage 2's pseudo-labels need BlazeFace: without its weights (a package stripped of them, and
    no network) the run stops at once, not after the hour of stage 1."""
    pytest.importorskip("torch")
    import faceanalytics.runtime.hub as hub
    from faceanalytics.core.errors import DownloadError
    from faceanalytics.train.__main__ import main

    data = _need(SHARED / "landmarks68")
    _need(SHARED / "eye_state")
    monkeypatch.setenv("FACEANALYTICS_HOME", str(tmp_path / "empty"))

    def offline(url, *args, **kwargs):
        raise DownloadError(f"cannot download {url}: no network (test)")

    monkeypatch.setattr(hub, "download", offline)
    stripped = tmp_path / "stripped"
    stripped.mkdir()
    monkeypatch.setattr(hub, "package_weights_dir", lambda: stripped)
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(Path(__file__).resolve().parents[1] / "models" / "box_stats.json", out)  # no BlazeFace run for box statistics
    with pytest.raises(DownloadError):
        main(["--data", str(data), "--out", str(out), "--limit", "24", "--epochs", "3", "--teacher-epochs", "1"])
    assert not (out / "checkpoints" / "last.pt").exists()  # no epoch was trained


@pytest.mark.parametrize("angle", [0.0, 20.0, -15.0])
def test_a_label_offset_survives_flipping(angle: float) -> None:
    """Annotations that sit ``d`` right of the features: a flipped crop's labels must sit right of
    the mirrored features as well, rotated as the mirrored image is (not mirrored to the left)."""
    from faceanalytics.train.augment import augment_matrix, label_shift_correction

    true = _face().astype(np.float64)
    iod = np.linalg.norm(true[36] - true[45])
    labels = true + np.array([0.03 * iod, 0.0])
    base = square_crop_matrices(np.array([[60.0, 55.0, 150.0, 160.0]]), 80, 1.25)[0]
    plain = augment_matrix(base, angle, 1.1, (2.0, -1.0), False)
    flipped = augment_matrix(base, angle, 1.1, (2.0, -1.0), True)
    u = image_to_crop(labels[None], plain[None])[0] - image_to_crop(true[None], plain[None])[0]
    f = image_to_crop(labels[None], flipped[None])[0] - image_to_crop(true[None], flipped[None])[0]
    f = f + label_shift_correction(flipped, labels, 0.03, (36, 45))
    assert u[0, 0] > 0 and f[0, 0] > 0  # right of the features in both crops
    np.testing.assert_allclose(f, np.column_stack([u[:, 0], -u[:, 1]]), atol=1e-3)


def test_crop_augmentation_steps_draw_in_their_documented_order() -> None:
    """The eye-openness and mouth-cue recipes share these steps; each must draw what it documents,
    in that order, or the shipped networks would no longer rebuild as they were trained."""
    torch = pytest.importorskip("torch")
    from faceanalytics.train.crop_augment import blur_or_sharpen, random_affine, random_contrast, random_flip

    x = torch.rand(5, 1, 8, 12) * 255
    gen, ref = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    flipped, mask = random_flip(x, gen)
    assert torch.equal(mask, torch.rand(5, generator=ref) < 0.5)
    assert torch.equal(flipped[mask], x[mask].flip(3)) and torch.equal(flipped[~mask], x[~mask])
    random_affine(x, gen, scale=0.3, angle=0.3, shift=0.2)
    torch.rand(5, generator=ref), torch.rand(5, generator=ref), torch.rand(5, 2, generator=ref)
    blur_or_sharpen(x, gen, span=1.6, low=1.0)
    torch.rand(5, 1, 1, 1, generator=ref)
    random_contrast(x, gen, gain=0.6, gain_span=0.8, offset=60)
    torch.rand(5, 1, 1, 1, generator=ref), torch.rand(5, 1, 1, 1, generator=ref)
    assert torch.equal(torch.rand(4, generator=gen), torch.rand(4, generator=ref))
    # no zoom, turn or shift is the identity; a zero-strength filter changes nothing
    np.testing.assert_allclose(random_affine(x, gen, 0.0, 0.0, 0.0).numpy(), x.numpy(), atol=1e-3)
    np.testing.assert_allclose(blur_or_sharpen(x, gen, span=0.0, low=0.0).numpy(), x.numpy(), atol=1e-4)


def test_fooling_conditions_change_only_the_crops_they_pick() -> None:
    """crop_augment.random_conditions (the eye-openness recipe's ``--nod``, ``--streak``,
    ``--dark``): at share 0 every crop comes back as it was; at share 1 a nod squashes rows towards
    the middle, a streak blurs along x only, and dark dims to whole gray levels."""
    torch = pytest.importorskip("torch")
    from faceanalytics.train.crop_augment import random_conditions

    x = torch.zeros(6, 1, 16, 24)
    x[:, :, 6:10, 4:20] = 200.0  # a bright band across the middle of each crop
    x[:, :, :, 12] = 100.0  # and a vertical line
    same = random_conditions(x, torch.Generator().manual_seed(0), 0.0, 0.0, 0.0)
    np.testing.assert_allclose(same.numpy(), x.numpy(), atol=1e-3)
    nod = random_conditions(x, torch.Generator().manual_seed(0), 1.0, 0.0, 0.0)
    assert (nod[:, 0, 7:9, 8] > 150).all() and (nod[:, 0, 6, 8] < 200).any()  # the band got thinner
    streak = random_conditions(x, torch.Generator().manual_seed(0), 0.0, 1.0, 0.0)
    np.testing.assert_allclose(streak[:, :, 0].sum(-1).numpy(), x[:, :, 0].sum(-1).numpy(), rtol=1e-5)  # spread along x
    assert (streak[:, 0, 0, 11] > 0).sum() >= 3  # the line smeared sideways in most crops
    dark = random_conditions(x, torch.Generator().manual_seed(0), 0.0, 0.0, 1.0)
    assert torch.equal(dark, dark.round()) and float(dark.max()) <= 0.4 * 200 + 30


def test_eye_threshold_scores_each_face_only_with_networks_that_never_saw_it(monkeypatch):
    """The out-of-fold openness of faceanalytics.train.eye_openness: every training face is scored
    once, by the network of its own fold, and that network was trained without it."""
    torch = pytest.importorskip("torch")
    import argparse

    from faceanalytics.train import eye_openness as eo

    def faces(n: int, label: int, first: int) -> tuple[np.ndarray, np.ndarray]:
        ids = np.repeat(np.arange(first, first + n), 2)  # two crops per face, the face's id in every pixel
        return np.broadcast_to(ids[:, None, None], (2 * n, 16, 24)).astype(np.uint8), np.full(2 * n, label, np.float32)

    data = {"closed_train": faces(11, 0, 0), "open_train": faces(23, 1, 100), "lm_train": faces(5, 1, 200)}
    trained: list[set[int]] = []

    class Net(torch.nn.Module):
        def __init__(self, seen: set[int]) -> None:
            super().__init__()
            self.seen = seen

        def forward(self, x):  # logit: +5 for a face this network trained on, -5 otherwise
            ids = x[:, 0, 0, 0].round().long().tolist()
            return torch.tensor([[5.0 if i in self.seen else -5.0] for i in ids])

    def fake_train(x, y, *args, **kwargs):
        seen = {int(v) for v in np.unique(x[:, 0, 0])}
        trained.append(seen)
        return Net(seen)

    monkeypatch.setattr(eo, "train", fake_train)
    args = argparse.Namespace(width=8, epochs=1, seed=3, first_stride=2, nod=0.0, streak=0.0, dark=0.0)
    oof = eo.out_of_fold(data, 4, args)
    assert len(trained) == 4 and all(set(range(200, 205)) <= s for s in trained)  # lm_train in every fold
    assert oof["closed"].shape == (11, 2) and oof["open"].shape == (23, 2)
    assert (oof["closed"] < 0.5).all() and (oof["open"] < 0.5).all()  # no face scored by a network that saw it
    for face in [*range(11), *range(100, 123)]:  # and every other network did see it
        assert sum(face in s for s in trained) == 3


def test_eye_threshold_is_chosen_on_the_faces_combined_openness():
    """choose_threshold judges faces as Eyes.closed does: by both eyes' combined openness, so a
    closed face whose one eye scores 0.85 still counts as found."""
    pytest.importorskip("torch")
    from faceanalytics.train.eye_openness import choose_threshold

    closed = np.tile([0.05, 0.85], (100, 1))  # combined 0.35
    open_ = np.tile([0.95, 0.95], (100, 1))
    t = choose_threshold(closed, open_)
    assert abs(t - (0.36 + 0.95) / 2) <= 0.006  # the middle of 0.36..0.95
