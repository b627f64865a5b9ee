"""Calibrated per-point confidence: what ``Face.confidence`` means for faceanalytics' own models.

An FPENet model's ``softargmax:1`` output is the peak of each keypoint's softmax heatmap: a
number between 1/6400 (a flat map) and 1, about 0.005-0.05 on a clear face for ``fpenet68``,
with no stated scale. For the models registered here, :class:`PointCalibration` turns those raw
peaks into a probability:

    ``confidence[k]`` = the estimated probability that point k lies within
    :data:`TOLERANCE` (10 %) of the inter-ocular distance (outer eye corners, points 36 and 45;
    the NME's normaliser) of where a human annotator would put it.

The mapping is a logistic regression per landmarks68 region (jaw, brows, nose, eyes, mouth)::

    confidence[k] = sigmoid(a[r] + b[r] * log(raw[k]) + c * mean_j log(raw[j]))

with ``r`` the region of point k and the last term the face's mean log peak (it carries what the
whole face says: a crop off the face or a blurred face lowers every point). ``a``, ``b`` and ``c``
are fitted, per model, on the validation identities of ``../shared/data/landmarks68`` (never the
training identities), each face seen clear, with one region covered by a patch and with its box
moved off the face by up to one box width (``benchmarks/point_confidence.py`` fits, measures and
prints them; the numbers are in docs/models.md).

Other models (NVIDIA TAO FPENet files, models you trained) have no calibration: their confidence
stays the raw peak, as the FPENet contract defines it. :meth:`FPENetRunner.run
<faceanalytics.runners.fpenet.FPENetRunner.run>` and ``landmarks(..., raw=True)`` always give the raw
peaks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType

import numpy as np

from faceanalytics.core.schema import SCHEMA_68

__all__ = ["CALIBRATIONS", "REGIONS_68", "TOLERANCE", "PointCalibration", "calibration_for"]

#: A point counts as right when it is within this fraction of the inter-ocular distance (outer
#: eye corners) of the annotation: the fraction of 10 % that also defines an NME failure.
TOLERANCE = 0.10


def _span(name: str, indices: tuple[int, ...]) -> tuple[str, int, int]:
    return name, indices[0], indices[-1] + 1


_S = SCHEMA_68

#: The 68-point regions that get their own intercept and slope: (name, first index, end index);
#: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67.
REGIONS_68: tuple[tuple[str, int, int], ...] = (
    _span("jaw", _S.jaw),
    _span("brows", _S.right_eyebrow + _S.left_eyebrow),
    _span("nose", _S.nose),
    _span("eyes", _S.right_eye + _S.left_eye),
    _span("mouth", _S.mouth),
)

#: Raw peaks are clipped to at least this before the log (a flat 80x80 map has 1/6400).
_MIN_PEAK = 1e-6


def region_index(num_points: int = SCHEMA_68.num_points) -> np.ndarray:
    """(num_points,) int: the :data:`REGIONS_68` region of each point."""
    idx = np.zeros(num_points, np.int64)
    for r, (_, lo, hi) in enumerate(REGIONS_68):
        idx[lo:hi] = r
    return idx


def design_matrix(raw: np.ndarray) -> np.ndarray:
    """(M * 68, 2R + 1) features of (M, 68) raw peaks: region one-hot, region one-hot x log peak,
    the face's mean log peak. The calibration is ``sigmoid(design_matrix(raw) @ weights)``."""
    raw = np.asarray(raw, np.float64)
    m, k = raw.shape
    log_peak = np.log(np.maximum(raw, _MIN_PEAK))
    reg = np.tile(region_index(k), m)
    one_hot = (reg[:, None] == np.arange(len(REGIONS_68))[None, :]).astype(np.float64)
    face = np.repeat(log_peak.mean(axis=1), k)
    return np.concatenate([one_hot, one_hot * log_peak.reshape(-1, 1), face[:, None]], axis=1)


@dataclass(frozen=True)
class PointCalibration:
    """Raw ``softargmax:1`` peaks -> probability that each point is within :data:`TOLERANCE`.

    Attributes:
        model: the registered landmark model it was fitted for.
        intercept: ``a``, one per :data:`REGIONS_68` region.
        slope: ``b``, one per region (on the log of the point's raw peak).
        face_slope: ``c`` (on the mean log raw peak of the face's 68 points).
    """

    model: str
    intercept: tuple[float, ...]
    slope: tuple[float, ...]
    face_slope: float

    @cached_property
    def _per_point(self) -> tuple[np.ndarray, np.ndarray]:
        reg = region_index(_S.num_points)
        return np.asarray(self.intercept, np.float64)[reg], np.asarray(self.slope, np.float64)[reg]

    @property
    def weights(self) -> np.ndarray:
        """The weights of :func:`design_matrix`'s columns."""
        return np.array([*self.intercept, *self.slope, self.face_slope], np.float64)

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        """(M, 68) raw peaks -> (M, 68) float32 probabilities in [0, 1]."""
        raw = np.asarray(raw)
        if raw.ndim != 2 or raw.shape[1] != 68:
            raise ValueError(f"a 68-point calibration needs (M, 68) peaks; got {raw.shape}")
        if raw.shape[0] == 0:
            return np.zeros((0, 68), np.float32)
        a, b = self._per_point
        log_peak = np.log(np.maximum(raw.astype(np.float64), _MIN_PEAK))
        z = a + b * log_peak
        z += self.face_slope * (log_peak.sum(axis=1, keepdims=True) / log_peak.shape[1])  # = design_matrix(raw) @ weights
        return (0.5 * (1.0 + np.tanh(0.5 * z))).astype(np.float32)  # the logistic sigmoid, without overflow warnings


#: Calibrations by registered model name (``python benchmarks/point_confidence.py`` prints these).
#: Only a file whose sha256 is the registered one gets its model's calibration.
CALIBRATIONS: MappingProxyType[str, PointCalibration] = MappingProxyType({
    "fpenet68": PointCalibration(
        "fpenet68", (16.0906, 18.6060, 19.1393, 23.5747, 24.1636), (0.0000, 0.4084, 0.4098, 1.5291, 1.5628), 3.5255
    ),
    "fpenet68-int8": PointCalibration(
        "fpenet68-int8", (16.0597, 18.6934, 18.9579, 23.4282, 24.1519), (0.0000, 0.4372, 0.3822, 1.5014, 1.5668), 3.5202
    ),
    "fpenet68-fp16": PointCalibration(
        "fpenet68-fp16", (16.0918, 18.6020, 19.1390, 23.5690, 24.1638), (0.0000, 0.4072, 0.4095, 1.5276, 1.5628), 3.5258
    ),
})


def calibration_for(model_name: str | None) -> PointCalibration | None:
    """The calibration of a registered model, ``None`` for any other (its confidence stays raw)."""
    return CALIBRATIONS.get(model_name) if model_name else None
