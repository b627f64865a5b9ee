import numpy as np

from faceanalytics import SCHEMA_68, Face, Result, annotate


def _result() -> Result:
    t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    pts = np.column_stack([100 + 40 * np.cos(t), 100 + 50 * np.sin(t)])
    face = Face(box=[50, 40, 150, 160], score=0.87, landmarks=pts, confidence=np.ones(68), schema=SCHEMA_68)
    return Result(faces=(face,), image_size=(200, 200))


def test_annotate_draws_on_a_copy():
    image = np.zeros((200, 200, 3), np.uint8)
    out = annotate(image, _result())
    assert out.shape == image.shape and out.dtype == np.uint8
    assert image.max() == 0  # input untouched
    assert out[40, 100].any() and out[160, 100].any()  # top and bottom edges of the box
    assert out[100, 140].any()  # landmark 0 at (140, 100)
    assert not out[100, 100].any()  # centre of the face is not painted
    assert not out[190, 10].any()


def test_annotate_options_and_empty_results():
    image = np.zeros((200, 200, 3), np.uint8)
    assert not annotate(image, Result(faces=(), image_size=(200, 200))).any()
    only_points = annotate(image, _result(), boxes=False, scores=False, lines=False)
    assert not only_points[40, 100].any() and only_points[100, 140].any()
    gray = annotate(np.zeros((200, 200), np.uint8), _result())
    assert gray.shape == (200, 200, 3)


def test_stream_faces_are_labelled_with_their_track_id():
    from dataclasses import replace

    image = np.zeros((200, 200, 3), np.uint8)
    face = _result().faces[0]
    scored = annotate(image, Result(faces=(face,), image_size=(200, 200)), landmarks=False, boxes=False)
    tracked = annotate(image, Result(faces=(replace(face, track_id=7),), image_size=(200, 200)), landmarks=False, boxes=False)
    assert scored.any() and tracked.any() and not np.array_equal(scored, tracked)  # "#7", not "0.87"
