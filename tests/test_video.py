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
