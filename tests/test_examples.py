"""The example scripts run as users run them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, check=False)


def test_detect_image_example(detector_home, fpenet68, astronaut_file, tmp_path):
    out = tmp_path / "annotated.jpg"
    proc = _run(str(EXAMPLES / "detect_image.py"), str(astronaut_file), str(out), "--landmark-model", str(fpenet68))
    assert proc.returncode == 0, proc.stderr
    assert "1 face(s)" in proc.stdout
    assert cv2.imread(str(out)).shape == (512, 512, 3)


def test_custom_detector_example_uses_haar(fpenet68, astronaut_file):
    proc = _run(str(EXAMPLES / "custom_detector.py"), str(astronaut_file), "--landmark-model", str(fpenet68))
    assert proc.returncode == 0, proc.stderr
    faces = json.loads(proc.stdout)["faces"]
    assert len(faces) == 1 and faces[0]["detector_keypoints"] == [] and len(faces[0]["landmarks"]) == 68
    x1, y1, x2, y2 = faces[0]["box"]
    assert 150 < (x1 + x2) / 2 < 300 and 80 < (y1 + y2) / 2 < 200


def test_custom_plugin_example(detector_home, fpenet68, astronaut_file):
    proc = _run(str(EXAMPLES / "custom_plugin.py"), str(astronaut_file), "--landmark-model", str(fpenet68))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("EyeDistance(pixels=")
