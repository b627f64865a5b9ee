"""``faceanalytics batch``: inputs, the Parquet tables, exactly-once under killed workers, resume,
and the same tables from the local and Ray engines (Ray tests skip without Ray)."""

from __future__ import annotations

import csv
import logging
import os
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pc = pytest.importorskip("pyarrow.compute")
pq = pytest.importorskip("pyarrow.parquet")

from batch_faults import EXIT_CODE, crash_once  # noqa: E402
from conftest import shared_path  # noqa: E402

from faceanalytics import Options  # noqa: E402
from faceanalytics.batch import Task, expand_inputs, plan_tasks, read_results, run_batch  # noqa: E402
from faceanalytics.batch.tables import SOURCE_SCHEMA  # noqa: E402
from faceanalytics.cli import EXIT_FAILED, EXIT_OK, EXIT_SETUP, EXIT_USAGE, main  # noqa: E402
from faceanalytics.io.video_outputs import csv_columns  # noqa: E402

PHOTOS = ("test_Abdullah_Gul_11.jpg", "test_Adam_Sandler_01.jpg", "test_Adrian_Nastase_11.jpg")


def _clip(path: Path, face: np.ndarray, frames: int, phase: float) -> Path:
    """A real face moving over a grey 320x240 background."""
    face = cv2.resize(face, (140, 150))
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 240))
    for i in range(frames):
        frame = np.full((240, 320, 3), 60, np.uint8)
        x, y = int(20 + 70 * (1 + np.sin(i / 10 + phase))), int(10 + 35 * (1 + np.cos(i / 15 + phase)))
        frame[y : y + 150, x : x + 140] = face
        w.write(frame)
    w.release()
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """photos/ (three faces and a broken file), clips/walk.mp4 (40 frames), clips/pan.mp4 (24)."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "photos").mkdir()
    for name in PHOTOS:
        shutil.copy(shared_path("data", "landmarks68", "images", name), root / "photos" / name)
    (root / "photos" / "broken.jpg").write_bytes(b"not a jpeg")
    (root / "clips").mkdir()
    face = cv2.imread(str(root / "photos" / PHOTOS[1]))
    _clip(root / "clips" / "walk.mp4", face, 40, 0.0)
    _clip(root / "clips" / "pan.mp4", face, 24, 2.0)
    return root


@pytest.fixture(scope="module")
def landmark_model(fpenet68) -> str:
    from faceanalytics.runtime.registry import DEFAULT_LANDMARK_MODEL, LANDMARK_MODELS

    return DEFAULT_LANDMARK_MODEL if DEFAULT_LANDMARK_MODEL in LANDMARK_MODELS else str(fpenet68)


def _inputs(corpus: Path) -> list[str]:
    # A folder, a file:// URI (read through pyarrow's filesystem), a glob, and a path that is not there.
    clips = corpus / "clips"
    return [str(corpus / "photos"), f"file://{clips / 'walk.mp4'}", str(clips / "p*.mp4"), str(corpus / "missing.png")]


def _expected_sources(corpus: Path) -> list[str]:
    photos = [str(corpus / "photos" / n) for n in ("broken.jpg", *PHOTOS)]
    return sorted([*photos, str(corpus / "clips" / "pan.mp4"), str(corpus / "missing.png"), f"file://{corpus}/clips/walk.mp4"])


def _tables(output: Path | str) -> tuple[pa.Table, pa.Table]:
    faces, sources = read_results(str(output))
    return faces, sources.drop_columns(["seconds"])  # wall time differs from run to run


@pytest.fixture(scope="module")
def baseline(detector_home, corpus, landmark_model, tmp_path_factory) -> tuple[int, Path]:
    """The reference run: the CLI, local engine, two worker processes."""
    out = tmp_path_factory.mktemp("baseline") / "results.parquet"
    code = main(["batch", *_inputs(corpus), "-o", str(out), "--workers", "2", "--landmark-model", landmark_model, "-q"])
    return code, out


# ---------------------------------------------------------------------------------------------
def test_inputs_files_folders_globs_and_manifests(tmp_path, monkeypatch):
    for rel in ("a/1.jpg", "a/b/2.PNG", "a/b/clip.mp4", "a/notes.md", "a/.hidden.jpg", "a/.cache/3.jpg", "c/x.mov", "c/y.jpg"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    (tmp_path / "odd.bin").write_bytes(b"")
    (tmp_path / "list.txt").write_text("# the c folder\nc/x.mov\n\nc/*.jpg\nnot/there.jpg\n")
    (tmp_path / "more").write_text(f"{tmp_path / 'a' / '1.jpg'}\n")
    monkeypatch.chdir(tmp_path)
    found = expand_inputs(["a", "list.txt", "@more", "odd.bin", "z/*.jpg", "gone.mp4", str(tmp_path / "a" / "1.jpg")])
    t = str(tmp_path)
    assert [(s.path, s.kind, s.error) for s in found] == [
        (f"{t}/a/1.jpg", "image", ""),  # once, though named three ways
        (f"{t}/a/b/2.PNG", "image", ""),
        (f"{t}/a/b/clip.mp4", "video", ""),  # hidden files and folders, and notes.md, are skipped
        (f"{t}/c/x.mov", "video", ""),  # manifest entries are relative to the manifest
        (f"{t}/c/y.jpg", "image", ""),
        (f"{t}/gone.mp4", "", "not found"),
        (f"{t}/not/there.jpg", "", "not found"),
        (f"{t}/odd.bin", "video", ""),  # named explicitly: tried as a video
        (f"{t}/z/*.jpg", "", "no images or videos match 'z/*.jpg'"),
    ]
    (tmp_path / "empty").mkdir()
    assert expand_inputs(["empty"])[0].error.startswith("no images or videos in folder")
    with pytest.raises(ValueError, match="no inputs"):
        expand_inputs([])


def test_inputs_through_pyarrow_filesystems(tmp_path):
    for rel in ("v/1.jpg", "v/sub/2.mp4", "v/.tmp/3.jpg", "v/readme.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    (tmp_path / "v" / "list.txt").write_text("1.jpg\nsub/2.mp4\n")
    uri = f"file://{tmp_path}/v"
    folder = [(s.path, s.kind) for s in expand_inputs([uri])]
    assert folder == [(f"{uri}/1.jpg", "image"), (f"{uri}/sub/2.mp4", "video")]
    assert [s.path for s in expand_inputs([f"{uri}/**/*.mp4"])] == [f"{uri}/sub/2.mp4"]
    assert [s.path for s in expand_inputs([f"{uri}/**/*.jpg"])] == [f"{uri}/1.jpg"]  # ** spans no folder too
    assert [s.path for s in expand_inputs([f"{uri}/list.txt"])] == [f"{uri}/1.jpg", f"{uri}/sub/2.mp4"]
    assert expand_inputs([f"{uri}/nothing.jpg"])[0].error == "not found"


def test_tasks_group_images_and_keep_their_keys():
    from faceanalytics.batch import Source

    sources = [Source(f"/d/{i}.jpg", "image") for i in range(5)] + [Source("/d/v.mp4", "video"), Source("/d/w.jpg", "image")]
    tasks = plan_tasks(sources, images_per_task=2)
    assert [[s.path[3:] for s in t.sources] for t in tasks] == [
        ["0.jpg", "1.jpg"],
        ["2.jpg", "3.jpg"],
        ["4.jpg"],
        ["v.mp4"],
        ["w.jpg"],
    ]
    assert [t.key for t in tasks] == [t.key for t in plan_tasks(sources, images_per_task=2)]  # same inputs, same parts
    assert len({t.key for t in tasks}) == len(tasks)
    assert Task.from_json(tasks[0].to_json()) == tasks[0]


# ---------------------------------------------------------------------------------------------
def test_batch_writes_one_row_per_face_per_frame_and_one_per_source(baseline, corpus):
    code, out = baseline
    assert code == EXIT_FAILED  # broken.jpg and missing.png; everything else was analysed
    faces, sources = _tables(out)
    assert faces.column_names == ["source", "frame", "face", *csv_columns(68)[1:]]
    assert pa.types.is_boolean(faces.schema.field("event_blink").type) and pa.types.is_int64(faces.schema.field("track_id").type)
    assert sources.column_names == [n for n in SOURCE_SCHEMA.names if n != "seconds"]
    assert sources.column("source").to_pylist() == _expected_sources(corpus)
    by_source = {r["source"]: r for r in sources.to_pylist()}
    assert by_source[str(corpus / "missing.png")]["error"] == "not found"
    assert "cannot decode" in by_source[str(corpus / "photos" / "broken.jpg")]["error"]
    assert {s: r["status"] for s, r in by_source.items() if r["status"] == "failed"}.keys() == {
        str(corpus / "missing.png"),
        str(corpus / "photos" / "broken.jpg"),
    }
    walk = by_source[f"file://{corpus}/clips/walk.mp4"]
    assert (walk["kind"], walk["frames"], walk["width"], walk["height"], walk["fps"]) == ("video", 40, 320, 240, 30.0)
    assert walk["tracks"] >= 1 and '"track_id"' in walk["tracks_json"]
    for name in PHOTOS:
        photo = by_source[str(corpus / "photos" / name)]
        assert (photo["kind"], photo["frames"], photo["tracks"]) == ("image", 1, None) and photo["faces"] >= 1
    # The face rows: as many as the source table says, in source, frame, face order, unique.
    counts = {s: r["faces"] for s, r in by_source.items()}
    got = {}
    for s in faces.column("source").to_pylist():
        got[s] = got.get(s, 0) + 1
    assert got == {s: n for s, n in counts.items() if n}
    keys = list(zip(*(faces.column(c).to_pylist() for c in ("source", "frame", "face")), strict=True))
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert pq.read_table(out).equals(read_results(str(out))[0])  # the single file is already in order
    assert sorted(p.name for p in out.parent.iterdir()) == ["results.parquet", "results.sources.parquet"]  # parts merged, removed


def test_video_rows_are_those_of_the_video_command(baseline, corpus, landmark_model, tmp_path):
    """One video is one Stream, so tracking, smoothing and events are `faceanalytics video`'s."""
    _, out = baseline
    table = tmp_path / "pan.csv"
    clip = corpus / "clips" / "pan.mp4"
    assert main(["video", str(clip), "--csv", str(table), "--landmark-model", landmark_model, "-q"]) == EXIT_OK
    expected = list(csv.DictReader(table.open()))
    faces, _ = _tables(out)
    rows = faces.filter(pc.equal(faces.column("source"), str(clip))).to_pylist()
    assert len(rows) == len(expected) == 24
    for got, want in zip(rows, expected, strict=True):
        assert got["frame"] == int(want["frame"]) and got["track_id"] == int(want["track_id"])
        for col in ("x1", "y1", "x_0", "y_33", "x_67"):
            assert abs(got[col] - float(want[col])) < 0.011, col
        for col in ("yaw", "ear_left", "mar"):
            assert (got[col] is None) == (want[col] == "") and (got[col] is None or abs(got[col] - float(want[col])) < 2e-4)
        assert int(got["eyes_closed"]) == int(want["eyes_closed"]) and int(got["event_blink"]) == int(want["event_blink"])


