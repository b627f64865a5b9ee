"""Video sources and the ``faceanalytics video`` command on clips made in the test."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceanalytics.cli import EXIT_OK, EXIT_USAGE, main
from faceanalytics.io.video_source import VideoError, open_source


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
    from faceanalytics.video.stream import Stream

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

    from faceanalytics.runtime.registry import DEFAULT_LANDMARK_MODEL, LANDMARK_MODELS

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
    # one computation (issue 19): the JSON's figures are the Stream's TrackSummary, which the CSV's
    # eyes_closed and event columns add up to, and the report shows
    t = np.array([float(r["timestamp"]) for r in rows])
    closed = np.array([r["eyes_closed"] == "1" for r in rows])
    perclos = float(np.sum(np.diff(t) * closed[:-1]) / (t[-1] - t[0]))
    assert track["perclos"] == pytest.approx(perclos, abs=1e-4) and track["perclos"] > 0  # CSV times: 4 decimals
    assert track["blinks"] == sum(r["event_blink"] == "1" for r in rows)
    assert track["blinks_per_minute"] == pytest.approx(track["blinks"] * 60 / (t[-1] - t[0]), rel=1e-4)
    assert f"<td>{track['perclos']:.3f}</td>" in out["html"].read_text()
    # the score: the detector's on detector frames, a tracking confidence below 1 on the others (issue 18)
    scores = np.array([float(r["score"]) for r in rows])
    assert ((scores > 0) & (scores < 1)).all() and len(np.unique(scores)) > 10
    assert 0 < track["score"]["min"] <= track["score"]["mean"] < 1
    assert "Score (the detector" in out["html"].read_text()


# --- broken inputs: every output written so far complete and valid (issue 7) -----------------------

import itertools  # noqa: E402

from faceanalytics.cli import EXIT_FAILED, EXIT_INTERNAL  # noqa: E402


def _frames(astronaut: np.ndarray, n: int) -> list[np.ndarray]:
    return [cv2.warpAffine(astronaut, np.float32([[1, 0, 60 + 3 * i], [0, 1, -20]]), (640, 480)) for i in range(n)]


def _avi(path: Path, astronaut: np.ndarray, n: int = 30) -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (640, 480))
    for f in _frames(astronaut, n):
        w.write(f)
    w.release()
    return path


def _outputs(tmp_path: Path) -> dict[str, Path]:
    return {k: tmp_path / "out" / f"o.{k}" for k in ("avi", "csv", "json", "html")}


def _run(source: str, out: dict[str, Path], model: Path, *extra: str) -> int:
    argv = ["video", source, "--out", str(out["avi"]), "--csv", str(out["csv"]), "--json", str(out["json"])]
    return main([*argv, "--report", str(out["html"]), "--landmark-model", str(model), "-q", *extra])


def _check_outputs(out: dict[str, Path], frames: int, video: bool = True) -> dict:
    """Every file is there, complete and parseable, with ``frames`` frames; no temporary files."""
    assert sorted(p.name for p in out["csv"].parent.iterdir()) == sorted(p.name for p in out.values())
    rows = list(csv.DictReader(out["csv"].open()))
    assert len({r["frame"] for r in rows}) == frames and (not rows or rows[-1]["event_smile"] in ("0", "1"))
    data = json.loads(out["json"].read_text())
    assert data["frames"] == frames
    page = out["html"].read_text()
    assert page.rstrip().endswith("</html>") and f"{frames} frames" in page
    if video:
        cap = cv2.VideoCapture(str(out["avi"]))
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == frames
        cap.release()
    return data


def test_a_truncated_video_ends_with_a_warning_and_complete_outputs(detector_home, fpenet68, astronaut, tmp_path, capsys):
    data = _avi(tmp_path / "full.avi", astronaut).read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with open_source(str(cut)) as src:
        read = sum(1 for _ in src)
    assert 0 < read < 30
    out = _outputs(tmp_path)
    assert _run(str(cut), out, fpenet68) == EXIT_OK
    _, err = capsys.readouterr()
    assert f"ended after {read} of the 30 frames" in err and "Traceback" not in err
    summary = _check_outputs(out, read)
    assert summary["expected_frames"] == 30 and "truncated" in summary["stopped"]
    assert "truncated" in out["html"].read_text()


def test_corrupt_data_inside_a_video_ends_cleanly(detector_home, fpenet68, astronaut, tmp_path, capsys):
    data = bytearray(_avi(tmp_path / "full.avi", astronaut).read_bytes())
    for at in (0.3, 0.5, 0.7):
        i = int(len(data) * at)
        data[i : i + 3000] = bytes(3000)
    bad = tmp_path / "bad.avi"
    bad.write_bytes(bytes(data))
    out = _outputs(tmp_path)
    assert _run(str(bad), out, fpenet68) == EXIT_OK
    _, err = capsys.readouterr()
    assert "Traceback" not in err
    frames = json.loads(out["json"].read_text())["frames"]
    assert 0 < frames <= 30
    _check_outputs(out, frames)


@pytest.mark.parametrize("kind", ["zero frames", "truncated mp4", "text", "empty folder", "missing"])
def test_videos_that_cannot_be_read_write_nothing(detector_home, fpenet68, clip, tmp_path, capsys, kind):
    source = tmp_path / "in.mp4"
    if kind == "zero frames":
        cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (64, 48)).release()
    elif kind == "truncated mp4":
        source.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])  # the index (moov) is at the end
    elif kind == "text":
        source.write_text("not a video\n")
    elif kind == "empty folder":
        source = tmp_path / "frames"
        source.mkdir()
    out = _outputs(tmp_path)
    assert _run(str(source), out, fpenet68) == EXIT_FAILED
    _, err = capsys.readouterr()
    assert err.startswith("faceanalytics: error:") and "Traceback" not in err
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


class _FakeCapture:
    """A cv2.VideoCapture stand-in: given frames, presentation times (ms), a count, an error."""

    def __init__(self, frames, msec=None, count=None, fail_at=None, fps=30.0) -> None:
        self.frames, self.msec, self.count, self.fail_at, self.fps = frames, msec, count, fail_at, fps
        self.i, self.pos = 0, 0.0

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return True

    def read(self):
        if self.i == self.fail_at:
            raise cv2.error("device lost")
        if self.i >= len(self.frames):
            return False, None
        self.pos = self.msec[self.i] if self.msec is not None else 0.0
        self.i += 1
        return True, self.frames[self.i - 1]

    def get(self, prop: int) -> float:
        values = {cv2.CAP_PROP_FPS: self.fps, cv2.CAP_PROP_FRAME_COUNT: self.count or 0, cv2.CAP_PROP_POS_MSEC: self.pos}
        return values.get(prop, 0.0)

    def release(self) -> None:
        pass


def _fake(monkeypatch, capture: _FakeCapture) -> None:
    import faceanalytics.io.video_source as vio

    monkeypatch.setattr(vio.cv2, "VideoCapture", lambda *_: capture)


def test_variable_frame_rate_keeps_the_files_times(monkeypatch, tmp_path, astronaut):
    """Presentation times are kept as they are (gaps and all); repeated, backwards or missing
    ones are replaced by the nominal time (index / fps) or just past the previous frame, so a
    Stream always sees increasing times."""
    msec = [0.0, 33.0, 100.0, 100.0, 90.0, float("nan"), 250.0, 1250.0]
    frames = _frames(astronaut, len(msec))
    path = tmp_path / "vfr.mp4"
    path.write_bytes(b"")
    _fake(monkeypatch, _FakeCapture(frames, msec, count=len(msec)))
    with open_source(str(path)) as src:
        ts = [t for _, t in src]
    assert ts[:3] == [0.0, 0.033, 0.1] and ts[6:] == [0.25, 1.25]
    assert all(b > a for a, b in itertools.pairwise(ts)) and all(0.1 < t < 0.25 for t in ts[3:6])


def test_a_variable_frame_rate_run(detector_home, fpenet68, monkeypatch, tmp_path, astronaut):
    msec = [0.0, 40.0, 60.0, 200.0, 210.0, 500.0]
    path = tmp_path / "vfr.mp4"
    path.write_bytes(b"")
    _fake(monkeypatch, _FakeCapture(_frames(astronaut, len(msec)), msec, count=len(msec)))
    table = tmp_path / "f.csv"
    assert main(["video", str(path), "--csv", str(table), "--landmark-model", str(fpenet68), "-q"]) == EXIT_OK
    assert [float(r["timestamp"]) for r in csv.DictReader(table.open())] == [m / 1000 for m in msec]


def test_a_camera_that_stops(detector_home, fpenet68, monkeypatch, tmp_path, astronaut, capsys):
    _fake(monkeypatch, _FakeCapture(_frames(astronaut, 8)))
    out = _outputs(tmp_path)
    assert _run("0", out, fpenet68) == EXIT_OK
    _, err = capsys.readouterr()
    assert "camera 0 stopped giving frames after 8" in err and "Traceback" not in err
    monkeypatch.undo()  # the real VideoCapture, to check the written video
    summary = _check_outputs(out, 8)
    assert summary["expected_frames"] is None and "stopped" in summary["stopped"]


def test_a_camera_that_fails_mid_run(detector_home, fpenet68, monkeypatch, tmp_path, astronaut, capsys):
    _fake(monkeypatch, _FakeCapture(_frames(astronaut, 12), fail_at=5))
    out = _outputs(tmp_path)
    assert _run("0", out, fpenet68) == EXIT_FAILED
    _, err = capsys.readouterr()
    assert "stopped after 5 frames" in err and "device lost" in err and "Traceback" not in err
    monkeypatch.undo()
    summary = _check_outputs(out, 5)
    assert summary["interrupted"] and "device lost" in summary["stopped"]


def test_an_unexpected_error_mid_run_still_closes_every_output(detector_home, fpenet68, clip, tmp_path, monkeypatch, capsys):
    from faceanalytics.video.stream import Stream

    real = Stream.__call__
    calls = {"n": 0}

    def fail_at_six(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 6:
            raise RuntimeError("a plugin bug")
        return real(self, *a, **k)

    monkeypatch.setattr(Stream, "__call__", fail_at_six)
    out = _outputs(tmp_path)
    assert _run(str(clip), out, fpenet68) == EXIT_INTERNAL
    _, err = capsys.readouterr()
    assert "a plugin bug" in err and "--debug" in err and "Traceback" not in err
    summary = _check_outputs(out, 5)
    assert summary["stopped"] == "stopped by an unexpected error"


def test_video_outputs_are_checked_before_anything_runs(fpenet68, clip, tmp_path, capsys):
    bad = [
        (["--out", str(tmp_path / "a.mkv")], "use a .mp4 or .avi"),
        (["--csv", str(tmp_path / "x"), "--json", str(tmp_path / "x")], "name the same file"),
        (["--csv", str(clip / "f.csv")], "not a folder"),
        (["--json", str(tmp_path)], "is a folder"),
    ]
    for extra, message in bad:
        assert main(["video", str(clip), *extra, "--landmark-model", str(fpenet68), "-q"]) == EXIT_USAGE
        _, err = capsys.readouterr()
        assert message in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_writer_that_fails_to_open_leaves_no_partial_files(detector_home, fpenet68, clip, tmp_path, monkeypatch, capsys):
    import faceanalytics.io.video_outputs as vo

    def no_codec(*args, **kwargs):
        raise OSError("cannot write video: no codec")

    monkeypatch.setattr(vo, "VideoWriter", no_codec)
    argv = ["video", str(clip), "--csv", str(tmp_path / "f.csv"), "--out", str(tmp_path / "a.mp4")]
    assert main([*argv, "--landmark-model", str(fpenet68), "-q"]) == EXIT_FAILED
    _, err = capsys.readouterr()
    assert "no codec" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []
