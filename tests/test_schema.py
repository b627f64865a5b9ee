import re
from pathlib import Path

import numpy as np
import pytest

from faceanalytics import SCHEMA_68, SCHEMA_80, SCHEMA_104, Face, schema_for


@pytest.mark.parametrize("schema", [SCHEMA_68, SCHEMA_80, SCHEMA_104])
def test_regions_partition_all_points(schema):
    idx = [i for region in schema.regions.values() for i in region]
    assert sorted(idx) == list(range(schema.num_points))


def test_ibug_regions_by_name():
    assert SCHEMA_68.right_eye == (36, 37, 38, 39, 40, 41)
    assert SCHEMA_68.left_eye == (42, 43, 44, 45, 46, 47)
    assert SCHEMA_68.mouth == tuple(range(48, 68))
    assert SCHEMA_68.nose_tip in SCHEMA_68.nose_bridge
    assert SCHEMA_68.right_eye_outer == 36 and SCHEMA_68.left_eye_outer == 45
    assert SCHEMA_80.pupils == tuple(range(68, 76)) and SCHEMA_80.ears == tuple(range(76, 80))
    assert SCHEMA_104.eye_contours == tuple(range(80, 104))
    assert SCHEMA_68.pupils == ()


def test_flip_permutation_mirrors_a_symmetric_face():
    p = np.array(SCHEMA_68.flip_permutation)
    assert sorted(p) == list(range(68))
    assert (p[p] == np.arange(68)).all()  # an involution
    # Mirroring maps the subject's right eye onto the left eye, corner to corner.
    assert p[SCHEMA_68.right_eye_outer] == SCHEMA_68.left_eye_outer
    assert [p[i] for i in SCHEMA_68.right_eye] == [45, 44, 43, 42, 47, 46]
    assert p[SCHEMA_68.mouth_right] == SCHEMA_68.mouth_left
    assert p[SCHEMA_68.chin] == SCHEMA_68.chin and p[SCHEMA_68.nose_tip] == SCHEMA_68.nose_tip


def test_connections_are_valid_pairs():
    for a, b in SCHEMA_104.connections:
        assert 0 <= a < 68 and 0 <= b < 68 and a != b


def test_schema_for():
    assert schema_for(68) is SCHEMA_68 and schema_for(80) is SCHEMA_80 and schema_for(104) is SCHEMA_104
    with pytest.raises(ValueError, match="68, 80 or 104"):
        schema_for(98)


# --- region names: the library and the documentation agree -------------------------------------

REPO = Path(__file__).resolve().parents[1]


def _face(schema):
    n = schema.num_points
    pts = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
    return Face(box=[0, 0, 10, 10], score=1.0, landmarks=pts, confidence=np.ones(n), schema=schema)


def _documented_region_names() -> set[str]:
    """Every name the docs offer to ``face.region``: the names in backticks of api.md's "Landmark
    schemas" section (except ``flip_permutation``, documented there as not a region), and every
    ``region("...")`` call in README.md, docs/*.md and examples/*.py."""
    api = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    section = api.split("### Landmark schemas", 1)[1].split("\n## ", 1)[0]
    names = set(re.findall(r"`([a-z][a-z_]*)`", section)) - {"flip_permutation"}
    texts = [REPO / "README.md", *(REPO / "docs").glob("*.md"), *(REPO / "examples").glob("*.py")]
    for path in texts:
        names |= set(re.findall(r"""region\(\s*["']([a-z_]+)["']""", path.read_text(encoding="utf-8")))
    return names


def test_every_documented_region_name_works():
    names = _documented_region_names()
    assert {"left_eye", "nose_tip", "mouth", "nose", "chin", "pupils", "eye_contours"} <= names
    face = _face(SCHEMA_104)  # the layout with every region
    for name in names:
        pts = face.region(name)
        assert pts.ndim == 2 and pts.shape[1] == 2 and len(pts) >= 1, name
        np.testing.assert_array_equal(pts, face.landmarks[list(SCHEMA_104.indices(name))])
    # ... and the docs name every region the library has.
    assert names == set(SCHEMA_104.region_names)


def test_region_shapes_and_unions():
    face = _face(SCHEMA_68)
    assert face.region("left_eye").shape == (6, 2)
    np.testing.assert_array_equal(face.region("nose_tip"), face.landmarks[[30]])  # a point: (1, 2)
    np.testing.assert_array_equal(face.region("chin"), face.landmarks[[8]])
    assert SCHEMA_68.indices("mouth") == tuple(range(48, 68)) and SCHEMA_68.indices("nose") == tuple(range(27, 36))
    assert SCHEMA_68.region_names[: len(SCHEMA_68.regions)] == tuple(SCHEMA_68.regions)


@pytest.mark.parametrize("schema", [SCHEMA_68, SCHEMA_80, SCHEMA_104])
def test_unknown_region_lists_every_valid_name(schema):
    face = _face(schema)
    for name in ("nose_tipp", "flip_permutation", "name", "num_points", "regions", "connections", ""):
        with pytest.raises(KeyError) as err:
            face.region(name)
        message = str(err.value)
        for valid in schema.region_names:
            assert re.search(rf"\b{valid}\b", message), (valid, message)
            face.region(valid)  # every name the message offers works


def test_regions_a_layout_lacks_are_unknown():
    with pytest.raises(KeyError, match="no region 'pupils'"):
        _face(SCHEMA_68).region("pupils")
    assert "pupils" not in SCHEMA_68.region_names and "eye_contours" not in SCHEMA_80.region_names
    assert _face(SCHEMA_80).region("pupils").shape == (8, 2)
