"""Model files that are truncated, corrupt, of the wrong kind or tampered with: each gives a
ModelFormatError or ChecksumError that names the file and says what to do; none runs code."""

from __future__ import annotations

import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, SHARED
from fpenet_models import random_fpenet

from faceanalytics import BlazeFaceDetector, ChecksumError, FPENetRunner, ModelFormatError, Pipeline
from faceanalytics.runtime.registry import LANDMARK_MODELS


class _Bomb:
    """Unpickling this creates ``marker``: proof that a loader ran code from the file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory) -> Path:
    return random_fpenet(tmp_path_factory.mktemp("mf") / "good.onnx", 68)


def _landmark_error(path: Path, *fix: str) -> str:
    with pytest.raises(ModelFormatError) as info:
        FPENetRunner(path, device="cpu")
    msg = str(info.value)
    assert str(path) in msg, msg
    for words in fix:
        assert words in msg, msg
    return msg


@pytest.mark.parametrize("keep", [0, 16, 0.1, 0.5, 0.99])
def test_truncated_onnx_files(tmp_path, onnx_model, keep):
    data = onnx_model.read_bytes()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: keep if isinstance(keep, int) else int(len(data) * keep)])
    _landmark_error(path, "copy or export it again")


def test_files_of_another_kind_as_landmark_model(tmp_path):
    noise = tmp_path / "noise.onnx"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    _landmark_error(noise, "not a complete ONNX model")
    tflite = SHARED / "models" / "face_detection_short_range.tflite"
    if tflite.is_file():
        _landmark_error(tflite, "another format such as .tflite")
    text = tmp_path / "model.onnx"
    text.write_text("this is a README, not a model\n")
    _landmark_error(text)


def test_a_wrong_contract_says_where_the_contract_is(tmp_path):
    msg = _landmark_error(random_fpenet(tmp_path / "bad.onnx", 68, input_name="image"), "docs/models.md")
    assert "input_face_images" in msg


def test_a_tampered_bundled_model_fails_its_checksum(tmp_path, monkeypatch):
    if "fpenet68" not in LANDMARK_MODELS:
        pytest.skip("no bundled landmark model")
    import faceanalytics.runtime.hub as hub

    src = hub.package_weights_dir() / LANDMARK_MODELS["fpenet68"].filename
    if not src.is_file():
        pytest.skip(f"{src} is not built in this checkout")
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / src.name).write_bytes(bytes(data))
    monkeypatch.setattr(hub, "package_weights_dir", lambda: tmp_path)
    with pytest.raises(ChecksumError, match="reinstall faceanalytics") as info:
        Pipeline("fpenet68", device="cpu")
    assert str(tmp_path / src.name) in str(info.value)


@pytest.mark.parametrize("name", ["eye-openness", "mouth-cues", "expression-fer5"])
def test_a_tampered_plugin_network_fails_its_checksum(name, tmp_path, monkeypatch):
    """Each small network a plugin ships: the package's file matches the registry; one flipped
    byte is refused with a reinstall hint; the plugin's network-free mode still needs no file."""
    import faceanalytics.runtime.hub as hub
    from faceanalytics.plugins import ExpressionPlugin, EyesPlugin, MouthPlugin
    from faceanalytics.runtime.registry import EXPRESSION_MODELS, EYE_MODELS, MOUTH_LINEAR_MODEL, MOUTH_MODELS

    registry, lookup, plugin, without_net = {
        "eye-openness": (EYE_MODELS, hub.eye_model_path, EyesPlugin, lambda: EyesPlugin(net=None)),
        "mouth-cues": (MOUTH_MODELS, hub.mouth_model_path, MouthPlugin, lambda: MouthPlugin(net=None)),
        "expression-fer5": (EXPRESSION_MODELS, hub.expression_model_path, ExpressionPlugin, None),
    }[name]
    src = hub.package_weights_dir() / registry[name].filename
    assert lookup(name)[0] == src and src.stat().st_size == registry[name].size
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / src.name).write_bytes(bytes(data))
    linear = hub.package_weights_dir() / MOUTH_LINEAR_MODEL.filename  # the landmark-only mouth cues' models, intact
    (tmp_path / linear.name).write_bytes(linear.read_bytes())
    monkeypatch.setattr(hub, "package_weights_dir", lambda: tmp_path)
    with pytest.raises(ChecksumError, match="reinstall faceanalytics"):
        plugin()
    if without_net is not None:
        without_net()


def test_pickles_are_never_loaded(tmp_path):
    """A pickle that would create a file when unpickled, offered as every kind of model: refused,
    and the file is not created."""
    marker = tmp_path / "code_ran"
    payload = pickle.dumps(_Bomb(marker))
    for name in ("model.onnx", "model.pt", "model.pkl"):
        path = tmp_path / name
        path.write_bytes(payload)
        _landmark_error(path)
    path = tmp_path / "detector.tflite"
    path.write_bytes(payload)
    for backend in ("onnx", "mediapipe"):
        with pytest.raises(ModelFormatError, match="not a TensorFlow Lite file"):
            BlazeFaceDetector(model_path=path, backend=backend)
    assert not marker.exists()


def test_the_library_has_no_code_loading_deserialisers():
    """No pickle, marshal, eval/exec, unsafe YAML or numpy pickles; torch checkpoints (training
    only) load with weights_only=True."""
    banned = [
        (r"\bimport pickle\b|\bpickle\.load", "pickle"),
        (r"\bmarshal\b|\bdill\b|\bjoblib\b|\bcloudpickle\b", "code-loading serialiser"),
        (r"(?<![\w.])(eval|exec)\(", "eval/exec"),
        (r"yaml\.(unsafe_)?load\(", "YAML loader"),
        (r"allow_pickle\s*=\s*True", "numpy pickles"),
        (r"torch\.load\((?![^)]*weights_only=True)", "torch.load without weights_only=True"),
    ]
    found = []
    for path in sorted((REPO / "faceanalytics").rglob("*.py")):
        text = path.read_text()
        for pattern, what in banned:
            found += [f"{path.relative_to(REPO)}: {what}" for _ in re.finditer(pattern, text)]
    assert not found, found


