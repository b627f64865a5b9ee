from __future__ import annotations

import numpy as np
import pytest

from faceanalytics.train.synthetic_ear import make_trace, score
from faceanalytics.video.events import BlinkMonitor, SustainedMonitor


def _feed(mon, t, values):
    events = []
    for ti, v in zip(t, values, strict=True):
        events += mon.update(float(ti), float(v))
    return events


@pytest.mark.parametrize("fps", [15, 30, 60])
def test_blinks_on_synthetic_traces(fps):
    tp = n_det = n_true = 0
    for seed in range(4):
        t, ear, truths = make_trace(seed, fps=fps, noise=0.015)
        mon = BlinkMonitor(0)
        events = _feed(mon, t, ear) + mon.finish()
        a, b, c = score([(e.kind, e.start, e.end) for e in events], truths)
        tp, n_det, n_true = tp + a, n_det + b, n_true + c
    assert tp / n_det >= 0.95 and tp / n_true >= 0.95


def test_blink_microsleep_perclos_and_rate_golden():
    mon = BlinkMonitor(7, warmup=1e9, default_threshold=0.2)  # fixed threshold
    t = np.arange(0, 60, 0.1)
    ear = np.full(t.shape, 0.3)
    ear[(t >= 10) & (t < 10.2)] = 0.05  # a 0.2 s blink
    ear[(t >= 20) & (t < 21.0)] = 0.05  # a 1 s closure
    events = _feed(mon, t, ear)
    assert [(e.kind, e.track_id) for e in events] == [("blink", 7), ("microsleep", 7)]
    assert events[0].start == pytest.approx(10.0) and events[0].duration == pytest.approx(0.2)
    assert events[1].duration == pytest.approx(1.0)
    assert mon.perclos == pytest.approx(1.2 / 59.9, rel=0.02)
    assert mon.blinks_per_minute == pytest.approx(60 / 59.9)


def test_threshold_adapts_to_the_person():
    mon = BlinkMonitor(0)
    t = np.arange(0, 5, 1 / 30)
    _feed(mon, t, np.full(t.shape, 0.4))
    assert mon.threshold == pytest.approx(0.2)  # ratio 0.5 of the 0.4 baseline
    narrow = BlinkMonitor(0)
    _feed(narrow, t, np.full(t.shape, 0.18))  # a person with narrow eyes is not "always closed"
    assert not narrow.closed and narrow.threshold == pytest.approx(0.09)


def test_unfinished_closure_is_reported_incomplete():
    mon = BlinkMonitor(0, warmup=1e9, cold_start=0.0)
    _feed(mon, [0.0, 0.1, 0.2, 0.9], [0.3, 0.05, 0.05, 0.05])
    (event,) = mon.finish()
    assert event.kind == "microsleep" and not event.complete and event.end == 0.9
    assert np.isnan(float("nan")) and mon.update(1.0, float("nan")) == []  # NaN keeps the state


def test_sustained_monitor_for_yawns():
    mon = SustainedMonitor("yawn", 3, threshold=0.6, min_duration=1.5)
    t = np.arange(0, 10, 0.05)
    mar = np.full(t.shape, 0.1)
    mar[(t >= 1) & (t < 1.5)] = 0.8  # talking: too short
    mar[(t >= 4) & (t < 6)] = 0.8  # a yawn...
    mar[(t >= 5.0) & (t < 5.1)] = 0.5  # ...with a short dip, bridged
    events = _feed(mon, t, mar)
    assert len(events) == 1 and events[0].kind == "yawn" and events[0].track_id == 3
    assert events[0].start == pytest.approx(4.0) and events[0].end == pytest.approx(6.0)
    assert mon.count == 1 and mon.finish() == []


def test_threshold_is_the_windowed_percentile_of_the_ears():
    """The baseline is the 80th percentile of the last ``baseline_window`` seconds of EAR (kept
    sorted incrementally): the same as numpy's over the window, as samples enter and expire."""
    rng = np.random.default_rng(4)
    mon = BlinkMonitor(1, baseline_window=2.0, warmup=0.5)
    history = []
    for i in range(400):
        t = i / 30.0
        ear = float(rng.choice([np.nan, rng.uniform(0.05, 0.4)], p=[0.05, 0.95]))
        mon.update(t, ear)
        if not np.isfinite(ear):
            continue  # no information: the threshold is kept
        history.append((t, ear))
        window = [e for s, e in history if s >= t - 2.0]
        if t - min(s for s, _ in history if s >= t - 2.0) >= 0.5:
            expected = float(np.clip(0.5 * np.percentile(window, 80), 0.05, 0.4))
            assert mon.threshold == pytest.approx(expected, rel=1e-12)


def test_cold_start_raises_no_microsleep_on_narrow_open_eyes():
    """Issue 19: open eyes at an EAR of 0.19-0.22 from the first frame (below the single-image 0.2
    at times) were held closed for most of the first second and reported as a microsleep."""
    rng = np.random.default_rng(0)
    t = np.arange(0, 3, 1 / 30)
    ear = rng.uniform(0.19, 0.22, t.shape)
    mon = BlinkMonitor(0)
    events = _feed(mon, t, ear) + mon.finish()
    assert [e for e in events if e.kind == "microsleep"] == []
    assert mon.perclos < 0.05


