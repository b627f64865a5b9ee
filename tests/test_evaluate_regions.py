"""The per-region NME rows of ``python -m faceanalytics.train.evaluate`` (and benchmarks/landmark_models.py)."""

from __future__ import annotations

import numpy as np

from faceanalytics.core.schema import SCHEMA_68
from faceanalytics.train.evaluate import REGIONS, _nme, format_table, region_key


def test_regions_cover_the_68_points_once_with_the_six_names() -> None:
    assert list(REGIONS) == ["jaw", "brows", "nose", "eyes", "outer lips", "inner lips"]
    points = [i for idx in REGIONS.values() for i in idx]
    assert sorted(points) == list(SCHEMA_68.ibug)  # every point, each once
    assert REGIONS["outer lips"] == SCHEMA_68.outer_lips and REGIONS["inner lips"] == SCHEMA_68.inner_lips


def test_every_region_gets_a_row_in_the_table() -> None:
    result = {region_key(r): float(k) for k, r in enumerate(REGIONS)}
    assert region_key("inner lips") == "nme_inner_lips_pct"
    table = format_table({"a model": result})
    for k, r in enumerate(REGIONS):
        assert f"|   {r} |  | {k:.2f} |" in table
    assert "mouth" not in table


def test_region_nme_of_a_shifted_mouth() -> None:
    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 100, (68, 2))
    pred = gt.copy()
    pred[list(SCHEMA_68.inner_lips)] += (3.0, 4.0)  # 5 px off, inner lips only
    iod = np.linalg.norm(gt[SCHEMA_68.right_eye_outer] - gt[SCHEMA_68.left_eye_outer])
    assert np.isclose(_nme(pred, gt, REGIONS["inner lips"]), 5.0 / iod)
    assert _nme(pred, gt, REGIONS["outer lips"]) == 0.0
