"""Video sources and the ``faceanalytics video`` command on clips made in the test."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceanalytics.cli import EXIT_OK, EXIT_USAGE, main
from faceanalytics.video_io import VideoError, open_source


def _write_clip(path: Path, image: np.ndarray, frames: int = 12, fps: float = 25.0) -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (640, 480))
    for i in range(frames):
        m = np.float32([[1, 0, 60 + 3 * i], [0, 1, -20]])
        w.write(cv2.warpAffine(image, m, (640, 480)))
    w.release()
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory, astronaut) -> Path:
    return _write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", astronaut)


def test_video_file_timestamps_increase(clip):
    with open_source(str(clip)) as src:
        assert src.fps == 25.0 and src.frame_count == 12 and src.size == (640, 480)
        ts = [t for _, t in src]
    assert len(ts) == 12 and ts[0] == 0.0
    np.testing.assert_allclose(np.diff(ts), 0.04, atol=1e-6)


def test_image_folders_and_globs_in_natural_order(tmp_path):
    for i in (10, 2, 1):
        cv2.imwrite(str(tmp_path / f"f{i}.png"), np.full((8, 8, 3), i, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    with open_source(str(tmp_path), fps=10) as src:
        frames = [(int(f[0, 0, 0]), t) for f, t in src]
    assert frames == [(1, 0.0), (2, 0.1), (10, 0.2)]
    with open_source(str(tmp_path / "f1*.png")) as src:
        assert [int(f[0, 0, 0]) for f, _ in src] == [1, 10]


def test_bad_sources(tmp_path):
    with pytest.raises(VideoError, match="not found"):
        open_source(str(tmp_path / "none.mp4"))
    with pytest.raises(VideoError, match="no images"):
        open_source(str(tmp_path))
    with pytest.raises(VideoError, match="no images match"):
        open_source(str(tmp_path / "*.png"))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 1000)
    with pytest.raises(VideoError):
        open_source(str(broken))


def test_video_command_writes_all_outputs(detector_home, fpenet68, clip, tmp_path):
    out, table, summary = tmp_path / "a.mp4", tmp_path / "f.csv", tmp_path / "s.json"
    args = ["video", str(clip), "--out", str(out), "--csv", str(table), "--json", str(summary)]
    code = main([*args, "--landmark-model", str(fpenet68), "--detect-every", "1", "-q"])
    assert code == EXIT_OK
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 12 and rows[0]["frame"] == "0" and "x_67" in rows[0] and "event_blink" in rows[0]
    data = json.loads(summary.read_text())
    assert data["frames"] == 12 and not data["interrupted"] and sum(t["frames"] for t in data["tracks"]) == 12
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "f.csv", "s.json"]  # no temporary files left
    # Existing outputs are not replaced without --overwrite.
    assert main([*args, "--landmark-model", str(fpenet68), "-q"]) == EXIT_USAGE


def test_interrupted_runs_keep_complete_files(detector_home, fpenet68, clip, tmp_path, monkeypatch):
    from faceanalytics.stream import Stream

    real = Stream.__call__
    calls = {"n": 0}

    def interrupt_at_five(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(Stream, "__call__", interrupt_at_five)
    table, summary = tmp_path / "f.csv", tmp_path / "s.json"
    code = main(["video", str(clip), "--csv", str(table), "--json", str(summary), "--landmark-model", str(fpenet68), "-q"])
    assert code == 130
    assert len(list(csv.DictReader(table.open()))) == 5
    data = json.loads(summary.read_text())
    assert data["interrupted"] and data["frames"] == 5


def test_video_usage_errors(tmp_path, capsys):
    assert main(["video", str(tmp_path / "x.mp4")]) == EXIT_USAGE
    assert "--out" in capsys.readouterr().err


def test_closures_in_a_clip_are_counted_as_blinks(detector_home, tmp_path):
    """The issue's acceptance clip: a real open-eyed face moved along a path, with a closed-eyed
    face crop swapped in for a few frames, three times; all four outputs."""
    from conftest import shared_path

    from faceanalytics.registry import DEFAULT_LANDMARK_MODEL, LANDMARK_MODELS

    if DEFAULT_LANDMARK_MODEL not in LANDMARK_MODELS:
        pytest.skip("needs the bundled landmark model")
    opened = cv2.imread(str(shared_path("data", "eye_state", "open", "face_6195.jpg")))
    closed = cv2.resize(cv2.imread(str(shared_path("data", "eye_state", "closed", "closed_eye_1841.jpg_face_1.jpg"))), (200, 200))
    closures = {*range(30, 35), *range(60, 66), *range(90, 94)}  # 5, 6 and 4 frames at 30 fps
    clip = tmp_path / "blinks.mp4"
    w = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 30, (640, 480))
    for i in range(120):
        frame = np.full((480, 640, 3), 70, np.uint8)
        x, y = int(180 + 60 * np.sin(i / 20)), int(120 + 20 * np.cos(i / 25))
        frame[y : y + 200, x : x + 200] = closed if i in closures else opened
        w.write(frame)
    w.release()
    out = {k: tmp_path / f"o.{k}" for k in ("mp4", "csv", "json", "html")}
    code = main(
        [
            "video",
            str(clip),
            "--out",
            str(out["mp4"]),
            "--csv",
            str(out["csv"]),
            "--json",
            str(out["json"]),
            "--report",
            str(out["html"]),
            "-q",
        ]
    )
    assert code == EXIT_OK
    rows = list(csv.DictReader(out["csv"].open()))
    assert len(rows) == 120 and {r["track_id"] for r in rows} == {"1"}
    (track,) = json.loads(out["json"].read_text())["tracks"]
    assert track["blinks"] == 3 and track["microsleeps"] == 0
    assert [round(e["start"] * 30) for e in track["events"] if e["kind"] == "blink"] == [30, 60, 90]
    assert "<svg" in out["html"].read_text()
