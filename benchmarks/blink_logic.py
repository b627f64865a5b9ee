"""Blink logic on synthetic EAR traces with known blinks: precision and recall.

    python benchmarks/blink_logic.py [--traces 40]

Traces vary frame rate (15, 30, 60 fps, with jittered intervals), person baseline, drift, noise,
and include partial closures that must not count; microsleeps must be reported as such.
"""

from __future__ import annotations

import argparse

from faceanalytics.train.synthetic_ear import make_trace, score
from faceanalytics.video.events import BlinkMonitor


def run(traces: int, fps: float, noise: float) -> tuple[float, float, int]:
    tp = n_det = n_true = 0
    for seed in range(traces):
        t, ear, truths = make_trace(seed, fps=fps, noise=noise)
        mon = BlinkMonitor(0)
        events = []
        for ti, e in zip(t, ear, strict=True):
            events += mon.update(float(ti), float(e))
        events += mon.finish()
        a, b, c = score([(ev.kind, ev.start, ev.end) for ev in events], truths)
        tp, n_det, n_true = tp + a, n_det + b, n_true + c
    return tp / max(n_det, 1), tp / max(n_true, 1), n_true


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--traces", type=int, default=40)
    args = ap.parse_args()
    print(f"{'fps':>5} {'noise':>6} {'events':>7} {'precision':>10} {'recall':>7}")
    for fps in (15, 30, 60):
        for noise in (0.01, 0.02):
            p, r, n = run(args.traces, fps, noise)
            print(f"{fps:>5} {noise:>6.3f} {n:>7} {p:>10.3f} {r:>7.3f}")


if __name__ == "__main__":
    main()
