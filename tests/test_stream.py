"""Stream: tracking, smoothing, events and misuse, on video made from a real face moving along a
known path (needs the bundled landmark model and the BlazeFace weights)."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest
from conftest import shared_path

from faceanalytics import Eyes, Pipeline, Stream, StreamError
from faceanalytics.runtime.registry import DEFAULT_LANDMARK_MODEL, LANDMARK_MODELS

W, H = 640, 480


@pytest.fixture(scope="module")
def pipe(detector_home):
    if DEFAULT_LANDMARK_MODEL not in LANDMARK_MODELS:
        pytest.skip("needs the bundled landmark model")
    return Pipeline(device="cpu")


def moving_face(astronaut: np.ndarray, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame i of a clip: the astronaut's face shifted, rotated and zoomed smoothly; and the 2x3
    matrix from the original image to the frame."""
    angle = 8 * np.sin(i / 15)
    scale = 1.0 + 0.15 * np.sin(i / 20)
    m = cv2.getRotationMatrix2D((225.0, 130.0), angle, scale)
    m[:, 2] += [60 * np.sin(i / 25), 20 * np.cos(i / 18) - 20]
    return cv2.warpAffine(astronaut, m, (W, H)), m


def test_one_track_follows_a_moving_face(pipe, astronaut):
    ref = pipe(astronaut).faces[0].landmarks
    stream = Stream(pipe, detect_every=10, smoothing=False)  # tracking accuracy; smoothing lag is benchmarks/jitter.py's
    ids, errors, detected = set(), [], []
    for i in range(60):
        frame, m = moving_face(astronaut, i)
        res = stream(frame, i / 30)
        assert len(res.faces) == 1, i
        face = res.faces[0]
        ids.add(face.track_id)
        detected.append(res.detected)
        truth = ref @ m[:, :2].T + m[:, 2]
        errors.append(np.linalg.norm(face.landmarks - truth, axis=1).mean())
    assert ids == {1}
    assert detected[0] and sum(detected) <= 8  # the detector ran about every 10th frame, not every frame
    iod = np.linalg.norm(ref[45] - ref[36])
    assert np.median(errors) < 0.06 * iod
    (summary,) = stream.summaries()
    assert summary.track_id == 1 and summary.frames == 60 and summary.active
    assert stream.close() == () or all(not e.complete for e in stream.close())


def test_faces_leave_and_arrive(pipe, astronaut):
    stream = Stream(pipe, detect_every=5)
    blank = np.zeros((H, W, 3), np.uint8)
    frame, _ = moving_face(astronaut, 0)
    t = 0.0
    seen = []
    for image in [frame] * 5 + [blank] * 10 + [frame] * 5:
        res = stream(image, t)
        t += 1 / 30
        seen.append(tuple(f.track_id for f in res.faces))
    assert seen[0] == (1,) and seen[-1] == (2,)  # the face that came back is a new track
    assert all(s == () for s in seen[7:15])
    ended = [s for s in stream.summaries() if not s.active]
    assert [s.track_id for s in ended] == [1]


def test_timestamps_must_increase(pipe, astronaut):
    stream = Stream(pipe)
    stream(astronaut, 1.0)
    for bad in (1.0, 0.5, float("nan"), "soon"):
        with pytest.raises(StreamError):
            stream(astronaut, bad)
    stream(astronaut, 1.5)  # still usable
    stream.close()
    with pytest.raises(StreamError, match="closed"):
        stream(astronaut, 2.0)


def test_a_stream_belongs_to_one_thread(detector_home, pipe, astronaut):
    entered, release = threading.Event(), threading.Event()

    class Slow:
        name = "slow"

        def __call__(self, face, frame):
            entered.set()
            release.wait(5)

    slow_pipe = Pipeline(device="cpu", plugins=[Slow()])
    stream = Stream(slow_pipe)
    worker = threading.Thread(target=stream, args=(astronaut, 0.0))
    worker.start()
    assert entered.wait(5)
    with pytest.raises(StreamError, match="thread"):
        stream(astronaut, 1.0)
    release.set()
    worker.join()


