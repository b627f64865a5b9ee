import logging

import onnxruntime as ort
import pytest

from faceanalytics import DeviceError, FPENetRunner
from faceanalytics.device import create_session, resolve_providers

CPU, CUDA, TRT = "CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"


def test_resolve_named_devices(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEANALYTICS_HOME", str(tmp_path))
    assert resolve_providers("cpu") == [CPU]
    assert resolve_providers("CUDA") == [(CUDA, {"device_id": 0}), CPU]
    assert resolve_providers("cuda:3") == [(CUDA, {"device_id": 3}), CPU]
    trt = resolve_providers("tensorrt")
    assert [p if isinstance(p, str) else p[0] for p in trt] == [TRT, CUDA, CPU]
    assert trt[0][1]["trt_fp16_enable"] and trt[0][1]["trt_engine_cache_enable"]
    assert trt[0][1]["trt_engine_cache_path"] == str(tmp_path / "tensorrt")
    auto = resolve_providers("auto")
    assert auto[-1] == CPU and (auto[0] == CUDA) == (CUDA in ort.get_available_providers())


def test_explicit_provider_lists_pass_through():
    assert resolve_providers([CPU]) == [CPU]
    assert resolve_providers([(CUDA, {"device_id": 1}), CPU]) == [(CUDA, {"device_id": 1}), CPU]


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "", [], [42], None, 3])
def test_unknown_devices_raise(device):
    with pytest.raises(DeviceError):
        resolve_providers(device)


def test_bad_thread_counts_raise(fpenet68):
    with pytest.raises(DeviceError, match="threads"):
        create_session(fpenet68, "cpu", threads=0)
    sess = create_session(fpenet68, "cpu", threads=1)
    assert sess.get_session_options().intra_op_num_threads == 1


def _cuda_really_runs(model) -> bool:
    if CUDA not in ort.get_available_providers():
        return False
    ort.set_default_logger_severity(4)
    try:
        return ort.InferenceSession(str(model), providers=[CUDA, CPU]).get_providers()[0] == CUDA
    finally:
        ort.set_default_logger_severity(2)


def test_auto_is_quiet_and_providers_are_visible(fpenet68, caplog):
    with caplog.at_level(logging.WARNING, logger="faceanalytics"):
        runner = FPENetRunner(fpenet68, device="auto")
    assert not caplog.records
    expected = CUDA if _cuda_really_runs(fpenet68) else CPU
    assert runner.providers[0] == expected and runner.providers[-1] == CPU


def test_explicit_gpu_that_ends_on_cpu_warns(fpenet68, caplog):
    if _cuda_really_runs(fpenet68):
        pytest.skip("CUDA really runs here; the fallback warning cannot happen")
    with caplog.at_level(logging.WARNING, logger="faceanalytics"):
        runner = FPENetRunner(fpenet68, device="cuda")
    assert runner.providers == (CPU,)
    assert any("CPU" in r.getMessage() or "lacks" in r.getMessage() for r in caplog.records)
