"""Install-level promises: one OpenCV distribution; CI runs the README's test command."""

from __future__ import annotations

import re
from importlib.metadata import distributions
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_exactly_one_opencv_distribution():
    all_names = {(d.metadata["Name"] or "").lower() for d in distributions()}
    names = sorted(n for n in all_names if n.startswith("opencv"))
    assert len(names) == 1, f"several OpenCV wheels share the cv2 package and break each other: {names}"


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, flags=re.S)
    test_cmds = [b.strip() for b in blocks if "pytest" in b]
    assert test_cmds, "README.md must show the test command"
    assert test_cmds[0] in (REPO / ".ci" / "run").read_text()


def _requirements(lines: list[str]) -> dict[str, str]:
    """``{name: version bound}`` of requirement lines, markers dropped."""
    out = {}
    for line in lines:
        line = line.split("#")[0].split(";")[0].strip()
        if line:
            name, bound = re.match(r"([A-Za-z0-9_.-]+)(.*)", line).groups()
            out[name.lower()] = bound.strip()
    return out


def test_the_lean_cpu_requirements_follow_pyproject():
    """requirements-cpu.txt is pyproject's dependency list with two swaps: the CPU onnxruntime for
    the GPU build, headless OpenCV for the contrib build. Anything else added to one must be added
    to the other."""
    tomllib = pytest.importorskip("tomllib")
    deps = _requirements(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"])
    lean = _requirements((REPO / "requirements-cpu.txt").read_text().splitlines())
    assert deps.pop("onnxruntime-gpu") == deps["onnxruntime"] == lean["onnxruntime"]
    assert deps.pop("opencv-contrib-python") == lean.pop("opencv-python-headless")
    assert deps == lean
    assert "onnxruntime-gpu" not in lean and "mediapipe" not in lean


def test_the_package_ships_the_detector_weights_and_their_licence():
    tomllib = pytest.importorskip("tomllib")
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["faceanalytics"]
    assert "weights/*.tflite" in data and "weights/LICENSE-*.txt" in data
    shipped = {p.name for p in (REPO / "faceanalytics" / "weights").iterdir()}
    assert {"face_detection_short_range.tflite", "face_detection_full_range_sparse.tflite", "LICENSE-BlazeFace.txt"} <= shipped