def test_smoothing_cuts_jitter_on_a_still_face(pipe, astronaut):
    rng = np.random.default_rng(0)
    frames = [np.clip(astronaut.astype(np.int16) + rng.normal(0, 6, astronaut.shape), 0, 255).astype(np.uint8) for _ in range(30)]

    def jitter(smoothing: bool) -> float:
        stream = Stream(pipe, smoothing=smoothing)
        pts = np.stack([stream(f, i / 30).faces[0].landmarks for i, f in enumerate(frames)])[5:]
        return float(np.linalg.norm(pts - pts.mean(axis=0), axis=2).mean())

    assert jitter(True) < 0.5 * jitter(False)


def test_blink_events_reach_the_stream_result(detector_home, astronaut):
    if DEFAULT_LANDMARK_MODEL not in LANDMARK_MODELS:
        pytest.skip("needs the bundled landmark model")
    ears = iter([0.3] * 40 + [0.03] * 5 + [0.3] * 20 + [0.03] * 30 + [0.3] * 5)

    class ScriptedEyes:
        name = "eyes"

        def __call__(self, face, frame):
            e = next(ears)
            return Eyes(e, e, e, False, False, False, 0.2)

    stream = Stream(Pipeline(device="cpu", plugins=[ScriptedEyes()]))
    events = []
    closed_flags = []
    for i in range(100):
        res = stream(astronaut, i / 30)
        events += res.events
        closed_flags.append(res.faces[0].eyes.closed)
    assert [e.kind for e in events] == ["blink", "microsleep"]
    assert events[0].duration == pytest.approx(5 / 30) and events[1].duration == pytest.approx(1.0)
    assert closed_flags[42] and not closed_flags[50]
    (summary,) = stream.summaries()
    assert summary.blinks == 1 and summary.microsleeps == 1 and summary.perclos > 0.3


def _on_gray(image: np.ndarray, dx: int) -> np.ndarray:
    """``image`` on a gray field 100 px wider and 40 px taller, ``dx`` px right of x = 50."""
    h, w = image.shape[:2]
    frame = np.full((h + 40, w + 100, 3), 128, np.uint8)
    frame[20 : 20 + h, 50 + dx : 50 + dx + w] = image
    return frame


def test_video_score_is_the_detectors_or_a_tracking_confidence(pipe):
    """A clip of real faces (landmarks68) drifting right, then one frame with the eyes covered and
    three gray frames: detector frames carry the detector's own score; tracked frames a score in
    (0, 1) below it, which falls when the eyes are covered and is about 0 once the face is gone."""
    from faceanalytics.train.data import read_csv
    from faceanalytics.video.stream import TRACK_DECAY

    samples = read_csv(shared_path("data", "landmarks68") / "annotations.csv")
    for s in samples[::900]:  # five people
        image = cv2.imread(str(s.path))
        frames = [_on_gray(image, 2 * i) for i in range(8)]
        iod = float(np.linalg.norm(s.points[45] - s.points[36]))
        lo, hi = (s.points[17:48].min(0) - 0.15 * iod).astype(int), (s.points[17:48].max(0) + 0.15 * iod).astype(int)
        frames[7][20 + lo[1] : 20 + hi[1], 50 + 14 + lo[0] : 50 + 14 + hi[0]] = 0  # eyes and brows covered
        gray = np.full_like(frames[0], 128)
        frames += [gray, gray, gray]
        # lost_confidence=0: the tracker keeps faces it would drop as lost, so that their score shows
        stream = Stream(pipe, detect_every=5, lost_confidence=0.0)
        results = [stream(f, i / 30) for i, f in enumerate(frames)]
        assert [i for i, r in enumerate(results) if r.detected] == [0, 5, 10]
        assert all(len(r.faces) == 1 and r.faces[0].track_id == 1 for r in results), s.path.name
        score = [r.faces[0].score for r in results]
        for i in (0, 5):  # the detector ran and found the face: its score, as Pipeline.detect gives it
            assert score[i] == pytest.approx(pipe.detect(frames[i])[0].score, abs=1e-6)
        for i in (1, 2, 3, 4, 6, 7, 8, 9):
            assert 0.0 < score[i] < 1.0
            last = 0 if i < 5 else 5
            assert score[i] <= score[last] * TRACK_DECAY ** (i - last) + 1e-6  # never above the decayed detector score
        assert score[4] > 0.9 * score[0]  # a steady face keeps most of its detector score
        assert score[7] < 0.8 * score[6]  # the eyes covered
        assert score[8] < 0.01 and score[9] < 0.01  # the face is gone
        assert score[10] <= pipe.min_score and score[10] < 0.01  # the detector ran and missed it


