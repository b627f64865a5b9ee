"""The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012), vectorised and timestamp-driven.

A low-pass filter whose cutoff rises with speed: steady points are smoothed hard (little jitter),
fast motion passes with little lag. ``min_cutoff`` (Hz) sets the smoothing at rest, ``beta`` how
fast the cutoff opens with speed (per unit of the signal per second).

Here, below the plugins, so that a plugin can smooth its own signal per video track (the head
pose does, :class:`~faceanalytics.plugins.head_pose.HeadPosePlugin`); the Stream smooths the
landmarks with it.
"""

from __future__ import annotations

import math

import numpy as np

from faceanalytics.core.errors import ParameterError

__all__ = ["OneEuroFilter"]


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter over an array signal of fixed shape.

    Args:
        min_cutoff: cutoff frequency at rest, Hz.
        beta: speed coefficient (cutoff += beta * |speed|, speed in signal units per second).
        d_cutoff: cutoff for the speed estimate, Hz.

    ``__call__(x, t, scale)`` divides speeds by ``scale`` (e.g. the face size in pixels), so that
    ``beta`` does not depend on how large the face is.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ParameterError("min_cutoff and d_cutoff must be > 0 and beta >= 0")
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        """Filter sample ``x`` taken at time ``t`` (seconds, increasing); returns the smoothed value."""
        x = np.asarray(x, np.float64)
        if self._x is None or self._t is None or self._x.shape != x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t
        if dt <= 0:
            return self._x.copy()
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx) / max(scale, 1e-9)
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        self._t = t
        return self._x.copy()
