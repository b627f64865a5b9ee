import logging
import subprocess
import sys

import onnxruntime as ort
import pytest

import faceanalytics.runtime.device as device_module
from faceanalytics import DeviceError, FPENetRunner
from faceanalytics.runtime.device import check_provider, create_session, resolve_providers

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
    assert auto[-1] == CPU and (auto[0] == CUDA) == check_provider(CUDA).works


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
    """Independent of check_provider: a real session on the model, in a child process (its native
    error lines stay there)."""
    if CUDA not in ort.get_available_providers():
        return False
    code = f"import onnxruntime as o; print(o.InferenceSession({str(model)!r}, providers={[CUDA, CPU]!r}).get_providers()[0])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip() == CUDA


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


def test_cpu_always_passes_its_check_and_unknown_providers_fail():
    assert check_provider(CPU).works
    bogus = check_provider("NoSuchExecutionProvider")
    assert not bogus.works and not bogus.compiled and "not in this onnxruntime build" in bogus.reason


def test_a_gpu_without_driver_or_libraries_gives_one_warning_and_no_native_output(fpenet68, caplog, capfd, monkeypatch):
    """onnxruntime-gpu lists CUDA on any machine; asking for it where it cannot run must cost one
    log line with the reason, not onnxruntime's native error spew, and the session runs on the CPU."""
    if _cuda_really_runs(fpenet68):
        pytest.skip("CUDA really runs here")
    monkeypatch.setattr(device_module, "_checks", {})
    monkeypatch.setattr(device_module, "_warned", set())
    if CUDA in ort.get_available_providers():  # force the child-process test inference, whatever the driver
        monkeypatch.setattr(device_module, "_nvidia_driver", lambda: "")
    capfd.readouterr()
    with caplog.at_level(logging.WARNING, logger="faceanalytics"):
        first = FPENetRunner(fpenet68, device="cuda")
        second = FPENetRunner(fpenet68, device="cuda")
    assert first.providers == second.providers == (CPU,)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "cuda" in warnings[0] and CUDA in warnings[0], warnings
    assert "<bytes>" not in warnings[0]
    native = capfd.readouterr()
    assert native.err == "" and native.out == "", native.err[:500]
    check = check_provider(CUDA)
    assert not check.works and check.reason


def test_the_driver_check_comes_first(monkeypatch):
    if CUDA not in ort.get_available_providers():
        pytest.skip("this onnxruntime has no CUDA provider")
    monkeypatch.setattr(device_module, "_checks", {})
    monkeypatch.setattr(device_module, "_nvidia_driver", lambda: "no NVIDIA driver (libcuda.so.1 not found)")
    monkeypatch.setattr(device_module.subprocess, "run", lambda *a, **k: pytest.fail("no child process without a driver"))
    check = check_provider(CUDA)
    assert check.compiled and not check.works and "driver" in check.reason
