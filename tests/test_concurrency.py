"""Threads: a Pipeline shared by 8 threads gives exactly the serial results; a Stream is used by
one thread at a time, and a second one at the same time gets a StreamError, not corrupted state."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest
from conftest import shared_path
from fpenet_models import random_fpenet

from faceanalytics import Pipeline, Result, Stream, StreamError
from faceanalytics.runtime.joint_session import JointMember
from faceanalytics.runtime.registry import DEFAULT_LANDMARK_MODEL, LANDMARK_MODELS

THREADS = 8


def _same(a: Result, b: Result) -> bool:
    if len(a.faces) != len(b.faces):
        return False
    return all(
        np.array_equal(fa.box, fb.box)
        and np.array_equal(fa.landmarks, fb.landmarks)
        and np.array_equal(fa.confidence, fb.confidence)
        and fa.to_dict() == fb.to_dict()
        for fa, fb in zip(a.faces, b.faces, strict=True)
    )


def _hammer(pipe: Pipeline, jobs: list, rounds: int = 2) -> list[list[tuple[int, Result]]]:
    """Every thread runs every job ``rounds`` times, each thread starting at another job."""
    barrier = threading.Barrier(THREADS)

    def work(offset: int) -> list[tuple[int, Result]]:
        barrier.wait()
        out = []
        for r in range(rounds * len(jobs)):
            i = (offset + r) % len(jobs)
            image, boxes = jobs[i]
            out.append((i, pipe(image, boxes=boxes)))
        return out

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(work, range(THREADS)))


def test_a_pipeline_shared_by_8_threads_matches_serial_use_with_the_detector(detector_home, astronaut):
    if DEFAULT_LANDMARK_MODEL not in LANDMARK_MODELS:
        pytest.skip("needs the bundled landmark model")
    folder = shared_path("data", "landmarks68", "images")
    files = sorted(folder.glob("*.jpg"))[:: max(1, len(list(folder.glob("*.jpg"))) // 7)][:7]
    jobs = [(astronaut, None)] + [(cv2.imread(str(f)), None) for f in files]
    with Pipeline(device="cpu") as pipe:
        serial = [pipe(image) for image, _ in jobs]
        assert sum(len(r.faces) for r in serial) >= len(jobs) - 1  # the check is about faces, not empty results
        assert isinstance(pipe.landmarker.session, JointMember)  # detector and landmarks in one session
        for results in _hammer(pipe, jobs):
            assert all(_same(res, serial[i]) for i, res in results)


def test_a_pipeline_shared_by_8_threads_matches_serial_use_with_boxes(tmp_path):
    pipe = Pipeline(random_fpenet(tmp_path / "m.onnx", 68), device="cpu", threads=1)
    rng = np.random.default_rng(3)
    jobs = []
    for n in range(12):
        image = rng.integers(0, 256, (120 + 7 * n, 160, 3), dtype=np.uint8)
        boxes = [[10 + n, 12, 70 + 2 * n, 80], [60, 30, 150, 110 + n]][: 1 + n % 2]
        jobs.append((image, boxes))
    serial = [pipe(image, boxes=boxes) for image, boxes in jobs]
    for results in _hammer(pipe, jobs, rounds=3):
        assert all(_same(res, serial[i]) for i, res in results)


def test_detectors_created_by_8_threads_at_once(detector_home, astronaut, tmp_path):
    """Lazy detector creation races: each pipeline gets one detector, and stderr (which loading
    silences for a moment, process-wide) is back where it was afterwards."""
    before = os.fstat(2)
    model = random_fpenet(tmp_path / "m.onnx", 68)
    shared = Pipeline(model, device="cpu")
    own = [Pipeline(model, device="cpu") for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS)

    def work(i: int):
        barrier.wait()
        return shared.detector, own[i].detector, len(own[i].detect(astronaut))

    with ThreadPoolExecutor(THREADS) as pool:
        got = list(pool.map(work, range(THREADS)))
    assert len({id(s) for s, _, _ in got}) == 1
    assert len({id(o) for _, o, _ in got}) == THREADS
    assert all(n == 1 for _, _, n in got)
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
    for p in [shared, *own]:
        p.close()


class _Slow:
    """A plugin that holds the stream busy until released."""

    name = "slow"

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self, face, frame):
        self.entered.set()
        self.release.wait(10)


class _OneBox:
    def detect(self, image):
        from faceanalytics import Detection

        return (Detection(box=np.array([40, 30, 120, 110], np.float32), score=0.9),)


class _Nap:
    name = "nap"

    def __call__(self, face, frame):
        time.sleep(0.002)  # frames overlap between threads


def test_8_threads_on_one_stream_get_stream_errors_not_corruption(tmp_path):
    pipe = Pipeline(random_fpenet(tmp_path / "m.onnx", 68), device="cpu", detector=_OneBox(), plugins=[_Nap()])
    stream = Stream(pipe)
    image = np.random.default_rng(0).integers(0, 256, (160, 200, 3), dtype=np.uint8)
    clock = iter(np.arange(1, 100_000) / 30)
    clock_lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def work(_: int):
        barrier.wait()
        done, refused = [], 0
        for _ in range(40):
            with clock_lock:
                t = next(clock)
            try:
                done.append(stream(image, t).index)
            except StreamError as exc:
                assert "thread" in str(exc) or "increase" in str(exc), exc
                refused += 1
        return done, refused

    with ThreadPoolExecutor(THREADS) as pool:
        got = list(pool.map(work, range(THREADS)))
    indices = sorted(i for done, _ in got for i in done)
    assert indices == list(range(len(indices)))  # every frame that ran got its own index, none lost
    refused = sum(r for _, r in got)
    assert len(indices) + refused == THREADS * 40 and refused > 0 and indices
    (summary,) = stream.summaries()
    assert summary.frames == len(indices)


def test_a_busy_stream_refuses_a_second_thread_and_close_waits(tmp_path):
    slow = _Slow()
    pipe = Pipeline(random_fpenet(tmp_path / "m.onnx", 68), device="cpu", detector=_OneBox(), plugins=[slow])
    stream = Stream(pipe)
    image = np.zeros((160, 200, 3), np.uint8)
    worker = threading.Thread(target=stream, args=(image, 0.0))
    worker.start()
    assert slow.entered.wait(10)
    with pytest.raises(StreamError, match="another thread"):
        stream(image, 1.0)
    closer = threading.Thread(target=stream.close)
    closer.start()
    closer.join(0.2)
    assert closer.is_alive()  # close() waits for the frame in progress
    slow.release.set()
    worker.join(10)
    closer.join(10)
    assert not closer.is_alive()
    with pytest.raises(StreamError, match="closed"):
        stream(image, 2.0)


def test_a_stream_may_be_handed_from_thread_to_thread(tmp_path):
    """One thread at a time is the rule, not one thread forever: a stream passed along a pool
    (as asyncio's run_in_executor does) keeps its tracks."""
    pipe = Pipeline(random_fpenet(tmp_path / "m.onnx", 68), device="cpu", detector=_OneBox(), plugins=[])
    stream = Stream(pipe, detect_every=5)
    image = np.random.default_rng(1).integers(0, 256, (160, 200, 3), dtype=np.uint8)
    frames = []
    for i in range(20):  # a new thread for every frame, one after the other
        t = threading.Thread(target=lambda i=i: frames.append(stream(image, i / 30)))
        t.start()
        t.join()
    assert [f.index for f in frames] == list(range(20))
    assert {f.faces[0].track_id for f in frames if f.faces} == {1}


def test_pipelines_in_threads_do_not_share_stream_state(tmp_path):
    pipe = Pipeline(random_fpenet(tmp_path / "m.onnx", 68), device="cpu", detector=_OneBox(), plugins=[])
    image = np.random.default_rng(2).integers(0, 256, (160, 200, 3), dtype=np.uint8)

    def run(_: int) -> list[int]:
        stream = Stream(pipe)  # one stream per thread, one pipeline for all
        return [stream(image, i / 30).index for i in range(15)]

    with ThreadPoolExecutor(THREADS) as pool:
        assert all(r == list(range(15)) for r in pool.map(run, range(THREADS)))


def test_a_detector_lost_in_a_reference_cycle_closes_without_deadlock(detector_home):
    """A garbage collection can run inside ThreadPoolExecutor.submit(), which holds a global,
    non-reentrant lock; a MediaPipe task finalised there used to deadlock the process. Here the
    collection runs while this thread holds that lock, as it would inside submit()."""
    import concurrent.futures.thread as cft
    import faulthandler
    import gc
    import sys

    from faceanalytics import BlazeFaceDetector

    lock = getattr(cft, "_global_shutdown_lock", None)
    if lock is None:
        pytest.skip("this Python's ThreadPoolExecutor has no global shutdown lock")
    det = BlazeFaceDetector(backend="mediapipe")  # the onnxruntime backend has no task to close
    task = det._task
    cycle = {"detector": det}
    cycle["self"] = cycle
    del det, cycle
    faulthandler.dump_traceback_later(60, exit=True, file=sys.__stderr__)
    try:
        with lock:
            gc.collect()  # finalises the detector: its close must not need this lock on this thread
        deadline = time.monotonic() + 30
        while task._handle and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not task._handle  # closed, by the detector's own closing thread
    finally:
        faulthandler.cancel_dump_traceback_later()