@pytest.fixture(scope="module")
def killed_local_run(detector_home, corpus, landmark_model, tmp_path_factory):
    """Partitioned local run in which the worker analysing walk.mp4 dies at its frame 10."""
    tmp = tmp_path_factory.mktemp("killed")
    marker = tmp / "crashed"
    options = crash_once(Options(landmark_model=landmark_model), "walk.mp4", marker, frame=10)
    out = tmp / "parts"
    report = run_batch(_inputs(corpus), str(out), options, workers=2, retries=1, partitioned=True)
    return report, out, marker


def test_local_worker_killed_mid_video_loses_and_duplicates_nothing(killed_local_run, baseline, corpus):
    report, out, marker = killed_local_run
    assert marker.exists()  # the worker did die
    assert report.sources == 7 and {s for s, _ in report.failed} == {
        str(corpus / "missing.png"),
        str(corpus / "photos" / "broken.jpg"),
    }
    faces, sources = _tables(out)
    ref_faces, ref_sources = _tables(baseline[1])
    assert sources.equals(ref_sources) and faces.equals(ref_faces)  # every source once, every row once
    assert (out / "_SUCCESS").is_file()
    leftovers = [p.name for p in out.rglob("*") if p.is_file() and p.name.startswith(".")]
    assert leftovers == []  # the dead worker's half-written part was removed


