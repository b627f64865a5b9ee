"""Events over time for one tracked face: blinks, microsleeps, yawns, smiles; PERCLOS and blink rate.

Timestamps (seconds, increasing) drive everything, so variable frame rates are fine. A state is
held from one sample to the next (sample-and-hold) when durations are measured.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

__all__ = ["BlinkMonitor", "Event", "SustainedMonitor"]


@dataclass(frozen=True)
class Event:
    """Something that happened to one face over an interval.

    Attributes:
        kind: ``"blink"`` (both eyes closed for less than the microsleep time), ``"microsleep"``
            (closed at least that long), ``"yawn"``, ``"smile"``.
        track_id: the face's track.
        start, end: seconds, in the caller's timestamps; ``end`` is the first sample where it was over.
        complete: False when the stream ended (or the face left) while it was still going on.
    """

    kind: str
    track_id: int
    start: float
    end: float
    complete: bool = True

    @property
    def duration(self) -> float:
        """``end - start``, seconds."""
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "track_id": self.track_id, "start": self.start, "end": self.end,
                "duration": self.duration, "complete": self.complete}


class BlinkMonitor:
    """Eye closures, blink rate and PERCLOS of one face, from the same per-frame decision as single images.

    Each sample is the face's mean EAR and, where the eyes result has a learned openness
    (``left_openness``/``right_openness``), its ``closed`` decision. With that decision the
    monitor uses it as it is (the single image's score decides; no threshold here). Without it the
    EAR decides against an adaptive threshold: ``ratio`` times the person's open-eye baseline, the
    80th percentile of their EAR over the last ``baseline_window`` seconds (blinks take a few
    percent of the time, so this is an open-eye value), at most ``default_threshold`` (the single
    image's) until ``warmup`` seconds of data exist. Eyes count as closed when the EAR drops below
    the threshold and open again once it rises above ``threshold * (1 + hysteresis)``. Either way
    closures shorter than ``min_closure`` seconds are noise (real blinks last 100-400 ms), and a
    reopening seen on at most ``bridge`` samples (one) between closed ones does not end the
    closure: one frame that looks open in the middle of a blink (a face swapped in, motion blur)
    would otherwise split it in two. So a closure ends at the first of ``bridge + 1`` open samples
    in a row, and its event is reported ``bridge`` samples after the eyes reopen.

    A sample without a decision (no finite EAR and no openness decision: eyes too dark to judge,
    degenerate eye landmarks) keeps the state, but a closure lasts only as long as it was seen:
    eyes seen closed, then not judged, then seen open end their closure at the first sample not
    judged. A blink in frames that then turn too dark stays a blink, not a microsleep.

    Cold start: a closure decided by the EAR that began before the track had ``cold_start``
    seconds of EAR history is never a microsleep (it ends as a blink if short, else it is dropped):
    before a baseline exists the EAR cannot tell narrow open eyes from closed ones. A closure
    decided by a learned openness is a microsleep from the first frame.

    Args:
        microsleep: closures at least this long (s) are microsleeps, shorter ones blinks.
        window: seconds of history for blinks per minute and PERCLOS.
        cold_start: seconds of EAR history before an EAR-decided closure may be a microsleep.
        confirm_ratio: the threshold is at least ``min(default_threshold, confirm_ratio *
            baseline)``: a drop the single image calls closed that is also this far below the
            person's baseline. The default (``ratio``) adds nothing; landmark models that close
            the eyes only partly (closed EAR about 0.6 of open) need about 0.7, which also
            counts deep squints as closures.
        bridge: reopenings of at most this many samples do not end a closure (0: every one does).
    """

    def __init__(
        self,
        track_id: int,
        *,
        ratio: float = 0.5,
        default_threshold: float = 0.2,
        baseline_window: float = 30.0,
        warmup: float = 1.0,
        hysteresis: float = 0.25,
        min_closure: float = 0.05,
        microsleep: float = 0.5,
        window: float = 60.0,
        cold_start: float = 1.0,
        confirm_ratio: float = 0.5,
        bridge: int = 1,
    ) -> None:
        self.track_id = track_id
        self.ratio, self.default_threshold = ratio, default_threshold
        self.baseline_window, self.warmup, self.hysteresis = baseline_window, warmup, hysteresis
        self.min_closure, self.microsleep, self.window = min_closure, microsleep, window
        self.cold_start, self.confirm_ratio, self.bridge = cold_start, confirm_ratio, bridge
        self._ear_since: float | None = None  # the first finite EAR
        self._closure_cold = False  # the closure going on began in the cold start, by the EAR
        self._ears: deque[tuple[float, float]] = deque()
        self._sorted_ears: list[float] = []  # the same EARs, sorted: the baseline without a sort per frame
        self._states: deque[tuple[float, bool]] = deque()  # (t, closed) samples within `window`
        self._blink_ends: deque[float] = deque()
        self._closed_since: float | None = None
        self._reopened_at: float | None = None  # the eyes opened here, `_open_samples` samples ago
        self._unseen_since: float | None = None  # the first sample without a decision since the last closed one
        self._open_samples = 0
        self._first: float | None = None
        self._last: float | None = None
        self.threshold = default_threshold
        self.blinks = 0
        self.microsleeps = 0

    @property
    def closed(self) -> bool:
        """A closure is going on (a reopening not yet confirmed counts as open)."""
        return self._closed_since is not None and self._reopened_at is None

    def update(self, t: float, ear: float, closed: bool | None = None) -> list[Event]:
        """Feed the mean EAR at time ``t`` (NaN: no information, state kept) and, where the eyes
        result has a learned openness, its ``closed`` decision (``None``: the EAR decides);
        returns ended events."""
        if self._first is None:
            self._first = t
        self._last = t
        events: list[Event] = []
        if math.isfinite(ear):
            if self._ear_since is None:
                self._ear_since = t
            self._ears.append((t, ear))
            bisect.insort(self._sorted_ears, ear)
            while self._ears and self._ears[0][0] < t - self.baseline_window:
                old = self._ears.popleft()[1]
                del self._sorted_ears[bisect.bisect_left(self._sorted_ears, old)]
            base = _percentile_sorted(self._sorted_ears, 80.0)
            adaptive = max(self.ratio * base, min(self.default_threshold, self.confirm_ratio * base))
            adaptive = min(max(adaptive, 0.05), 0.4)
            # before the baseline has `warmup` seconds: the single image's threshold at most
            self.threshold = adaptive if t - self._ears[0][0] >= self.warmup else min(adaptive, self.default_threshold)
        in_closure = self._closed_since is not None and self._reopened_at is None
        decision: bool | None = closed  # the eyes' own decision (learned openness) where there is one
        if decision is None and math.isfinite(ear):
            # EAR: closed below the threshold, open again only above it by the hysteresis
            decision = not ear > self.threshold * (1 + self.hysteresis) if in_closure else ear < self.threshold
        if decision is None:
            if in_closure and self._unseen_since is None:
                self._unseen_since = t  # not seen from here on: the closure cannot be said to last longer
        else:
            if self._closed_since is None:
                if decision:
                    self._closed_since = t
                    cold = closed is None and (self._ear_since is None or t - self._ear_since < self.cold_start)
                    self._closure_cold = cold
            elif decision:
                self._reopened_at, self._open_samples = None, 0  # a bridged reopening: the same closure goes on
            else:
                if self._reopened_at is None:
                    # the closure ends here (or where it was last seen) unless the eyes close again within `bridge` samples
                    self._reopened_at = t if self._unseen_since is None else self._unseen_since
                self._open_samples += 1
                if self._open_samples > self.bridge:
                    events += self._end(self._reopened_at, complete=True)
            self._unseen_since = None
        self._states.append((t, self.closed))
        while len(self._states) > 1 and self._states[1][0] <= t - self.window:
            self._states.popleft()
        while self._blink_ends and self._blink_ends[0] < t - self.window:
            self._blink_ends.popleft()
        return events

    def _end(self, t: float, complete: bool) -> list[Event]:
        start = self._closed_since if self._closed_since is not None else t
        self._closed_since = self._reopened_at = self._unseen_since = None
        self._open_samples = 0
        if t - start < self.min_closure and complete:
            return []  # a noise dip, shorter than any real blink
        kind = "microsleep" if t - start >= self.microsleep else "blink"
        if kind == "microsleep" and self._closure_cold:
            return []  # cold start (class docstring): no baseline yet, so no microsleep
        if kind == "blink":
            self.blinks += 1
            self._blink_ends.append(t)
        else:
            self.microsleeps += 1
        return [Event(kind, self.track_id, start, t, complete)]

    def finish(self) -> list[Event]:
        """Close an ongoing closure (end of stream or the face left)."""
        if self._closed_since is None or self._last is None:
            return []
        if self._reopened_at is not None:
            return self._end(self._reopened_at, complete=True)
        return self._end(self._last if self._unseen_since is None else self._unseen_since, complete=False)

    @property
    def blinks_per_minute(self) -> float:
        """Blinks that ended in the last ``window`` seconds, per minute of time covered."""
        if self._first is None or self._last is None or self._last <= self._first:
            return 0.0
        covered = min(self.window, self._last - self._first)
        return len(self._blink_ends) * 60.0 / covered

    @property
    def perclos(self) -> float:
        """Fraction of the last ``window`` seconds with the eyes closed (sample-and-hold)."""
        s = list(self._states)
        if len(s) < 2:
            return 0.0
        lo = max(s[0][0], s[-1][0] - self.window)
        total = closed = 0.0
        for (t0, c0), (t1, _) in pairwise(s):
            dt = max(0.0, t1 - max(t0, lo))
            total += dt
            closed += dt if c0 else 0.0
        return closed / total if total > 0 else 0.0


def _percentile_sorted(values: list[float], q: float) -> float:
    """``np.percentile(values, q)`` (linear interpolation) of an already sorted, non-empty list."""
    pos = (len(values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(values) - 1)
    frac = pos - lo
    return values[lo] + (values[hi] - values[lo]) * frac


class SustainedMonitor:
    """An event when a score stays above ``threshold`` for at least ``min_duration`` seconds
    (yawns: mouth wide open; smiles: smile score). Dips shorter than ``gap`` seconds are bridged.
    The event's start is the onset, its end the first sample back below."""

    def __init__(self, kind: str, track_id: int, threshold: float, min_duration: float, gap: float = 0.2) -> None:
        self.kind, self.track_id = kind, track_id
        self.threshold, self.min_duration, self.gap = threshold, min_duration, gap
        self._since: float | None = None
        self._below_since: float | None = None
        self._last: float | None = None
        self.count = 0

    def update(self, t: float, value: float) -> list[Event]:
        self._last = t
        if not math.isfinite(value):
            return []
        if value > self.threshold:
            self._below_since = None
            if self._since is None:
                self._since = t
            return []
        if self._since is None:
            return []
        if self._below_since is None:
            self._below_since = t
        if t - self._below_since < self.gap:
            return []
        return self._end(self._below_since, complete=True)

    def _end(self, end: float, complete: bool) -> list[Event]:
        start, self._since, self._below_since = self._since, None, None
        if start is None or end - start < self.min_duration:
            return []
        self.count += 1
        return [Event(self.kind, self.track_id, start, end, complete)]

    def finish(self) -> list[Event]:
        if self._since is None or self._last is None:
            return []
        return self._end(self._below_since if self._below_since is not None else self._last, complete=False)
