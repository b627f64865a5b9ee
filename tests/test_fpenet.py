"""The FPENet contract end to end, on ONNX files built by the tests themselves."""

from pathlib import Path

import numpy as np
import pytest
from fpenet_models import bright_spot_fpenet, random_fpenet

from faceanalytics import FaceAnalyticsError, FPENetRunner, ModelFormatError, ModelNotFoundError, Pipeline
from faceanalytics.runners.fpenet import CPU_MAX_BATCH


@pytest.mark.parametrize(("k", "schema"), [(68, "ibug68"), (80, "fpenet80"), (104, "fpenet104")])
def test_contract_models_load_and_run(tmp_path: Path, k: int, schema: str):
    runner = FPENetRunner(random_fpenet(tmp_path / f"m{k}.onnx", k), device="cpu")
    assert runner.num_points == k and runner.schema.name == schema and runner.batch_size is None
    assert runner.providers == ("CPUExecutionProvider",)
    crops = np.random.default_rng(0).uniform(0, 255, (3, 1, 80, 80)).astype(np.float32)
    pts, conf = runner.run(crops)
    assert pts.shape == (3, k, 2) and conf.shape == (3, k)
    assert pts.dtype == np.float32 and conf.dtype == np.float32
    assert ((pts >= 0) & (pts <= 79)).all() and ((conf > 0) & (conf <= 1)).all()
    empty_pts, empty_conf = runner.run(np.zeros((0, 1, 80, 80), np.float32))
    assert empty_pts.shape == (0, k, 2) and empty_conf.shape == (0, k)


def test_80_and_104_points_through_the_pipeline(tmp_path: Path, astronaut):
    for k in (80, 104):
        pipe = Pipeline(random_fpenet(tmp_path / f"p{k}.onnx", k), device="cpu")
        face = pipe(astronaut, boxes=[[177, 82, 272, 177]]).faces[0]
        assert face.landmarks.shape == (k, 2) and face.confidence.shape == (k,)
        assert face.schema.num_points == k
        assert face.region("pupils").shape == (8, 2) and face.region("ears").shape == (4, 2)
        if k == 104:
            assert face.region("eye_contours").shape == (24, 2)
        assert face.region("left_eye").shape == (6, 2)


def test_fixed_batch_models_are_chunked_and_padded(tmp_path: Path):
    dynamic = FPENetRunner(random_fpenet(tmp_path / "dyn.onnx", 68, seed=5), device="cpu")
    fixed = FPENetRunner(random_fpenet(tmp_path / "fix.onnx", 68, batch=4, seed=5), device="cpu")
    assert fixed.batch_size == 4
    crops = np.random.default_rng(1).uniform(0, 255, (7, 1, 80, 80)).astype(np.float32)
    for n in (1, 4, 7):
        p1, c1 = dynamic.run(crops[:n])
        p2, c2 = fixed.run(crops[:n])
        np.testing.assert_allclose(p1, p2, atol=1e-4)
        np.testing.assert_allclose(c1, c2, atol=1e-6)


def test_large_batches_run_in_chunks_on_the_cpu(tmp_path: Path):
    path = random_fpenet(tmp_path / "dyn.onnx", 68, seed=5)
    whole = FPENetRunner(path, device="cpu", max_batch=64)
    chunked = FPENetRunner(path, device="cpu", max_batch=3)
    assert FPENetRunner(path, device="cpu").chunk == CPU_MAX_BATCH and chunked.chunk == 3
    calls: list[int] = []
    raw = chunked._run_raw
    chunked._run_raw = lambda c: calls.append(len(c)) or raw(c)  # type: ignore[method-assign]
    crops = np.random.default_rng(1).uniform(0, 255, (7, 1, 80, 80)).astype(np.float32)
    p1, c1 = whole.run(crops)
    p2, c2 = chunked.run(crops)
    assert calls == [3, 3, 1]
    np.testing.assert_allclose(p1, p2, atol=1e-4)
    np.testing.assert_allclose(c1, c2, atol=1e-6)
    with pytest.raises(ValueError, match="max_batch"):
        FPENetRunner(path, device="cpu", max_batch=0)


