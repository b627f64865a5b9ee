from __future__ import annotations

import json
import subprocess
import sys

import cv2
import pytest

from faceanalytics.cli import EXIT_FAILED, EXIT_OK, EXIT_SETUP, EXIT_USAGE, main


def test_detect_prints_json_and_draws(detector_home, fpenet68, astronaut_file, tmp_path, capsys):
    drawn = tmp_path / "out" / "annotated.jpg"
    code = main(["detect", str(astronaut_file), "--landmark-model", str(fpenet68), "--device", "cpu", "--draw", str(drawn)])
    out, err = capsys.readouterr()
    assert code == EXIT_OK, err
    record = json.loads(out)
    assert record["image"] == str(astronaut_file)
    assert len(record["faces"]) == 1 and len(record["faces"][0]["landmarks"]) == 68
    picture = cv2.imread(str(drawn))
    assert picture is not None and picture.shape == (512, 512, 3)


def test_several_images_one_bad_keeps_the_others(detector_home, fpenet68, astronaut_file, tmp_path, capsys):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"garbage")
    out_json = tmp_path / "all.json"
    draw_dir = tmp_path / "drawn"
    code = main([
        "detect", str(astronaut_file), str(bad), str(tmp_path / "missing.png"), str(astronaut_file),
        "--landmark-model", str(fpenet68), "--json", str(out_json), "--draw", str(draw_dir),
    ])
    out, err = capsys.readouterr()
    assert code == EXIT_FAILED
    assert out == ""  # --json replaces stdout
    assert "broken.jpg" in err and "missing.png" in err and "Traceback" not in err
    records = json.loads(out_json.read_text())
    assert [len(r["faces"]) for r in records] == [1, 1]
    assert (draw_dir / "astronaut_annotated.png").is_file()


def test_missing_landmark_model_is_a_setup_error(tmp_path, astronaut_file, capsys):
    code = main(["detect", str(astronaut_file), "--landmark-model", str(tmp_path / "none.onnx")])
    _, err = capsys.readouterr()
    assert code == EXIT_SETUP and "none.onnx" in err and "Traceback" not in err


def test_usage_errors(capsys, tmp_path, fpenet68, astronaut_file):
    assert main([]) == EXIT_USAGE
    assert main(["detect"]) == EXIT_USAGE
    assert main(["detect", "x.jpg", "--detector", "medium"]) == EXIT_USAGE
    a_file = tmp_path / "exists.png"
    a_file.write_bytes(b"")
    code = main(["detect", str(astronaut_file), str(astronaut_file), "--landmark-model", str(fpenet68), "--draw", str(a_file)])
    assert code == EXIT_USAGE
    assert "folder" in capsys.readouterr().err


def test_info_lists_providers_and_models(capsys):
    assert main(["info", "--json"]) == EXIT_OK
    info = json.loads(capsys.readouterr().out)
    assert "CPUExecutionProvider" in info["available_providers"]
    assert set(info["detector_models"]) == {"short", "full"}
    assert main(["info"]) == EXIT_OK
    assert "model_cache" in capsys.readouterr().out


def test_download_models_finds_cached_files(detector_home, capsys):
    assert main(["download-models"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "face_detection_short_range.tflite" in out and "face_detection_full_range_sparse.tflite" in out


def test_download_models_offline_explains(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FACEANALYTICS_HOME", str(tmp_path))
    import faceanalytics.hub as hub

    def offline(url, dest, sha256, **kwargs):
        raise hub.DownloadError(f"cannot download {url}: no network. Place the file at {dest}")

    monkeypatch.setattr(hub, "download", offline)
    assert main(["download-models", "--model", "short"]) == EXIT_SETUP
    assert "Place the file at" in capsys.readouterr().err


def test_module_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "faceanalytics", "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("faceanalytics ")


@pytest.mark.parametrize("argv", [["detect", "--help"], ["--help"]])
def test_help_exits_zero(argv, capsys):
    assert main(argv) == EXIT_OK
    assert "usage" in capsys.readouterr().out


def test_align_writes_one_crop_per_face(detector_home, astronaut_file, tmp_path, capsys):
    out = tmp_path / "aligned"
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"x")
    code = main(["align", str(astronaut_file), str(bad), "--out", str(out), "--size", "96", "--template", "68pt"])
    assert code == EXIT_FAILED  # the bad file; the good one is still aligned
    crops = sorted(out.glob("*.png"))
    assert [c.name for c in crops] == ["astronaut_0.png"]
    assert cv2.imread(str(crops[0])).shape == (96, 96, 3)
    assert "bad.jpg" in capsys.readouterr().err
    assert main(["align", str(astronaut_file), "--out", str(out), "--size", "2"]) == EXIT_USAGE