# --- detector (.tflite) files -------------------------------------------------------------------------


def _detector_error(path: Path, match: str, backend: str = "mediapipe") -> str:
    with pytest.raises(ModelFormatError, match=match) as info:
        BlazeFaceDetector(model_path=path, backend=backend)
    msg = str(info.value)
    assert str(path) in msg and ".tflite" in msg, msg
    return msg


def _short_range() -> bytes:
    src = SHARED / "models" / "face_detection_short_range.tflite"
    if not src.is_file():
        pytest.skip(f"needs {src}")
    return src.read_bytes()


def test_detector_files_of_another_kind(tmp_path, onnx_model):
    empty = tmp_path / "empty.tflite"
    empty.write_bytes(b"")
    _detector_error(empty, "not a TensorFlow Lite file")
    _detector_error(onnx_model, "not a TensorFlow Lite file")
    folder_copy = tmp_path / "noise.tflite"
    folder_copy.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(100))  # the identifier, then nothing
    _detector_error(folder_copy, "MediaPipe")
    # the onnxruntime backend reads the file with its own parser: the same files, its own messages
    _detector_error(empty, "not a TensorFlow Lite file", backend="onnx")
    _detector_error(onnx_model, "not a TensorFlow Lite file", backend="onnx")
    _detector_error(folder_copy, "TFLite", backend="onnx")


def test_truncated_detector_file(tmp_path):
    data = _short_range()
    path = tmp_path / "cut.tflite"
    path.write_bytes(data[: len(data) // 3])
    _detector_error(path, "MediaPipe cannot load")
    _detector_error(path, "TFLite", backend="onnx")


def test_a_corruption_that_aborts_mediapipe_is_caught_in_a_child_process(tmp_path):
    """One changed byte in the model's version string makes MediaPipe's C++ loader throw an
    uncaught std::invalid_argument and abort() the process (found by fuzzing). The child-process
    test load turns that into an error here, and this process lives on."""
    data = bytearray(_short_range())
    at = data.index(b"\x05\x00\x00\x001.0.0") + 4  # a length-prefixed flatbuffer string
    data[at] = 0xA3
    path = tmp_path / "aborts.tflite"
    path.write_bytes(bytes(data))
    msg = _detector_error(path, "MediaPipe crashed")
    assert "the file is corrupt" in msg and "download-models" in msg
    try:  # our own parser reads a string byte as data: it converts the file or refuses it, never aborts
        BlazeFaceDetector(model_path=path, backend="onnx").close()
    except ModelFormatError as exc:
        assert str(path) in str(exc)


def test_a_good_file_under_another_name_loads_once_checked(tmp_path, monkeypatch):
    """MediaPipe loads a file the registry does not know only after a child process survived it,
    once per digest; a registered file under another name needs no child process."""
    import faceanalytics.runtime.model_probe as model_probe

    probed: list[Path] = []
    probe = model_probe._probe

    def counting(path: Path, timeout: float) -> None:
        probed.append(Path(path))
        probe(path, timeout)

    monkeypatch.setattr(model_probe, "_probe", counting)
    monkeypatch.setattr(model_probe, "_verified", set())
    data = bytearray(_short_range())
    registered = tmp_path / "registered.tflite"
    registered.write_bytes(bytes(data))
    BlazeFaceDetector(model_path=registered, backend="mediapipe").close()
    assert probed == []  # its digest is in the registry
    data[-1] ^= 0x01  # a byte the model loads without: another digest, the same detector
    path = tmp_path / "mine.tflite"
    path.write_bytes(bytes(data))
    det = BlazeFaceDetector(model_path=path, backend="mediapipe")  # the onnx backend has no child process
    assert probed == [path]  # tested in a child first, then loaded here
    assert det.detect(np.zeros((64, 64, 3), np.uint8)) == ()
    det.close()
    shutil.copy(path, tmp_path / "again.tflite")
    BlazeFaceDetector(model_path=tmp_path / "again.tflite", backend="mediapipe").close()
    assert probed == [path]  # same digest: no second child process


@pytest.mark.parametrize("name", sorted(LANDMARK_MODELS))
def test_shipped_landmark_models_declare_their_crop(name):
    """The registry's crop_scale and the file's metadata agree (the runner refuses a mismatch)."""
    import onnx

    spec = LANDMARK_MODELS[name]
    path = REPO / "faceanalytics" / "weights" / spec.filename
    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    assert float(props.get("crop_scale", 1.0)) == spec.crop_scale
    assert FPENetRunner(name, device="cpu").crop_scale == spec.crop_scale


def test_a_registry_crop_scale_the_file_contradicts_is_refused(tmp_path, monkeypatch):
    import dataclasses

    import onnx

    import faceanalytics.runners.fpenet as fpenet

    src = random_fpenet(tmp_path / "m.onnx", 68)
    proto = onnx.load(str(src))
    onnx.helper.set_model_props(proto, {"crop_scale": "1.25"})
    onnx.save(proto, str(src))
    spec = dataclasses.replace(LANDMARK_MODELS["fpenet68"], crop_scale=1.0)
    monkeypatch.setattr(fpenet, "_locate", lambda model: (src, spec))
    with pytest.raises(ModelFormatError, match=r"crop_scale 1\.25 but 'fpenet68' is registered with 1\.0"):
        FPENetRunner("fpenet68", device="cpu")
