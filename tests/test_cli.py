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
    assert info["providers"]["CPUExecutionProvider"] == {"compiled": True, "works": True, "reason": ""}
    for check in info["providers"].values():  # listed is not enough: each says whether it ran, or why not
        assert check["works"] or check["reason"]
    cuda = info["providers"].get("CUDAExecutionProvider", {"works": False})
    auto = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda["works"] else ["CPUExecutionProvider"]
    assert info["device_auto_runs_on"] == auto
    assert set(info["detector_models"]) == {"short", "full"}
    assert all(d["shipped"] for d in info["detector_models"].values())  # the weights come with the package
    assert info["landmark_models"]["fpenet68"]["crop_scale"] == 1.25 and info["landmark_models"]["fpenet68"]["points"] == 68
    assert info["mouth_models"]["mouth-cues"]["path"].endswith("mouth_cues.onnx")
    assert info["eye_models"]["eye-openness"]["path"].endswith("eye_openness.onnx")
    assert main(["info"]) == EXIT_OK
    assert "model_cache" in capsys.readouterr().out


def test_download_models_finds_cached_files(detector_home, capsys):
    assert main(["download-models"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "face_detection_short_range.tflite" in out and "face_detection_full_range_sparse.tflite" in out


def test_download_models_offline_explains(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FACEANALYTICS_HOME", str(tmp_path))
    import faceanalytics.runtime.hub as hub

    def offline(url, dest, sha256, **kwargs):
        raise hub.DownloadError(f"cannot download {url}: no network. Place the file at {dest}")

    monkeypatch.setattr(hub, "download", offline)
    assert main(["download-models"]) == EXIT_OK  # offline and nothing to fetch: the weights ship in the package
    out = capsys.readouterr().out
    assert out.count("shipped in the package") == 2 and str(hub.package_weights_dir()) in out
    empty = tmp_path / "stripped"
    empty.mkdir()
    monkeypatch.setattr(hub, "package_weights_dir", lambda: empty)  # a repackaging without them
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


# --- bad paths, existing outputs, permissions, errors (issue 7) -------------------------------------

import os  # noqa: E402

from faceanalytics.cli import EXIT_INTERNAL  # noqa: E402

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0  # root ignores file permissions


def _clean(err: str) -> None:
    assert "Traceback" not in err and err.startswith("faceanalytics: "), err


def test_detect_refuses_existing_outputs_without_overwrite(detector_home, fpenet68, astronaut_file, tmp_path, capsys):
    out_json, drawn = tmp_path / "r.json", tmp_path / "r.png"
    base = ["detect", str(astronaut_file), "--landmark-model", str(fpenet68), "--device", "cpu"]
    for extra, existing in ((["--json", str(out_json)], out_json), (["--draw", str(drawn)], drawn)):
        existing.write_text("keep me")
        assert main([*base, *extra]) == EXIT_USAGE
        _, err = capsys.readouterr()
        _clean(err)
        assert "--overwrite" in err and existing.read_text() == "keep me"
        assert main([*base, *extra, "--overwrite"]) == EXIT_OK
        capsys.readouterr()
        assert existing.read_bytes() != b"keep me"


def test_detect_bad_paths(detector_home, fpenet68, astronaut_file, tmp_path, capsys):
    base = ["detect", "--landmark-model", str(fpenet68), "--device", "cpu"]
    assert main([*base, str(tmp_path)]) == EXIT_FAILED  # a folder given as an image
    _, err = capsys.readouterr()
    _clean(err)
    assert "not a file" in err
    assert main([*base, str(tmp_path / ("x" * 300))]) == EXIT_FAILED  # a name too long for the file system
    _clean(capsys.readouterr().err)
    a_file = tmp_path / "plain.txt"
    a_file.write_text("")
    assert main([*base, str(astronaut_file), "--json", str(a_file / "out.json")]) == EXIT_USAGE  # under a file
    _, err = capsys.readouterr()
    _clean(err)
    assert "not a folder" in err
    assert main(["detect", str(astronaut_file), "--landmark-model", str(tmp_path)]) == EXIT_SETUP  # folder as model
    _, err = capsys.readouterr()
    _clean(err)
    assert "not a file" in err


def test_detect_refuses_two_images_drawn_to_one_file(fpenet68, astronaut_file, tmp_path, capsys):
    other = tmp_path / "b" / astronaut_file.name
    other.parent.mkdir()
    other.write_bytes(astronaut_file.read_bytes())
    code = main(["detect", str(astronaut_file), str(other), "--landmark-model", str(fpenet68), "--draw", str(tmp_path / "out")])
    assert code == EXIT_USAGE
    _, err = capsys.readouterr()
    _clean(err)
    assert "both be drawn" in err


@pytest.mark.skipif(ROOT, reason="root ignores file permissions")
def test_no_write_or_read_permission(fpenet68, astronaut_file, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        code = main(["detect", str(astronaut_file), "--landmark-model", str(fpenet68), "--json", str(locked / "r.json")])
        assert code == EXIT_USAGE
        _, err = capsys.readouterr()
        _clean(err)
        assert "no permission to write" in err
    finally:
        locked.chmod(0o700)
    unreadable = tmp_path / "secret.png"
    unreadable.write_bytes(astronaut_file.read_bytes())
    unreadable.chmod(0)
    assert main(["detect", str(unreadable), "--landmark-model", str(fpenet68), "--device", "cpu"]) == EXIT_FAILED
    _clean(capsys.readouterr().err)


def test_a_write_that_fails_late_is_a_message(detector_home, fpenet68, astronaut_file, tmp_path, monkeypatch, capsys):
    """Permissions can change during a run (or root-owned mounts refuse): the OSError at the
    final write is reported, without a traceback, unless --debug."""
    import faceanalytics.cli as cli

    def refuse(path, data):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(cli, "_write_atomic", refuse)
    argv = ["detect", str(astronaut_file), "--landmark-model", str(fpenet68), "--json", str(tmp_path / "r.json")]
    assert main(argv) == EXIT_FAILED
    _, err = capsys.readouterr()
    _clean(err)
    assert f"{tmp_path / 'r.json'}: permission denied" in err
    with pytest.raises(PermissionError):
        main(["--debug", *argv])


def test_an_unexpected_error_is_a_message_unless_debug(detector_home, fpenet68, astronaut_file, monkeypatch, capsys):
    from faceanalytics.pipeline import Pipeline

    def boom(self, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(Pipeline, "__call__", boom)
    argv = ["detect", str(astronaut_file), "--landmark-model", str(fpenet68)]
    assert main(argv) == EXIT_INTERNAL
    _, err = capsys.readouterr()
    _clean(err)
    assert "boom" in err and "--debug" in err
    with pytest.raises(RuntimeError, match="boom"):
        main(["--debug", *argv])


def test_align_refuses_existing_crops_without_overwrite(detector_home, astronaut_file, tmp_path, capsys):
    out = tmp_path / "aligned"
    assert main(["align", str(astronaut_file), "--out", str(out)]) == EXIT_OK
    first = (out / "astronaut_0.png").read_bytes()
    capsys.readouterr()
    assert main(["align", str(astronaut_file), "--out", str(out), "--size", "96"]) == EXIT_USAGE
    _, err = capsys.readouterr()
    _clean(err)
    assert "--overwrite" in err and (out / "astronaut_0.png").read_bytes() == first
    assert main(["align", str(astronaut_file), "--out", str(out), "--size", "96", "--overwrite"]) == EXIT_OK
    assert cv2.imread(str(out / "astronaut_0.png")).shape == (96, 96, 3)
    a_file = tmp_path / "file.png"
    a_file.write_bytes(b"")
    assert main(["align", str(astronaut_file), "--out", str(a_file)]) == EXIT_USAGE
    _clean(capsys.readouterr().err)


def test_errors_without_traceback_in_a_real_process(tmp_path, astronaut_file):
    """Through the real entry point: stderr holds one clear line, and a traceback only with --debug."""
    argv = [sys.executable, "-m", "faceanalytics", "detect", str(astronaut_file), "--landmark-model", str(tmp_path)]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert proc.returncode == EXIT_SETUP and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("faceanalytics: error:") and "not a file" in proc.stderr
    debug = subprocess.run([*argv[:3], "--debug", *argv[3:]], capture_output=True, text=True, check=False)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_an_unwritable_folder_is_refused_before_any_work(fpenet68, astronaut_file, tmp_path, monkeypatch, capsys):
    import faceanalytics.cli as cli

    monkeypatch.setattr(cli.os, "access", lambda path, mode: False)  # as a read-only folder answers
    for argv in (
        ["detect", str(astronaut_file), "--json", str(tmp_path / "r.json")],
        ["align", str(astronaut_file), "--out", str(tmp_path / "crops")],
        ["video", str(astronaut_file), "--csv", str(tmp_path / "f.csv")],
    ):
        assert main([*argv, "--landmark-model", str(fpenet68)]) == EXIT_USAGE
        _, err = capsys.readouterr()
        _clean(err)
        assert "no permission to write" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# --- a newcomer's first hour (issue 18): option values, messages, -v, shared options -----------------

import logging  # noqa: E402

from faceanalytics.cli import input_message  # noqa: E402
from faceanalytics.core.errors import FaceAnalyticsError  # noqa: E402

VERB_ARGS = {  # each verb with what it needs besides the shared options (outputs under OUT)
    "detect": ["detect", "x.jpg"],
    "video": ["video", "x.mp4", "--csv", "OUT/f.csv"],
    "align": ["align", "x.jpg", "--out", "OUT/crops"],
    "batch": ["batch", "x.jpg", "-o", "OUT/r.parquet"],
}
SHARED = [
    ("--device", "cpu", "device", "cpu"),
    ("--landmark-model", "m.onnx", "landmark_model", "m.onnx"),
    ("--detector", "full", "detector", "full"),
    ("--detector-model", "d.tflite", "detector_model", "d.tflite"),
    ("--min-score", "0.25", "min_score", 0.25),
    ("--max-faces", "2", "max_faces", 2),
    ("--threads", "3", "threads", 3),
]
BAD_VALUES = [
    ("detect", "--min-score", "5"),
    ("detect", "--min-score", "-0.1"),
    ("detect", "--min-score", "nan"),
    ("detect", "--threads", "0"),
    ("detect", "--max-faces", "0"),
    ("detect", "--max-faces", "two"),
    ("detect", "--indent", "-1"),
    ("detect", "--device", "gpu"),
    ("detect", "--detector", "medium"),
    ("video", "--detect-every", "0"),
    ("video", "--fps", "0"),
    ("video", "--fps", "inf"),
    ("video", "--threads", "0"),
    ("video", "--min-score", "1.5"),
    ("align", "--size", "0"),
    ("align", "--size", "2"),
    ("align", "--margin", "-0.5"),
    ("align", "--threads", "-1"),
    ("align", "--detector", "medium"),
    ("batch", "--workers", "0"),
    ("batch", "--threads", "0"),
    ("batch", "--min-score", "5"),
    ("batch", "--retries", "-1"),
    ("batch", "--gpus-per-worker", "0"),
    ("batch", "--images-per-task", "0"),
]


def _verb(verb: str, tmp_path) -> list[str]:
    return [a.replace("OUT", str(tmp_path)) for a in VERB_ARGS[verb]]


@pytest.mark.parametrize(("verb", "option", "value"), BAD_VALUES)
def test_bad_option_values_are_usage_errors_before_anything_loads(verb, option, value, tmp_path, monkeypatch, capsys):
    import faceanalytics.pipeline

    def must_not_load(*args, **kwargs):
        raise AssertionError("a Pipeline was created although an option value is bad")

    monkeypatch.setattr(faceanalytics.pipeline.Pipeline, "__init__", must_not_load)
    assert main([*_verb(verb, tmp_path), option, value]) == EXIT_USAGE
    _, err = capsys.readouterr()
    assert f"argument {option}" in err and "Traceback" not in err  # argparse's usage message names the option
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("verb", list(VERB_ARGS))
def test_every_verb_takes_the_shared_pipeline_options(verb, tmp_path):
    from faceanalytics.cli import _parser

    defaults = _parser().parse_args(_verb(verb, tmp_path))
    assert (defaults.device, defaults.detector, defaults.min_score, defaults.max_faces) == ("auto", "short", 0.5, None)
    assert defaults.threads == (1 if verb == "batch" else None)  # batch: one thread per worker process
    for option, text, dest, value in SHARED:
        args = _parser().parse_args([*_verb(verb, tmp_path), option, text])
        assert getattr(args, dest) == value, (verb, option)


def _recorder(calls: list[dict]) -> type:
    """A stand-in for Pipeline: records its arguments, then stops the command as a set-up error would."""

    class Recorder:
        def __init__(self, landmark_model=None, *, options=None, **kwargs):
            calls.append({"landmark_model": landmark_model, **kwargs, **(options.to_dict() if options else {})})
            raise FaceAnalyticsError("stopped by the test")

    return Recorder


@pytest.mark.parametrize("verb", ["detect", "video", "align"])
def test_every_verb_builds_its_pipeline_from_the_shared_options(verb, tmp_path, monkeypatch, capsys):
    import faceanalytics.pipeline

    calls: list[dict] = []
    monkeypatch.setattr(faceanalytics.pipeline, "Pipeline", _recorder(calls))
    shared = [a for option, text, _, _ in SHARED for a in (option, text)]
    assert main([*_verb(verb, tmp_path), *shared]) == EXIT_SETUP
    assert "stopped by the test" in capsys.readouterr().err
    (kwargs,) = calls
    expected = {
        "landmark_model": "m.onnx",
        "device": "cpu",
        "detector": "full",
        "detector_model": "d.tflite",
        "min_score": 0.25,
        "threads": 3,
        "max_faces": None if verb == "video" else 2,  # video: --max-faces is the Stream's (tracks followed)
    }
    assert {k: kwargs[k] for k in expected} == expected


def test_batch_passes_the_shared_options_on(tmp_path, monkeypatch, capsys):
    import faceanalytics.batch.run
    from faceanalytics.batch import BatchUsageError

    seen = []

    def fake_run(inputs, output, options, **kwargs):
        seen.append(options)
        raise BatchUsageError("stopped by the test")

    monkeypatch.setattr(faceanalytics.batch.run, "run_batch", fake_run)
    shared = [a for option, text, _, _ in SHARED for a in (option, text)]
    assert main([*_verb("batch", tmp_path), *shared, "-q"]) == EXIT_USAGE
    (options,) = seen
    assert (options.landmark_model, options.detector, options.detector_model) == ("m.onnx", "full", "d.tflite")
    assert (options.device, options.min_score, options.max_faces, options.threads) == ("cpu", 0.25, 2, 3)


def test_a_failed_image_names_its_path_once(fpenet68, astronaut_file, tmp_path, monkeypatch, capsys):
    base = ["detect", "--landmark-model", str(fpenet68), "--device", "cpu"]
    missing = tmp_path / "missing.jpg"
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not a picture")
    assert main([*base, str(missing), str(junk)]) == EXIT_FAILED
    _, err = capsys.readouterr()
    lines = err.splitlines()
    assert lines[0] == f"faceanalytics: error: image file not found: {missing}"
    assert lines[1].startswith(f"faceanalytics: error: cannot decode image file {junk}:")
    assert err.count(str(missing)) == 1 and err.count(str(junk)) == 1
    import faceanalytics.core.image

    monkeypatch.setattr(faceanalytics.core.image, "MAX_IMAGE_PIXELS", 100)  # an error whose text does not name the file
    assert main([*base, str(astronaut_file)]) == EXIT_FAILED
    _, err = capsys.readouterr()
    assert err.startswith(f"faceanalytics: error: {astronaut_file}: image of 512x512 pixels exceeds")
    assert err.count(str(astronaut_file)) == 1


def test_input_message_prefixes_the_path_only_when_missing():
    assert input_message("a.jpg", FaceAnalyticsError("image file not found: a.jpg")) == "image file not found: a.jpg"
    assert input_message("./a.jpg", FaceAnalyticsError("image file not found: a.jpg")) == "image file not found: a.jpg"
    decode = "cannot decode image file a.jpg: corrupt"
    assert input_message("a.jpg", FaceAnalyticsError(decode)) == decode
    assert input_message("a.jpg", FaceAnalyticsError("image of 9x9 pixels exceeds")) == "a.jpg: image of 9x9 pixels exceeds"
    assert input_message("a", FaceAnalyticsError("cannot decode data.jpg")) == "a: cannot decode data.jpg"  # a word, not a token
    assert input_message("a.jpg", PermissionError(13, "Permission denied", "out/a.png")) == "a.jpg: out/a.png: permission denied"
    assert input_message("s3://b/v.mp4", "s3://b/v.mp4: no frames") == "s3://b/v.mp4: no frames"


def test_verbose_logs_progress_to_stderr_and_quiet_without(detector_home, fpenet68, astronaut_file, capsys):
    argv = ["detect", str(astronaut_file), "--landmark-model", str(fpenet68), "--device", "cpu"]
    level = logging.getLogger("faceanalytics").level
    assert main(argv) == EXIT_OK
    out, err = capsys.readouterr()
    assert err == "" and json.loads(out)["faces"]
    assert main(["-v", *argv]) == EXIT_OK
    out, err = capsys.readouterr()
    assert json.loads(out)["faces"]  # stdout keeps only the results
    assert "landmark model random68.onnx (68 points" in err and "CPUExecutionProvider" in err
    assert "detector BlazeFace short" in err
    assert f"{astronaut_file}: 1 face(s) in" in err
    assert logging.getLogger("faceanalytics").level == level  # main leaves the library's logger as it found it


def test_the_library_configures_no_logging():
    import faceanalytics  # noqa: F401

    lib = logging.getLogger("faceanalytics")
    assert lib.level == logging.NOTSET
    assert all(isinstance(h, logging.NullHandler) for h in lib.handlers)