def test_rank3_confidence_output_is_accepted(tmp_path: Path):
    runner = FPENetRunner(random_fpenet(tmp_path / "c3.onnx", 68, conf_rank3=True), device="cpu")
    _, conf = runner.run(np.zeros((2, 1, 80, 80), np.float32))
    assert conf.shape == (2, 68)


def test_extra_heatmap_output_is_not_required(tmp_path: Path):
    runner = FPENetRunner(random_fpenet(tmp_path / "lean.onnx", 68, outputs=("softargmax", "softargmax:1")), device="cpu")
    assert runner.num_points == 68


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"input_name": "image"}, "no input named 'input_face_images'"),
        ({"input_shape": ("N", 3, 80, 80)}, r"expected \[N, 1, 80, 80\]"),
        ({"outputs": ("softargmax",)}, "no output named 'softargmax:1'"),
        ({"k": 50}, "50 keypoints"),
    ],
)
def test_wrong_contract_names_what_is_wrong(tmp_path: Path, kwargs, match):
    kwargs = dict(kwargs)
    k = kwargs.pop("k", 68)
    input_shape = kwargs.get("input_shape")
    if input_shape is not None:  # a 3-channel input needs a 3-channel kernel to be a valid graph
        pytest.importorskip("onnx")
        path = _three_channel_model(tmp_path / "bad.onnx")
    else:
        path = random_fpenet(tmp_path / "bad.onnx", k, **kwargs)
    with pytest.raises(ModelFormatError, match=match) as info:
        FPENetRunner(path, device="cpu")
    assert str(path) in str(info.value)


def _three_channel_model(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.zeros((68, 3, 1, 1), np.float32), "w")
    shape = numpy_helper.from_array(np.array([0, 68, 6400], np.int64), "s")
    grid = numpy_helper.from_array(np.zeros((6400, 2), np.float32), "g")
    nodes = [
        helper.make_node("Conv", ["input_face_images", "w"], ["c"]),
        helper.make_node("Reshape", ["c", "s"], ["f"]),
        helper.make_node("Softmax", ["f"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "g"], ["softargmax"]),
        helper.make_node("ReduceMax", ["p"], ["softargmax:1"], axes=[-1], keepdims=0),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("input_face_images", TensorProto.FLOAT, ["N", 3, 80, 80])],
        [helper.make_tensor_value_info("softargmax", TensorProto.FLOAT, ["N", 68, 2]),
         helper.make_tensor_value_info("softargmax:1", TensorProto.FLOAT, ["N", 68])],
        initializer=[w, shape, grid],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_files_that_are_not_models(tmp_path: Path, fpenet68: Path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00not an onnx model at all" * 50)
    with pytest.raises(ModelFormatError, match="cannot load") as info:
        FPENetRunner(junk, device="cpu")
    assert "junk.onnx" in str(info.value)
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(fpenet68.read_bytes()[:2000])
    with pytest.raises(ModelFormatError):
        FPENetRunner(truncated, device="cpu")
    with pytest.raises(ModelNotFoundError, match="not found"):
        FPENetRunner(tmp_path / "nope.onnx", device="cpu")
    with pytest.raises(ModelNotFoundError, match="not a file"):
        FPENetRunner(tmp_path, device="cpu")
    assert issubclass(ModelFormatError, FaceAnalyticsError) and issubclass(ModelNotFoundError, FileNotFoundError)


def test_crops_of_the_wrong_shape_are_refused(fpenet68: Path):
    runner = FPENetRunner(fpenet68, device="cpu")
    with pytest.raises(ValueError, match=r"\(M, 1, 80, 80\)"):
        runner.run(np.zeros((1, 80, 80), np.float32))


def _spot_image(x: float, y: float, sigma: float, size=(300, 400)) -> np.ndarray:
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]]
    blob = 255 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return np.repeat(np.rint(blob)[..., None], 3, axis=2).astype(np.uint8)