def test_a_task_that_keeps_killing_its_worker_is_reported(detector_home, corpus, landmark_model, tmp_path):
    out = tmp_path / "photos.parquet"
    options = crash_once(Options(landmark_model=landmark_model), PHOTOS[0], tmp_path / "crashed")
    report = run_batch([str(corpus / "photos")], str(out), options, workers=1, retries=0, images_per_task=1)
    error = dict(report.failed)[str(corpus / "photos" / PHOTOS[0])]
    assert error.startswith(f"the worker process died (exit code {EXIT_CODE})"), error
    _, sources = _tables(out)
    assert sources.column("status").to_pylist() == ["failed", "failed", "ok", "ok"]  # broken.jpg, the crash, two photos


def test_interrupted_run_resumes_where_it_stopped(baseline, corpus, tmp_path, landmark_model, capsys):
    """Ctrl-C stops the workers at once and leaves the parts of the finished tasks; --resume redoes
    only the others, and the result is that of an uninterrupted run."""
    import multiprocessing

    out = tmp_path / "results.parquet"
    options = Options(landmark_model=landmark_model)

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(_inputs(corpus), str(out), options, workers=1, progress=interrupt)  # after the first task: pan.mp4
    assert multiprocessing.active_children() == []
    assert not out.exists() and len(list((tmp_path / "results.parquet.parts" / "sources").glob("part-*.parquet"))) == 1
    args = ["batch", *_inputs(corpus), "-o", str(out), "--landmark-model", landmark_model, "-q", "--workers", "1"]
    assert main(args) == EXIT_USAGE
    assert "--resume" in capsys.readouterr().err
    report = run_batch(_inputs(corpus), str(out), options, workers=1, resume=True)
    assert report.resumed == 1
    faces, sources = _tables(out)
    ref_faces, ref_sources = _tables(baseline[1])
    assert sources.equals(ref_sources) and faces.equals(ref_faces)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.parquet", "results.sources.parquet"]


