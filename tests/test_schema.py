import numpy as np
import pytest

from faceanalytics import SCHEMA_68, SCHEMA_80, SCHEMA_104, schema_for


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