class _Counter:
    """A user plugin with per-track state: counts its track's frames."""

    name = "counter"

    def __init__(self) -> None:
        self.states: list[dict] = []

    def new_state(self, track):
        state = {"track_id": track.track_id, "start": track.start, "smoothing": dict(track.smoothing), "frames": 0}
        self.states.append(state)
        return state

    def __call__(self, face, frame, state=None):
        if state is None:  # a single image: no history
            return None
        assert state["track_id"] == face.track_id and frame.timestamp is not None
        state["frames"] += 1
        return (face.track_id, state["frames"], frame.timestamp)


class _Plain:
    """A user plugin without state, as plugins were before the hook."""

    name = "plain"

    def __call__(self, face, frame):
        return face.track_id


def test_user_plugins_get_one_state_per_track(detector_home, astronaut):
    if DEFAULT_LANDMARK_MODEL not in LANDMARK_MODELS:
        pytest.skip("needs the bundled landmark model")
    counter = _Counter()
    pipe = Pipeline(device="cpu", plugins=[counter, _Plain()])
    assert pipe(astronaut).faces[0].extras == {"counter": None, "plain": None} and counter.states == []
    stream = Stream(pipe, detect_every=5)
    blank = np.zeros((H, W, 3), np.uint8)
    frame, _ = moving_face(astronaut, 0)
    seen = []
    for i, image in enumerate([frame] * 5 + [blank] * 10 + [frame] * 5):
        seen += [(f.extras["counter"], f.extras["plain"], i / 30) for f in stream(image, i / 30).faces]
    # track 1 on frames 0-4, then the face left; track 2 from frame 15: a fresh state of its own
    assert [s["track_id"] for s in counter.states] == [1, 2]
    assert [s["frames"] for s in counter.states] == [5, 5] and counter.states[1]["start"] == pytest.approx(15 / 30)
    assert [c[:2] for c, _, _ in seen] == [(1, n) for n in range(1, 6)] + [(2, n) for n in range(1, 6)]
    assert all(c[2] == t and plain == c[0] for c, plain, t in seen)  # frame.timestamp; the stateless plugin ran too
    assert set(counter.states[0]["smoothing"]) == {"landmarks", "pose"}
    Stream(pipe, smoothing=False)(frame, 0.0)
    assert counter.states[-1]["smoothing"] == {}  # the stream does not smooth: nor should plugins


def test_two_faces_two_states(detector_home, astronaut):
    if DEFAULT_LANDMARK_MODEL not in LANDMARK_MODELS:
        pytest.skip("needs the bundled landmark model")
    counter = _Counter()
    stream = Stream(Pipeline(device="cpu", plugins=[counter]))
    two = np.hstack([astronaut, astronaut])
    for i in range(4):
        faces = stream(two, i / 30).faces
        assert sorted(f.extras["counter"][:2] for f in faces) == [(1, i + 1), (2, i + 1)]
    assert [s["track_id"] for s in counter.states] == [1, 2]
