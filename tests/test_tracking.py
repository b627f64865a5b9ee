import numpy as np

from faceanalytics.geometry.boxes import box_from_landmarks, iou
from faceanalytics.video.tracking import match_boxes


def test_iou_golden():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]])
    np.testing.assert_allclose(iou(a, b), [[50 / 150, 0.0, 1.0]])


def test_match_is_greedy_and_one_to_one():
    tracks = np.array([[0, 0, 10, 10], [100, 100, 120, 120]])
    dets = np.array([[101, 99, 121, 119], [1, 1, 11, 11], [300, 300, 310, 310]])
    assert sorted(match_boxes(tracks, dets)) == [(0, 1), (1, 0)]
    assert match_boxes(tracks, np.zeros((0, 4))) == []
    assert match_boxes(np.array([[0, 0, 10, 10]]), np.array([[8, 8, 18, 18]])) == []  # IoU below 0.3, centres apart
    # A track whose box shrank still matches its face by centre distance.
    assert match_boxes(np.array([[45, 45, 55, 55]]), np.array([[0, 0, 100, 100], [200, 0, 300, 100]])) == [(0, 0)]


def test_box_from_landmarks_follows_the_detector_offset():
    pts = np.array([[100.0, 100.0], [200.0, 220.0]] + [[150.0, 160.0]] * 66)
    x1, y1, x2, y2 = box_from_landmarks(pts, (0.0, -0.1, 0.0))
    assert (x2 - x1) == (y2 - y1) == 120  # the square on the larger side
    assert (x1 + x2) / 2 == 150 and (y1 + y2) / 2 == 160 - 12