def test_crop_geometry_round_trip_with_a_bright_spot(spot_model: Path):
    """The spot model returns the brightest point of its crop; mapped back, it must land on the
    spot we drew, for any box size and offset, to a tenth of a crop pixel (an inverse that mixed
    pixel-centre and pixel-corner conventions would be off by about half a crop pixel)."""
    pipe = Pipeline(spot_model, device="cpu")
    rng = np.random.default_rng(7)
    worst = 0.0
    for _ in range(12):
        side = rng.uniform(40, 220)
        x, y = rng.uniform(60, 340), rng.uniform(60, 240)
        dx, dy = rng.uniform(-0.2, 0.2, 2) * side
        box = [x - side / 2 + dx, y - side / 2 + dy, x + side / 2 + dx, y + side / 2 + dy * 0.5]
        face = pipe(_spot_image(x, y, sigma=side / 80 * 6), boxes=[box]).faces[0]  # 6 crop pixels
        err = np.abs(face.landmarks - [x, y]).max() / (side / 80)  # in crop pixels
        worst = max(worst, err)
    assert worst < 0.1, worst


def test_spot_in_a_box_that_leaves_the_frame(spot_model: Path):
    pipe = Pipeline(spot_model, device="cpu")
    img = _spot_image(30.3, 20.7, sigma=9.0)
    face = pipe(img, boxes=[[-40, -50, 80, 70]]).faces[0]
    np.testing.assert_allclose(face.landmarks[0], [30.3, 20.7], atol=0.3)


def test_several_boxes_in_one_run_keep_their_order(spot_model: Path):
    pipe = Pipeline(spot_model, device="cpu")
    img = np.maximum(_spot_image(100, 100, 7), _spot_image(300, 200, 7))
    res = pipe(img, boxes=[[250, 150, 350, 250], [50, 50, 150, 150]])
    np.testing.assert_allclose(res.faces[0].landmarks[0], [300, 200], atol=0.3)
    np.testing.assert_allclose(res.faces[1].landmarks[0], [100, 100], atol=0.3)


def test_bright_spot_model_with_fixed_batch(tmp_path: Path):
    pipe = Pipeline(bright_spot_fpenet(tmp_path / "spot_b2.onnx", 68, beta=0.05, batch=2), device="cpu")
    img = _spot_image(200, 150, 7)
    res = pipe(img, boxes=[[150, 100, 250, 200]] * 3)
    for face in res.faces:
        np.testing.assert_allclose(face.landmarks[0], [200, 150], atol=0.3)


def _with_crop_scale(src: Path, dst: Path, value: str) -> Path:
    import onnx

    proto = onnx.load(str(src))
    onnx.helper.set_model_props(proto, {"crop_scale": value})
    onnx.save(proto, str(dst))
    return dst


def test_crop_scale_metadata_widens_the_crop(tmp_path: Path, spot_model: Path):
    """A model trained with a margin declares ``crop_scale``; the runner cuts the wider crop, so a
    spot in the margin, outside the box itself, is found where it is (TAO's crop cannot reach it)."""
    wide = _with_crop_scale(spot_model, tmp_path / "wide.onnx", "1.25")
    assert FPENetRunner(spot_model, device="cpu").crop_scale == 1.0
    assert FPENetRunner(wide, device="cpu").crop_scale == 1.25
    img = _spot_image(200, 208, 6)  # box 150..250: the spot sits 8 px below its bottom edge
    box = [[150, 100, 250, 200]]
    found = Pipeline(wide, device="cpu")(img, boxes=box).faces[0].landmarks[0]
    np.testing.assert_allclose(found, [200, 208], atol=0.3)
    clipped = Pipeline(spot_model, device="cpu")(img, boxes=box).faces[0].landmarks[0]
    assert clipped[1] < 200.5  # the plain crop ends at the box


def test_crop_scale_argument_and_bad_values(tmp_path: Path, spot_model: Path):
    from faceanalytics import ParameterError

    assert FPENetRunner(spot_model, device="cpu", crop_scale=1.5).crop_scale == 1.5
    for bad in (0.0, -1, float("nan"), "wide", 10):
        with pytest.raises(ParameterError, match="crop_scale"):
            FPENetRunner(spot_model, device="cpu", crop_scale=bad)
    for bad in ("wide", "0", "nan"):
        with pytest.raises(ModelFormatError, match="crop_scale"):
            FPENetRunner(_with_crop_scale(spot_model, tmp_path / f"bad_{bad}.onnx", bad), device="cpu")
