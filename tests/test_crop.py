import numpy as np
import pytest

from faceanalytics import BoxError
from faceanalytics.geometry.crop import crop_faces, crop_to_image, image_to_crop, square_crop_matrices, validate_boxes


def test_square_crop_matrix_golden_values():
    # A 160x100 box centred at (100, 50): square side 160 from x=20, y=-30; scale 0.5.
    (m,) = square_crop_matrices(np.array([[20, 0, 180, 100]]), 80)
    s = 0.5
    np.testing.assert_allclose(m, [[s, 0, (0.5 - 20) * s - 0.5], [0, s, (0.5 + 30) * s - 0.5]])
    # The box's continuous corners land on the crop's continuous corners (pixel centres at +0.5).
    corners = np.array([[[20 - 0.5, -30 - 0.5], [180 - 0.5, 130 - 0.5]]])
    np.testing.assert_allclose(image_to_crop(corners, m[None]), [[[-0.5, -0.5], [79.5, 79.5]]])


def test_crop_matches_crop_then_resize():
    """Zero-padded square crop + cv2.resize, computed the slow way, equals the one warp."""
    import cv2

    rng = np.random.default_rng(0)
    gray = cv2.GaussianBlur(rng.integers(0, 256, (120, 90), dtype=np.uint8), (0, 0), 3)
    box = np.array([[10.0, 20.0, 50.0, 60.0]])  # 40x40: integer square from (10, 20)
    slow = cv2.resize(gray[20:60, 10:50], (80, 80), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    fast = crop_faces(gray, square_crop_matrices(box, 80))
    assert fast.shape == (1, 1, 80, 80) and fast.dtype == np.float32
    assert np.abs(fast[0, 0, 1:-1, 1:-1] - slow[1:-1, 1:-1]).max() <= 1.0  # rounding only; borders differ by edge handling


def test_crop_pads_with_zeros_outside_the_frame():
    gray = np.full((100, 100), 200, np.uint8)
    crops = crop_faces(gray, square_crop_matrices(np.array([[-50.0, 0, 50, 100]]), 80))
    assert crops[0, 0, 40, :35].max() == 0 and crops[0, 0, 40, 45:].min() == 200


def test_round_trip_and_batch():
    rng = np.random.default_rng(3)
    boxes = np.column_stack([rng.uniform(0, 100, 5), rng.uniform(0, 100, 5), rng.uniform(150, 300, 5), rng.uniform(150, 300, 5)])
    mats = square_crop_matrices(boxes, 80)
    pts = rng.uniform(0, 300, (5, 68, 2))
    np.testing.assert_allclose(crop_to_image(image_to_crop(pts, mats), mats), pts, atol=1e-9)
    assert crop_faces(np.zeros((300, 300), np.uint8), mats).shape == (5, 1, 80, 80)


def test_validate_boxes():
    np.testing.assert_array_equal(validate_boxes([1, 2, 3, 4], (10, 10)), [[1, 2, 3, 4]])
    assert validate_boxes([], (10, 10)).shape == (0, 4)
    # Partly outside the frame is fine (TAO pads); entirely outside is not.
    assert validate_boxes([[-5, -5, 5, 5]], (10, 10)).shape == (1, 4)
    bad = {
        "entirely outside": [[20, 20, 30, 30]],
        "zero or negative size": [[5, 5, 5, 9]],
        "not finite": [[0, 0, np.inf, 5]],
        "shape": [[0, 0, 5]],
        "numbers": [["a", "b", "c", "d"]],
    }
    for match, boxes in bad.items():
        with pytest.raises(BoxError, match=match):
            validate_boxes(boxes, (10, 10))
    with pytest.raises(BoxError, match="box 1"):
        validate_boxes([[0, 0, 5, 5], [4, 4, 2, 2]], (10, 10))


def test_square_crop_matrix_with_a_crop_scale():
    # The same 160x100 box with scale 1.25: side 200 from x=0, y=-50; scale 80/200 = 0.4.
    (m,) = square_crop_matrices(np.array([[20, 0, 180, 100]]), 80, scale=1.25)
    s = 0.4
    np.testing.assert_allclose(m, [[s, 0, (0.5 - 0) * s - 0.5], [0, s, (0.5 + 50) * s - 0.5]])
    # the box's own corners now sit 8 crop pixels (a tenth of the side) inside the crop
    corners = np.array([[[20 - 0.5, 0 - 0.5], [180 - 0.5, 100 - 0.5]]])
    np.testing.assert_allclose(image_to_crop(corners, m[None]), [[[7.5, 19.5], [71.5, 59.5]]])


def test_crops_from_a_color_frame_are_within_one_gray_level_of_gray_frame_crops():
    import cv2

    from faceanalytics.geometry.crop import to_gray

    rng = np.random.default_rng(5)
    bgr = cv2.GaussianBlur(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), (0, 0), 2)
    mats = square_crop_matrices(np.array([[40.0, 30, 160, 170], [-30.0, 100, 90, 260]]), 80, 1.25)  # one leaves the frame
    from_gray, from_color = crop_faces(to_gray(bgr), mats), crop_faces(bgr, mats)
    assert from_color.shape == from_gray.shape == (2, 1, 80, 80) and from_color.dtype == np.float32
    assert np.abs(from_color - from_gray).max() <= 1.0
    assert from_color[1, 0, 40, :5].max() == 0  # zero padding outside the frame, as before
