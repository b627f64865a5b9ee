"""Synthetic eye-aspect-ratio traces with known blinks, for testing the blink logic.

A trace has a person-specific open-eye EAR, slow drift, per-frame noise, blinks (100-400 ms),
microsleeps (0.6-2 s closures), partial closures (squints that are not blinks) and variable frame
intervals. Used by ``benchmarks/blink_logic.py`` and ``tests/test_events.py``; numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Truth:
    kind: str  # "blink" or "microsleep"
    start: float
    end: float


def _dip(t: np.ndarray, start: float, duration: float, depth: float) -> np.ndarray:
    """1 at full closure: a 60 ms close, a plateau, an 80 ms reopening; ``duration`` is the time
    spent below half depth."""
    close, reopen = 0.06, 0.08
    plateau = max(duration - (close + reopen) / 2, 0.0)
    x = np.zeros_like(t)
    a = (t >= start) & (t < start + close)
    x[a] = 0.5 - 0.5 * np.cos(np.pi * (t[a] - start) / close)
    b = (t >= start + close) & (t < start + close + plateau)
    x[b] = 1.0
    s2 = start + close + plateau
    c = (t >= s2) & (t < s2 + reopen)
    x[c] = 0.5 + 0.5 * np.cos(np.pi * (t[c] - s2) / reopen)
    return depth * x


def make_trace(
    seed: int, fps: float = 30.0, seconds: float = 120.0, noise: float = 0.015
) -> tuple[np.ndarray, np.ndarray, list[Truth]]:
    """``(timestamps, ear, truths)`` of one synthetic recording."""
    rng = np.random.default_rng(seed)
    dt = rng.uniform(0.8, 1.2, int(seconds * fps * 1.3)) / fps  # variable frame intervals
    t = np.cumsum(dt)
    t = t[t < seconds]
    baseline = rng.uniform(0.22, 0.36)
    drift = 0.12 * baseline * np.sin(2 * np.pi * t / rng.uniform(30, 60) + rng.uniform(0, 6.3))
    ear = baseline + drift + rng.normal(0, noise, t.shape)
    truths: list[Truth] = []
    cursor = rng.uniform(1.5, 3.0)
    while cursor < seconds - 3:
        r = rng.uniform()
        if r < 0.8:  # a blink
            dur = rng.uniform(0.1, 0.4)
            ear -= _dip(t, cursor, dur, (baseline + 0) * rng.uniform(0.75, 0.95))
            truths.append(Truth("blink", cursor, cursor + dur))
        elif r < 0.88:  # a microsleep
            dur = rng.uniform(0.7, 2.0)
            ear -= _dip(t, cursor, dur, baseline * rng.uniform(0.8, 0.95))
            truths.append(Truth("microsleep", cursor, cursor + dur))
        else:  # a squint: not a blink
            dur = rng.uniform(0.3, 1.0)
            ear -= _dip(t, cursor, dur, baseline * rng.uniform(0.1, 0.25))
        cursor += dur + rng.exponential(3.0) + 0.4
    return t, np.clip(ear, 0.0, None), truths


def score(detected: list[tuple[str, float, float]], truths: list[Truth]) -> tuple[int, int, int]:
    """``(true positives, detections, truths)``: a detection is right when it has the truth's kind
    and their intervals overlap; each truth matches at most once."""
    used: set[int] = set()
    tp = 0
    for kind, s, e in detected:
        for i, tr in enumerate(truths):
            if i not in used and tr.kind == kind and s < tr.end + 0.1 and e > tr.start - 0.1:
                used.add(i)
                tp += 1
                break
    return tp, len(detected), len(truths)
