"""The one options object: validated once, the same meaning everywhere."""

from __future__ import annotations

import json

import pytest

from faceanalytics import Options, ParameterError
from faceanalytics.core.options import IMAGE_FIELDS, VIDEO_FIELDS, check


def test_defaults_are_valid_and_json_able():
    opts = Options()
    assert opts.detector == "short" and opts.min_score == 0.5 and opts.detect_every == 10 and opts.max_faces is None
    assert json.loads(json.dumps(opts.to_dict()))["landmark_smoothing"] == [0.7, 0.7, 1.0]
    assert set(IMAGE_FIELDS) | set(VIDEO_FIELDS) == set(opts.to_dict()) and not set(IMAGE_FIELDS) & set(VIDEO_FIELDS)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("min_score", 5), ("min_score", -0.1), ("min_score", float("nan")), ("min_score", "high"), ("min_score", True),
        ("max_faces", 0), ("max_faces", 1.5), ("max_faces", True), ("threads", 0), ("detect_every", 0),
        ("detect_every", None), ("max_missed", 0), ("detector", "medium"), ("detector", None), ("device", ""),
        ("device", []), ("landmark_model", ""), ("landmark_model", 3), ("smoothing", "yes"), ("microsleep", 0),
        ("yawn_seconds", -1), ("min_iou", 1.5), ("lost_confidence", 2), ("landmark_smoothing", (0, 0.7, 1.0)),
        ("pose_smoothing", (1.0, -1, 1.0)), ("pose_smoothing", "fast"),
    ],
)
def test_bad_values_are_refused_with_the_setting_named(name, value):
    with pytest.raises(ParameterError, match=name):
        Options(**{name: value})
    with pytest.raises(ParameterError, match=name):
        Options().replace(**{name: value})


def test_values_are_normalised_once():
    opts = Options(min_score=1, landmark_smoothing=[1, 0, 2], device=["CPUExecutionProvider"])
    assert opts.min_score == 1.0 and isinstance(opts.min_score, float)
    assert opts.landmark_smoothing == (1.0, 0.0, 2.0) and opts.device == ("CPUExecutionProvider",)
    assert check("max_faces", None) is None and check("threads", 2) == 2


def test_replace_is_validated_and_refuses_unknown_names():
    opts = Options(min_score=0.6)
    assert opts.replace(detect_every=3) == Options(min_score=0.6, detect_every=3)
    with pytest.raises(ParameterError, match="unknown option"):
        opts.replace(detect_evry=3)
    with pytest.raises(AttributeError):
        opts.min_score = 0.1  # frozen