def test_usage_and_setup_errors(detector_home, corpus, landmark_model, tmp_path, capsys, monkeypatch):
    exists = tmp_path / "exists.parquet"
    exists.write_bytes(b"")
    photo = str(corpus / "photos" / PHOTOS[0])
    model = ["--landmark-model", landmark_model, "-q"]
    assert main(["batch", photo, "-o", str(exists), *model]) == EXIT_USAGE
    assert "--overwrite" in capsys.readouterr().err
    assert main(["batch", photo, "-o", str(tmp_path), *model]) == EXIT_USAGE  # a folder without --partitioned
    assert main(["batch", photo, "-o", str(tmp_path / "x.parquet"), "--workers", "0", *model]) == EXIT_USAGE
    assert main(["batch", photo, "-o", str(tmp_path / "x.parquet"), "--detect-every", "0", *model]) == EXIT_USAGE
    assert (
        main(["batch", photo, "-o", str(tmp_path / "x.parquet"), "--landmark-model", str(tmp_path / "none.onnx")]) == EXIT_SETUP
    )
    assert "none.onnx" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if faceanalytics[batch] were not installed
    assert main(["batch", photo, "-o", str(tmp_path / "x.parquet"), *model]) == EXIT_SETUP
    assert "faceanalytics[batch]" in capsys.readouterr().err
    assert not (tmp_path / "x.parquet").exists()


# ------------------------------------------------------------------------------------------- Ray
def test_ray_actors_and_gpu_fractions():
    from faceanalytics.batch.ray_engine import cluster_plan

    class FakeRay:
        def __init__(self, **res):
            self.res = res

        def cluster_resources(self):
            return self.res

    gpus = FakeRay(CPU=16.0, GPU=2.0)
    assert cluster_plan(gpus, None, 1, "auto", None) == (16, 0.125)  # 16 actors share 2 GPUs
    assert cluster_plan(gpus, 4, 1, "cuda", None) == (4, 0.5)
    assert cluster_plan(gpus, 1, 1, "cuda", None) == (1, 1.0)  # never more than one GPU per actor
    assert cluster_plan(gpus, None, 4, "cpu", None) == (4, 0.0)  # --threads 4: 4 CPUs per actor; no GPU asked
    assert cluster_plan(gpus, 8, 1, "auto", 0.25) == (8, 0.25)
    assert cluster_plan(FakeRay(CPU=2.0), None, 1, "auto", None) == (2, 0.0)


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    # Actors unpickle the options of crash_once, so they import tests/batch_faults.py.
    here = str(Path(__file__).resolve().parent)
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield ray
    ray.shutdown()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Ray Data's own
def test_ray_and_local_give_the_same_tables(ray_cluster, baseline, corpus, landmark_model, tmp_path):
    out = tmp_path / "ray.parquet"
    args = ["batch", *_inputs(corpus), "-o", str(out), "--engine", "ray", "--workers", "2", "--landmark-model", landmark_model]
    assert main([*args, "-q"]) == EXIT_FAILED  # broken.jpg and missing.png, as with the local engine
    faces, sources = _tables(out)
    ref_faces, ref_sources = _tables(baseline[1])
    assert sources.equals(ref_sources)
    assert faces.equals(ref_faces)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_ray_worker_killed_mid_video_loses_and_duplicates_nothing(ray_cluster, baseline, corpus, landmark_model, tmp_path):
    marker = tmp_path / "crashed"
    out = tmp_path / "ray-parts"
    options = crash_once(Options(landmark_model=landmark_model), "pan.mp4", marker, frame=12)
    run_batch(_inputs(corpus), str(out), options, engine="ray", workers=2, retries=2, partitioned=True)
    assert marker.exists()  # the actor did die; Ray restarted it and retried the task
    faces, sources = _tables(out)
    ref_faces, ref_sources = _tables(baseline[1])
    assert sources.column("source").to_pylist() == _expected_sources(corpus)  # each source exactly once
    assert sources.equals(ref_sources) and faces.equals(ref_faces)
    assert [p.name for p in out.rglob("*") if p.is_file() and p.name.startswith(".")] == []
