"""The example scripts run as users run them."""

from __future__ import annotations

import json
import re
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
    assert not re.search(r"\d\.\d{3,}", proc.stdout), proc.stdout  # no float32 noise after rounding
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


def test_head_pose_example(detector_home, fpenet68, astronaut_file, tmp_path):
    out = tmp_path / "posed.jpg"
    proc = _run(str(EXAMPLES / "head_pose.py"), str(astronaut_file), "--out", str(out), "--landmark-model", str(fpenet68))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("face 0: ")
    assert cv2.imread(str(out)).shape == (512, 512, 3)


def test_align_faces_example(detector_home, fpenet68, astronaut_file, tmp_path):
    proc = _run(
        str(EXAMPLES / "align_faces.py"),
        str(astronaut_file),
        "--out",
        str(tmp_path / "al"),
        "--size",
        "96",
        "--landmark-model",
        str(fpenet68),
    )
    assert proc.returncode == 0, proc.stderr
    crops = list((tmp_path / "al").glob("*.png"))
    assert "aligned face(s)" in proc.stdout
    for c in crops:
        assert cv2.imread(str(c)).shape == (96, 96, 3)


def test_batch_folder_example(detector_home, fpenet68, astronaut_file, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.png").write_bytes(astronaut_file.read_bytes())
    (folder / "broken.jpg").write_bytes(b"junk")
    out = tmp_path / "r.jsonl"
    proc = _run(str(EXAMPLES / "batch_folder.py"), str(folder), "--out", str(out), "--landmark-model", str(fpenet68))
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 1 and len(lines[0]["faces"]) == 1 and "1 unreadable" in proc.stdout


def _still_clip(path: Path, frame, frames: int = 20) -> Path:
    """An mp4 of ``frames`` copies of ``frame`` at 30 fps."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (frame.shape[1], frame.shape[0]))
    for _ in range(frames):
        w.write(frame)
    w.release()
    return path


def test_blink_example_on_a_clip(detector_home, fpenet68, astronaut, tmp_path):
    clip = _still_clip(tmp_path / "c.mp4", astronaut)
    out = tmp_path / "blinks.mp4"
    proc = _run(str(EXAMPLES / "blink_webcam.py"), str(clip), "--out", str(out), "--no-window", "--landmark-model", str(fpenet68))
    assert proc.returncode == 0, proc.stderr
    assert "blinks" in proc.stdout
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == 20


def test_smile_example_on_a_clip(detector_home, astronaut, tmp_path):
    """The astronaut smiles: one smile event over the clip (with the shipped landmark model)."""
    clip = _still_clip(tmp_path / "s.mp4", astronaut)
    out = tmp_path / "smiles.mp4"
    proc = _run(str(EXAMPLES / "smile_webcam.py"), str(clip), "--out", str(out), "--no-window")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "1 smiles, 0 yawns", proc.stdout
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == 20
