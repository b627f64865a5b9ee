"""The rebuild chain's bookkeeping (faceanalytics/train/register.py and release.py): declared
digests, calibrations and the eye threshold rewritten in the source, and the order of the steps.
No torch needed: nothing here trains."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

from faceanalytics.runners.point_confidence import PointCalibration
from faceanalytics.runtime import hub
from faceanalytics.train import register, release

SHA = "ab" * 32


def _load(source: str, tmp_path: Path, name: str):
    """Import ``source`` as a fresh module (the rewritten file, not the installed one)."""
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"_rewritten_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def _changed_lines(a: str, b: str) -> list[str]:
    return [y for x, y in zip(a.splitlines(), b.splitlines(), strict=True) if x != y]


def test_set_digest_rewrites_one_model_and_nothing_else(tmp_path):
    source = register.REGISTRY_SOURCE.read_text()
    new = register.set_digest(source, "fpenet68-int8", SHA, 1_234_567)
    assert len(_changed_lines(source, new)) == 2  # its sha256 and size lines
    module = _load(new, tmp_path, "registry")
    assert module.LANDMARK_MODELS["fpenet68-int8"].sha256 == SHA
    assert module.LANDMARK_MODELS["fpenet68-int8"].size == 1_234_567
    old = _load(source, tmp_path, "registry_old")
    for name in ("fpenet68", "fpenet68-fp16"):
        assert repr(module.LANDMARK_MODELS[name]) == repr(old.LANDMARK_MODELS[name])  # each load has its own class
    assert repr(module.MOUTH_LINEAR_MODEL) == repr(old.MOUTH_LINEAR_MODEL)
    # the entry after a model whose spec is the last one before a module-level spec
    module = _load(register.set_digest(source, "mouth-linear", SHA, 9), tmp_path, "registry_linear")
    assert (module.MOUTH_LINEAR_MODEL.sha256, module.MOUTH_LINEAR_MODEL.size) == (SHA, 9)
    assert repr(dict(module.EXPRESSION_MODELS)) == repr(dict(old.EXPRESSION_MODELS))


def test_set_digest_refuses_unknown_models_and_bad_digests():
    source = register.REGISTRY_SOURCE.read_text()
    with pytest.raises(register.SourceEditError, match="'no-such-model'"):
        register.set_digest(source, "no-such-model", SHA, 1)
    with pytest.raises(ValueError, match="sha256"):
        register.set_digest(source, "fpenet68", "xyz", 1)


def test_set_calibrations_replaces_the_named_entries(tmp_path):
    source = register.CALIBRATION_SOURCE.read_text()
    fitted = PointCalibration("fpenet68-int8", (1.0, 2.0, 3.0, 4.0, 5.0), (0.0, 0.1, 0.2, 0.3, -0.4), 2.71828)
    new = register.set_calibrations(source, [fitted])
    assert len(_changed_lines(source, new)) == 1
    module = _load(new, tmp_path, "point_confidence")
    got = module.CALIBRATIONS["fpenet68-int8"]
    assert (got.intercept, got.slope, got.face_slope) == (fitted.intercept, fitted.slope, 2.7183)
    old = _load(source, tmp_path, "point_confidence_old")
    assert module.CALIBRATIONS["fpenet68"].weights.tolist() == old.CALIBRATIONS["fpenet68"].weights.tolist()
    with pytest.raises(register.SourceEditError):
        register.set_calibrations(source, [PointCalibration("other", (0.0,) * 5, (0.0,) * 5, 0.0)])


def test_set_threshold(tmp_path):
    source = register.EYES_SOURCE.read_text()
    new = register.set_threshold(source, 0.615)
    assert "DEFAULT_OPENNESS_THRESHOLD = 0.61\n" in new or "DEFAULT_OPENNESS_THRESHOLD = 0.62\n" in new
    assert len(_changed_lines(source, new)) == 1
    with pytest.raises(ValueError, match="in \\(0, 1\\)"):
        register.set_threshold(source, 1.0)


def test_the_shipped_declarations_are_in_step_with_the_files():
    assert register.pending_changes() == []
    assert register.main(["--check"]) == 0


def test_a_changed_file_and_a_stale_threshold_are_found(tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    shutil.copytree(hub.package_weights_dir(), weights)
    (weights / "mouth_calibration.json").write_text("{}")
    changes = register.pending_changes(weights=weights)
    assert [c.what for c in changes] == ["mouth-linear"]
    assert changes[0].actual == f"{hub.sha256_file(weights / 'mouth_calibration.json')} 2"
    import faceanalytics.plugins.eyes as eyes

    monkeypatch.setattr(eyes, "DEFAULT_OPENNESS_THRESHOLD", 0.5)
    assert [c.what for c in register.pending_changes(["fpenet68"], weights=weights)] == ["threshold"]
    with pytest.raises(ValueError, match="not shipped"):
        register.pending_changes(["nope"], weights=weights)


def test_release_steps_run_in_dependency_order():
    names = [s.name for s in release.plan()]
    assert names[0] == "landmarks"  # everything after it is fitted on the new model's points
    assert names.index("quantize") < names.index("confidence")  # the calibration covers the quantised files
    assert [s.name for s in release.plan("eyes")] == ["eyes", "expression"]
    assert [s.name for s in release.plan(only=["expression", "quantize"])] == ["quantize", "expression"]
    with pytest.raises(ValueError, match="unknown step"):
        release.plan("bogus")


def test_release_dry_run_registers_after_every_step(tmp_path, capsys):
    assert release.main(["--run", str(tmp_path), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"landmarks copy {tmp_path.resolve()}/fpenet68.onnx faceanalytics/weights/fpenet68.onnx" in lines
    for step in release.STEPS:
        own = [line for line in lines if line.split()[0] == step.name]
        assert own[-1] == f"{step.name} python -m faceanalytics.train.register {' '.join(step.register)}".rstrip()


def test_release_refuses_an_unfinished_run(tmp_path):
    with pytest.raises(SystemExit):
        release.main(["--run", str(tmp_path)])


def test_release_steps_copy_and_run_against_this_checkout(tmp_path, monkeypatch):
    """A copy step refuses a missing file (an unfinished run); a command runs from the repository
    root with the checkout first on PYTHONPATH (benchmarks/*.py must import this checkout's package)."""
    with pytest.raises(FileNotFoundError, match="training run finished"):
        release._execute(("copy", str(tmp_path / "fpenet68.onnx"), "faceanalytics/weights/never.onnx"))
    seen = {}

    def fake_run(cmd, cwd, check, env):
        seen.update(cmd=cmd, cwd=cwd, check=check, path=env["PYTHONPATH"])

    monkeypatch.setattr(release.subprocess, "run", fake_run)
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    release._execute(("python", "benchmarks/point_confidence.py", "--write"))
    assert seen["cmd"] == [sys.executable, "benchmarks/point_confidence.py", "--write"]
    assert seen["cwd"] == release.ROOT and seen["check"] is True
    assert seen["path"].split(os.pathsep) == [str(release.ROOT), "/elsewhere"]
