"""A long stream (benchmarks/long_run.py's scene, faceanalytics.train.long_run, shortened): faces
arrive and leave for a minute of video; memory is flat after warm-up, every arrival is one track
and every track ends, and close() hands back the events still open. The 20,000-frame figures are in docs/reliability.md."""

from __future__ import annotations

import sys

import pytest
from conftest import shared_path

from faceanalytics import Pipeline
from faceanalytics.runtime.registry import DEFAULT_LANDMARK_MODEL, LANDMARK_MODELS
from faceanalytics.train.long_run import CYCLE, appearances, run

FRAMES = 6 * CYCLE + 200  # six 10-second cycles, ending with two faces and one mid-closure
WARMUP = 2 * CYCLE


def test_a_long_stream_stays_flat_and_closes_everything(detector_home):
    if DEFAULT_LANDMARK_MODEL not in LANDMARK_MODELS:
        pytest.skip("needs the bundled landmark model")
    try:
        rep = run(FRAMES, shared_path("data", "eye_state"), every=CYCLE // 2, pipe=Pipeline(device="cpu"))
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    rss, objects = rep.growth_after(WARMUP)
    assert rss < 8.0, rep.samples  # MB, after warm-up
    assert objects < 500, rep.samples  # Python objects: a few per ended track, nothing per frame
    assert rep.tracks == appearances(FRAMES)  # one track per arrival: none lost, none doubled
    assert rep.leftover_after_gaps == 0  # a face that left has no track a second later
    assert rep.max_alive_over_present == 0
    assert rep.events > 0 and rep.open_at_end >= 1 and rep.open_at_end_complete == 0
    assert rep.active_after_close == 0


def test_a_dropped_pipeline_and_its_detector_are_freed(detector_home):
    """In a fresh interpreter (where the detector's first use imports mediapipe): nothing keeps a
    Pipeline, its detector or its onnxruntime session alive once the caller lets go."""
    import subprocess

    code = """
import gc, sys, threading, weakref
from faceanalytics import Pipeline
pipe = Pipeline(device="cpu")
pipe.detector
refs = [weakref.ref(pipe), weakref.ref(pipe.detector), weakref.ref(pipe.landmarker)]
del pipe
gc.collect()
for t in threading.enumerate():  # a detector dropped without close() is closed on a short-lived thread
    if t.name == "faceanalytics-detector-close":
        t.join(30)
gc.collect()
sys.exit(sum(r() is not None for r in refs))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
