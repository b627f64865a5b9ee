"""Landmark schemas: what each point index means, as named data.

Plugins never hard-code index ranges; they ask the schema (``schema.left_eye``). Indices are
0-based. "Left" and "right" are the *subject's* left and right, as in iBUG 300-W: the subject's
right eye (points 36-41) appears on the image's left in a frontal photo.

The 68-point layout is iBUG 300-W. NVIDIA TAO FPENet adds, 1-based, pupils 69-76 and ears 77-80
(80 points) and further eye points 81-104 (104 points). NVIDIA documents these extra groups only as
ranges, so they are named as whole regions (``pupils``, ``ears``, ``eye_contours``) without a side.
The 80- and 104-point layouts start with the 68 iBUG points (``ibug``; :data:`IBUG_SLICE` slices them).

This module is the one place that knows indices: the rest of the package asks for points by name
(``schema.left_eye_outer``, ``schema.inner_lip_pairs``) and normalises by
:func:`faceanalytics.geometry.face_frame.eye_corner_distance`. Note the two nose points: the tip
(``nose_tip``, 30) and the base of the nose where it meets the upper lip (``subnasale``, 33).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from faceanalytics.core.errors import ParameterError

__all__ = ["IBUG_SLICE", "SCHEMA_68", "SCHEMA_80", "SCHEMA_104", "LandmarkSchema", "schema_for"]


def _r(start: int, stop: int) -> tuple[int, ...]:
    return tuple(range(start, stop))


# The disjoint regions, in drawing order; the unions of some of them; the named single points.
_REGION_NAMES = (
    "jaw",
    "right_eyebrow",
    "left_eyebrow",
    "nose_bridge",
    "nose_lower",
    "right_eye",
    "left_eye",
    "outer_lips",
    "inner_lips",
    "pupils",
    "ears",
    "eye_contours",
)
_UNION_NAMES = ("nose", "mouth", "ibug")
_POINT_NAMES = (
    "right_eye_outer",
    "right_eye_inner",
    "left_eye_inner",
    "left_eye_outer",
    "nose_tip",
    "subnasale",
    "mouth_right",
    "mouth_left",
    "upper_lip_top",
    "lower_lip_bottom",
    "mouth_right_inner",
    "mouth_left_inner",
    "chin",
)

#: The 68 iBUG 300-W points as a slice (``points[IBUG_SLICE]`` is a view): all of the 68-point
#: layout, the first 68 points of the FPENet 80- and 104-point layouts. ``schema.ibug`` as indices.
IBUG_SLICE = slice(0, 68)


@dataclass(frozen=True)
class LandmarkSchema:
    """Named regions and points of one landmark layout.

    Attributes:
        name: layout name, e.g. ``"ibug68"``.
        num_points: number of landmarks the model returns.
        jaw, right_eyebrow, ... inner_lips: 0-based indices of each iBUG region, in drawing order
            (eye contours start at the outer corner and run clockwise in the image).
        pupils, ears, eye_contours: the FPENet-80/104 extras; empty where the layout lacks them.
        right_eye_outer ... chin: single points (see the class body); ``nose_tip`` is the tip of
            the nose (30), ``subnasale`` its base above the upper lip (33).
        inner_lip_pairs: the inner lip points facing each other across the mouth, (upper, lower),
            from the subject's right to left: the three vertical gaps of the mouth aspect ratio.
        flip_permutation: ``p`` such that for a horizontally mirrored face ``mirrored[i] = pts[p[i]]``.
    """

    name: str
    num_points: int
    jaw: tuple[int, ...] = _r(0, 17)
    right_eyebrow: tuple[int, ...] = _r(17, 22)
    left_eyebrow: tuple[int, ...] = _r(22, 27)
    nose_bridge: tuple[int, ...] = _r(27, 31)
    nose_lower: tuple[int, ...] = _r(31, 36)
    right_eye: tuple[int, ...] = _r(36, 42)
    left_eye: tuple[int, ...] = _r(42, 48)
    outer_lips: tuple[int, ...] = _r(48, 60)
    inner_lips: tuple[int, ...] = _r(60, 68)
    pupils: tuple[int, ...] = ()
    ears: tuple[int, ...] = ()
    eye_contours: tuple[int, ...] = ()
    flip_permutation: tuple[int, ...] = field(default=(), repr=False)

    # Named single points (iBUG 68 indices, shared by all three layouts).
    right_eye_outer: int = 36
    right_eye_inner: int = 39
    left_eye_inner: int = 42
    left_eye_outer: int = 45
    nose_tip: int = 30
    subnasale: int = 33  # the base of the nose, where it meets the upper lip
    mouth_right: int = 48  # outer mouth corners
    mouth_left: int = 54
    upper_lip_top: int = 51  # the middle of the outer lip contour, top and bottom
    lower_lip_bottom: int = 57
    mouth_right_inner: int = 60  # inner mouth corners
    mouth_left_inner: int = 64
    chin: int = 8
    inner_lip_pairs: tuple[tuple[int, int], ...] = ((61, 67), (62, 66), (63, 65))

    @property
    def nose(self) -> tuple[int, ...]:
        return self.nose_bridge + self.nose_lower

    @property
    def mouth(self) -> tuple[int, ...]:
        return self.outer_lips + self.inner_lips

    @property
    def ibug(self) -> tuple[int, ...]:
        """The 68 iBUG points, 0-67 (every region of the 68-point layout)."""
        return _r(IBUG_SLICE.start, IBUG_SLICE.stop)

    @property
    def regions(self) -> Mapping[str, tuple[int, ...]]:
        """Every non-empty region by name, disjoint and together covering all points."""
        return MappingProxyType({n: getattr(self, n) for n in _REGION_NAMES if getattr(self, n)})

    @property
    def region_names(self) -> tuple[str, ...]:
        """Every name :meth:`indices` (and ``Face.region``) accepts for this layout: the non-empty
        regions of :attr:`regions`, the unions ``nose`` (bridge and lower), ``mouth`` (outer and
        inner lips) and ``ibug`` (the 68 iBUG points), and the single points (``nose_tip``,
        ``subnasale``, ``chin``, the eye and mouth corners, the lip midpoints)."""
        return (*self.regions, *_UNION_NAMES, *_POINT_NAMES)

    def indices(self, name: str) -> tuple[int, ...]:
        """0-based indices of a named region, union or single point (one index) of this layout.

        Raises:
            KeyError: ``name`` is none of :attr:`region_names` (the message lists them all), or a
                region this layout lacks (``pupils`` of the 68-point layout).
        """
        if name in _POINT_NAMES:
            return (getattr(self, name),)
        if name in _REGION_NAMES or name in _UNION_NAMES:
            idx = getattr(self, name)
            if idx:
                return idx
        raise KeyError(f"schema {self.name} has no region {name!r}; it has {', '.join(self.region_names)}")

    @property
    def connections(self) -> tuple[tuple[int, int], ...]:
        """Point pairs to draw as lines: open polylines for jaw, brows and nose; closed loops for
        eyes and lips."""
        pairs: list[tuple[int, int]] = []
        for region in (self.jaw, self.right_eyebrow, self.left_eyebrow, self.nose_bridge, self.nose_lower):
            pairs += list(itertools.pairwise(region))
        for loop in (self.right_eye, self.left_eye, self.outer_lips, self.inner_lips):
            pairs += list(zip(loop, loop[1:] + loop[:1], strict=True))
        return tuple(pairs)


def _flip68() -> tuple[int, ...]:
    """The 68-point mirror permutation (iBUG)."""
    p = list(range(68))
    pairs = [(i, 16 - i) for i in range(8)]  # jaw
    pairs += [(17 + i, 26 - i) for i in range(5)]  # brows
    pairs += [(31, 35), (32, 34)]  # nostrils
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    pairs += [(48, 54), (49, 53), (50, 52), (59, 55), (58, 56)]  # outer lips
    pairs += [(60, 64), (61, 63), (67, 65)]  # inner lips
    for a, b in pairs:
        p[a], p[b] = b, a
    return tuple(p)


SCHEMA_68 = LandmarkSchema(name="ibug68", num_points=68, flip_permutation=_flip68())
SCHEMA_80 = LandmarkSchema(name="fpenet80", num_points=80, pupils=_r(68, 76), ears=_r(76, 80))
SCHEMA_104 = LandmarkSchema(name="fpenet104", num_points=104, pupils=_r(68, 76), ears=_r(76, 80), eye_contours=_r(80, 104))

_BY_POINTS: Mapping[int, LandmarkSchema] = MappingProxyType({s.num_points: s for s in (SCHEMA_68, SCHEMA_80, SCHEMA_104)})


def schema_for(num_points: int) -> LandmarkSchema:
    """The schema of a model with ``num_points`` landmarks (68, 80 or 104).

    Raises:
        ParameterError: for any other count (a ``ValueError``).
    """
    try:
        return _BY_POINTS[num_points]
    except KeyError:
        raise ParameterError(f"no landmark schema has {num_points} points; FPENet models have 68, 80 or 104") from None
