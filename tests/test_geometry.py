import numpy as np
import pytest

from faceanalytics.geometry.affine import GeometryError, apply_affine, invert_affine, similarity_transform


def _sim(angle_deg: float, scale: float, t) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    r = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return np.hstack([r, np.array(t, float)[:, None]])


def test_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    src = rng.uniform(-50, 50, (68, 2))
    m_true = _sim(23.0, 1.7, [12.5, -4.0])
    m = similarity_transform(src, apply_affine(m_true, src))
    np.testing.assert_allclose(m, m_true, atol=1e-10)


def test_golden_two_point_case():
    # (0,0)->(1,1) and (1,0)->(1,3): a 90 degree turn, scale 2, shift (1, 1).
    m = similarity_transform([[0, 0], [1, 0]], [[1, 1], [1, 3]])
    np.testing.assert_allclose(m, [[0, -2, 1], [2, 0, 1]], atol=1e-12)


def test_least_squares_under_noise_and_no_reflection():
    rng = np.random.default_rng(1)
    src = rng.uniform(-1, 1, (200, 2))
    m_true = _sim(-40, 0.5, [3, 3])
    m = similarity_transform(src, apply_affine(m_true, src) + rng.normal(0, 0.01, (200, 2)))
    np.testing.assert_allclose(m, m_true, atol=0.01)
    mirrored = src * [-1, 1]
    m2 = similarity_transform(src, mirrored)
    assert np.linalg.det(m2[:, :2]) > 0  # never a reflection, even when one would fit


def test_weights_ignore_outliers():
    rng = np.random.default_rng(2)
    src = rng.uniform(-1, 1, (20, 2))
    dst = apply_affine(_sim(10, 2, [0, 0]), src)
    dst[0] += 100
    w = np.ones(20)
    w[0] = 0
    np.testing.assert_allclose(similarity_transform(src, dst, w), _sim(10, 2, [0, 0]), atol=1e-9)


def test_inverse_round_trip():
    m = _sim(33, 0.8, [5, 7])
    pts = np.random.default_rng(3).uniform(0, 100, (10, 2))
    np.testing.assert_allclose(apply_affine(invert_affine(m), apply_affine(m, pts)), pts, atol=1e-9)


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        ([[1, 1], [1, 1], [1, 1]], [[0, 0], [1, 1], [2, 2]]),
        ([[0, 0], [np.nan, 1]], [[0, 0], [1, 1]]),
        ([[0, 0]], [[1, 1]]),
        ([[0, 0], [1, 1]], [[0, 0], [1, 1], [2, 2]]),
    ],
)
def test_degenerate_input_raises(src, dst):
    with pytest.raises(GeometryError):
        similarity_transform(src, dst)


def test_singular_inverse_raises():
    with pytest.raises(GeometryError):
        invert_affine(np.zeros((2, 3)))


def test_tile_origins_cover_the_image_with_half_tile_strides():
    import itertools

    from faceanalytics.geometry.tiles import tile_origins

    assert tile_origins(400, 512) == [0]
    assert tile_origins(1024, 512) == [0, 256, 512]
    assert tile_origins(1100, 512) == [0, 256, 512, 588]  # the last tile ends at the border
    for length in range(513, 3000, 37):
        starts = tile_origins(length, 512)
        assert starts[0] == 0 and starts[-1] + 512 == length
        assert all(0 < b - a <= 256 for a, b in itertools.pairwise(starts))