def test_a_closure_in_the_cold_start_is_a_blink_but_never_a_microsleep():
    t = np.arange(0, 3, 1 / 30)
    ear = np.full(t.shape, 0.3)
    ear[(t >= 0.2) & (t < 0.4)] = 0.05  # a blink in the first second: counted
    ear[(t >= 0.5) & (t < 1.2)] = 0.05  # 0.7 s closed, begun before the baseline exists: dropped
    ear[(t >= 2.0) & (t < 2.7)] = 0.05  # the same, calibrated: a microsleep
    events = _feed(BlinkMonitor(0), t, ear)
    assert [e.kind for e in events] == ["blink", "microsleep"]
    assert events[1].start == pytest.approx(2.0)


def test_a_learned_openness_decides_from_the_first_frame():
    """With the eyes result's own decision (``closed=``), the EAR threshold is not used and a
    microsleep counts from the first frame."""
    mon = BlinkMonitor(0)
    t = np.arange(0, 2, 1 / 30)
    closed = (t >= 0.1) & (t < 0.8)
    events = []
    for ti, c in zip(t, closed, strict=True):
        events += mon.update(float(ti), 0.3, bool(c))  # an EAR that says open: ignored
    assert [e.kind for e in events] == ["microsleep"]
    assert events[0].start == pytest.approx(0.1, abs=1e-9)


@pytest.mark.parametrize("decided", [True, False])
def test_a_one_frame_reopening_does_not_split_a_blink(decided):
    """Issue 19: one frame that looks open inside a closure (a face swapped in, motion blur) split
    a blink in two. One open sample between closed ones is bridged (``bridge=1``); two are a
    reopening, which ends the closure at the first of them."""
    t = np.arange(0, 3, 1 / 30)
    frames = np.arange(len(t))

    def run(closed_mask, **kw):
        mon, reported = BlinkMonitor(0, warmup=1e9, **kw), []
        for k, (ti, c) in enumerate(zip(t, closed_mask, strict=True)):
            reported += [(k, e) for e in mon.update(float(ti), 0.05 if c else 0.3, bool(c) if decided else None)]
        return reported, mon

    one = (frames >= 40) & (frames < 48) & (frames != 44)  # closed 40-47, open at 44 only
    reported, mon = run(one)
    ((k, event),) = reported
    assert event.kind == "blink" and event.complete and k == 49  # reported on the second open frame
    assert event.start == pytest.approx(t[40]) and event.end == pytest.approx(t[48])
    assert mon.blinks == 1 and mon.finish() == []
    two = (frames >= 40) & (frames < 50) & (frames != 44) & (frames != 45)  # open at 44 and 45
    reported, _ = run(two)
    assert [e.kind for _, e in reported] == ["blink", "blink"]
    assert reported[0][1].end == pytest.approx(t[44]) and reported[1][1].start == pytest.approx(t[46])
    reported, _ = run(one, bridge=0)  # no bridging: split in two
    assert len(reported) == 2
    # a stream that ends one frame after the eyes reopen: finish() reports the closure, complete
    mon = BlinkMonitor(0, warmup=1e9)
    for ti, c in zip(t[:49], one[:49], strict=True):
        assert mon.update(float(ti), 0.05 if c else 0.3, bool(c) if decided else None) == []
    (event,) = mon.finish()
    assert event.complete and event.end == pytest.approx(t[48])


@pytest.mark.parametrize("decided", [True, False])
def test_a_closure_lasts_only_as_long_as_it_was_seen(decided):
    """Eyes seen closed for 5 frames, then not judged for 20 (too dark: no openness, no EAR), then
    seen open: a blink ending at the first frame not judged, not a 0.8 s microsleep. Closed on both
    sides of the gap: one closure through it."""
    t = np.arange(0, 3, 1 / 30)
    nan = float("nan")

    def run(states: str) -> tuple[list, BlinkMonitor]:
        mon, events = BlinkMonitor(0, warmup=1e9), []
        for ti, s in zip(t, states, strict=False):
            ear = {"c": 0.05, "o": 0.3, "?": nan}[s]
            decision = {"c": True, "o": False, "?": None}[s] if decided else None
            events += mon.update(float(ti), ear, decision)
        return events, mon

    (blink,) = run("o" * 40 + "c" * 5 + "?" * 20 + "o" * 10)[0]
    assert blink.kind == "blink" and blink.start == pytest.approx(t[40]) and blink.end == pytest.approx(t[45])
    (sleep,) = run("o" * 40 + "c" * 5 + "?" * 20 + "c" * 2 + "o" * 10)[0]
    assert sleep.kind == "microsleep" and sleep.end == pytest.approx(t[67])
    events, mon = run("o" * 40 + "c" * 5 + "?" * 20)  # the stream ends unseen: reported up to the gap
    assert events == []
    (last,) = mon.finish()
    assert not last.complete and last.end == pytest.approx(t[45])
