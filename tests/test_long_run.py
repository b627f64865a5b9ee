"""A long stream (benchmarks/long_run.py's scene, shortened): faces arrive and leave for a minute
of video; memory is flat after warm-up, every arrival is one track and every track ends, and
close() hands back the events still open. The 20,000-frame figures are in docs/reliability.md."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from long_run import CYCLE, appearances, run

from faceanalytics import Pipeline
from faceanalytics.registry import DEFAULT_LANDMARK_MODEL, LANDMARK_MODELS

FRAMES = 6 * CYCLE + 200  # six 10-second cycles, ending with two faces and one mid-closure
WARMUP = 2 * CYCLE


def test_a_long_stream_stays_flat_and_closes_everything(detector_home):
    if DEFAULT_LANDMARK_MODEL not in LANDMARK_MODELS:
        pytest.skip("needs the bundled landmark model")
    try:
        rep = run(FRAMES, every=CYCLE // 2, pipe=Pipeline(device="cpu"))
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
