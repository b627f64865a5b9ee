"""The 136 values an expression network of the NVIDIA EmotionNet contract reads, from 68 landmarks.

One function, shared by the runner (:mod:`faceanalytics.runners.expression_net`) and the training
script (``python -m faceanalytics.train.expression``), so that a model sees at run time exactly
what it was trained on.

**Normalisation** (:func:`expression_input`): the 68 iBUG points (``SCHEMA_68``) are placed in
their own *square* bounding box, mapped to [0, 1] x [0, 1]:

* the box is centred on the middle of the points' extent (``(min + max) / 2`` on each axis);
* its side is the larger of the extent's width and height, so x and y are scaled alike and the
  face's proportions (a mouth that opens, a face that narrows) are kept;
* values are ``(p - centre) / side + 0.5``, interleaved ``x0, y0, x1, y1, ... x67, y67``.

Why: expression lies in the shape of the face, not in where the face is in the image or how big
it is, so position and scale are removed; nothing else is (no rotation: a network of this
contract sees the head's roll, as NVIDIA's does). The square box of the points is also what
NVIDIA's FPENet crops to before its landmarks go to EmotionNet (TAO's FPENet FAQ: a square face box
from the key points), which makes these values the closest public match we have for a
third-party EmotionNet file; NVIDIA does not publish EmotionNet's own preprocessing. The mapping
commutes with a horizontal mirror (see :func:`mirror_expression_input`), which the training
script uses as augmentation.
"""

from __future__ import annotations

import numpy as np

from faceanalytics.core.schema import IBUG_SLICE, SCHEMA_68

__all__ = ["INPUT_SIZE", "expression_input", "mirror_expression_input"]

#: Values per face: the 68 points as x, y.
INPUT_SIZE = 2 * SCHEMA_68.num_points


def expression_input(landmarks: np.ndarray) -> np.ndarray:
    """``(136,)`` float32 network input of one face's (68+, 2) landmarks (extra points beyond the
    68 iBUG ones are ignored), or ``(N, 136)`` of ``(N, 68+, 2)``; see the module docstring.

    Returns NaN values when the points are not finite or collapse to a point (zero extent)."""
    p = np.asarray(landmarks, np.float64)
    single = p.ndim == 2
    if single:
        p = p[None]
    p = p[:, IBUG_SLICE]
    lo, hi = p.min(axis=1), p.max(axis=1)  # (N, 2)
    centre = (lo + hi) / 2
    side = (hi - lo).max(axis=1)  # (N,)
    if (side > 1e-9).all() and np.isfinite(side).all():
        u = (p - centre[:, None]) / side[:, None, None] + 0.5
    else:  # points not finite, or a collapsed face: NaN inputs, without warnings
        with np.errstate(divide="ignore", invalid="ignore"):
            side = np.where((side > 1e-9) & np.isfinite(side), side, np.nan)
            u = (p - centre[:, None]) / side[:, None, None] + 0.5
    out = u.reshape(len(p), INPUT_SIZE).astype(np.float32)
    return out[0] if single else out


def mirror_expression_input(x: np.ndarray) -> np.ndarray:
    """The input of the horizontally mirrored face, from ``(..., 136)`` inputs: left and right
    points swap (``SCHEMA_68.flip_permutation``) and x becomes ``1 - x`` (the square box is
    symmetric, so no other change)."""
    a = np.asarray(x)
    pts = a.reshape(*a.shape[:-1], SCHEMA_68.num_points, 2)[..., list(SCHEMA_68.flip_permutation), :].copy()
    pts[..., 0] = 1.0 - pts[..., 0]
    return pts.reshape(a.shape)
