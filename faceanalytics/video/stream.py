"""Video: a :class:`Stream` holds one video's state (tracks, smoothing, events) over a stateless Pipeline.

The Stream drives the Pipeline's public stages only (:meth:`~faceanalytics.Pipeline.detect`,
:meth:`~faceanalytics.Pipeline.landmarks`, :meth:`~faceanalytics.Pipeline.run_plugins`). Per
frame: the detector runs every ``detect_every`` frames, when there is no track, or when a track
was lost; otherwise each track's crop comes from its previous landmarks
(:func:`faceanalytics.geometry.boxes.box_from_landmarks`). All tracks are landmarked in one batch,
the landmarks are One-Euro smoothed per track, the pipeline's plugins run with each track's own
plugin states (:meth:`~faceanalytics.Pipeline.new_states`; the head pose smooths itself there),
and per-track monitors turn the faces' ``eyes`` and ``mouth`` results, whichever plugin made them,
into events. Timestamps drive everything.

Each face's ``score`` is the detector's score on frames where the detector ran and found that face,
and a tracking confidence on the others (:data:`TRACK_DECAY`; docs/video.md)::

    score = s_det * TRACK_DECAY ** n * min(1, mean(confidence) / mean(confidence at s_det's frame))

with ``s_det`` the detector's score at the track's last detection, ``n`` the frames since then,
and ``confidence`` the face's per-point confidence (``face.confidence``). On a frame where the
detector ran and did not find the face, the score is at most the pipeline's ``min_score``.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from faceanalytics.core.errors import StreamError
from faceanalytics.core.image import ImageInput, load_image
from faceanalytics.core.options import Options
from faceanalytics.core.schema import IBUG_SLICE
from faceanalytics.core.types import Detection, Face
from faceanalytics.geometry.boxes import DETECTOR_BOX_OFFSET, box_from_landmarks, box_offset
from faceanalytics.plugins.base import Frame, TrackContext, check_camera_matrix
from faceanalytics.plugins.eyes import eyes_from_ears
from faceanalytics.plugins.smoothing import OneEuroFilter
from faceanalytics.video.events import BlinkMonitor, Event, SustainedMonitor
from faceanalytics.video.results import StreamFrame, TrackSummary
from faceanalytics.video.tracking import match_boxes

if TYPE_CHECKING:
    from faceanalytics.pipeline import Pipeline

# StreamError (faceanalytics.core.errors), StreamFrame and TrackSummary (faceanalytics.video.results)
# are importable from here too, as before they moved.
__all__ = ["TRACK_DECAY", "Stream", "StreamError", "StreamFrame", "TrackSummary"]

logger = logging.getLogger("faceanalytics")

#: Weight of each new detection in the running box-to-landmarks offset of a followed face.
OFFSET_UPDATE = 0.3

#: Per frame without a detection, a tracked face's score is multiplied by this (it halves after
#: about 69 tracked frames; with ``detect_every=10`` it stays above 0.91 of the detector's score
#: while the landmarks stay as confident as at the detection).
TRACK_DECAY = 0.99

#: A followed face's crop is moved ahead by its landmarks' last motion, at most this fraction of
#: the face's width per step.
MAX_AHEAD = 0.5

#: A followed face whose landmarks came out farther than this fraction of the face's width from where
#: its last motion said they would be (a face that started or stopped moving fast: its crop lagged,
#: and landmarks on an off-centre crop are pulled towards the crop, so their motion understates the
#: face's) is unsure: the detector runs on the next frame and crops it afresh. Off with
#: ``lost_confidence=0``, like :data:`UNSURE_CONFIDENCE`.
MAX_SURPRISE = 0.1

#: A followed face whose mean landmark confidence falls below this fraction of its running average
#: (but not below ``lost_confidence``: then it is lost and re-detected on the same frame) is
#: unsure: the detector runs on the next frame. Off with ``lost_confidence=0``.
UNSURE_CONFIDENCE = 0.8

#: A face whose mean calibrated landmark confidence (the probability that a point is within 10 % of
#: the eye distance, faceanalytics.runners.point_confidence) is below this feeds no blink, yawn or
#: smile monitor on that frame: its eyes and mouth were measured on points that are not there.
#: Detector false positives on backgrounds score 0.00-0.06; the largest face of 500 training images
#: each of CEW (closed eyes), UTKFace and landmarks68 scored at least 0.57 (99.5 % above 0.68).
#: Only for landmark models with a calibration; raw peaks have no common scale.
EVENT_CONFIDENCE = 0.2


def _openness_decision(eyes: Any) -> bool | None:
    """The eyes result's own ``closed`` where it comes from a learned openness (both
    ``left_openness`` and ``right_openness`` finite): what a single image says. ``None`` otherwise
    (the EAR decides, against the person's adaptive threshold)."""
    left, right = getattr(eyes, "left_openness", None), getattr(eyes, "right_openness", None)
    if not getattr(eyes, "valid", True) or left is None or right is None:
        return None
    try:
        if not (math.isfinite(float(left)) and math.isfinite(float(right))):
            return None
    except (TypeError, ValueError):
        return None
    return bool(eyes.closed)


class _Track:
    def __init__(self, track_id: int, t: float, stream: Stream) -> None:
        self.id = track_id
        self.first_seen = self.last_seen = t
        self.frames = 0
        self.raw: np.ndarray | None = None  # last unsmoothed landmarks
        self.raw_t = t  # their time
        self.centre = np.zeros(2)  # their mean (float64; set with raw)
        # Pixels per second the landmarks moved between the last two frames they were found on: a
        # followed face's crop is placed where that motion takes it (a face crossing the frame at
        # half its width per frame is otherwise cropped half off, and its landmarks go wrong).
        self.velocity = np.zeros(2, np.float32)
        # Where the detector's box sat on this face's landmarks at the last detection: tracking
        # boxes keep that placement, so a model's own bias (e.g. a slightly contracted jaw line)
        # cannot shrink or shift the crops from frame to frame.
        self.box_rel: tuple[float, float, float] = DETECTOR_BOX_OFFSET
        self.conf_ref: float | None = None
        # The score: the detector's at the last detection of this face, the face's mean reported
        # point confidence on that frame, and the frames since.
        self.det_score = 0.0
        self.det_conf = 0.0
        self.since_det = 0
        self.missed = 0
        self.lost = False
        self.unsure = False  # landmark confidence well below its running average: detect next frame
        # the landmarks' mean and the landmarks around it are filtered apart: the shape's speed is
        # the face's deformation, not its motion, so a moving face's shape stays smoothed, and its
        # position (a mean of 68 points: little jitter) follows a sudden move with little lag
        self.lm_filter = OneEuroFilter(*stream.landmark_smoothing)
        self.position_filter = OneEuroFilter(*stream.position_smoothing)
        # the plugins' own state for this face (the head pose's previous pose and its filter, ...)
        self.states = stream.pipeline.new_states(TrackContext(track_id, t, stream._smoothing_settings))
        self.blinks = BlinkMonitor(track_id, microsleep=stream.microsleep)
        self.yawns = SustainedMonitor("yawn", track_id, stream.yawn_mar, stream.yawn_seconds)
        self.smiles = SustainedMonitor("smile", track_id, stream.smile_threshold, stream.smile_seconds)

    def ahead(self, t: float) -> np.ndarray:
        """Where :attr:`velocity` takes the landmarks by time ``t``: at most :data:`MAX_AHEAD` of
        the face's width (wrong landmarks make a wrong velocity; the cap keeps one from throwing
        the crop off the face)."""
        if self.raw is None:
            return np.zeros(2, np.float32)
        shift = self.velocity * np.float32(t - self.raw_t)
        width = float(np.ptp(self.raw[IBUG_SLICE, 0]))
        norm = float(np.hypot(*shift))
        return shift if norm <= MAX_AHEAD * width else shift * np.float32(MAX_AHEAD * width / norm)

    def finish(self) -> list[Event]:
        return [*self.blinks.finish(), *self.yawns.finish(), *self.smiles.finish()]

    def summary(self, active: bool) -> TrackSummary:
        return TrackSummary(
            self.id,
            self.first_seen,
            self.last_seen,
            self.frames,
            self.blinks.blinks,
            self.blinks.microsleeps,
            self.yawns.count,
            self.smiles.count,
            self.blinks.blinks_per_minute,
            self.blinks.perclos,
            self.blinks.threshold,
            active,
        )


class Stream:
    """One video's tracking, smoothing and events. Create with ``Stream(pipeline, **options)``.

    Args:
        pipeline: the stateless pipeline doing detection, landmarks and plugins.
        options: the settings (:class:`~faceanalytics.Options`); ``None``: the pipeline's
            ``options``. The video settings: ``detect_every`` (run the detector every N frames,
            and whenever tracking is unsure), ``max_faces`` (tracks, largest first),
            ``smoothing``, ``landmark_smoothing``, ``position_smoothing`` and ``pose_smoothing``
            (One-Euro filters),
            ``min_iou``, ``max_missed``, ``lost_confidence`` (tracking), ``microsleep``,
            ``yawn_mar``/``yawn_seconds``, ``smile_threshold``/``smile_seconds`` (events); see
            :class:`~faceanalytics.Options` for each one's meaning, unit and range.
        **settings: any :class:`~faceanalytics.Options` field, overriding ``options``:
            ``Stream(pipe, detect_every=5, max_faces=1)``.

    Each face's ``score`` is the detector's score on frames where the detector found it, and the
    tracking confidence on the others (see the module docstring and docs/video.md): the last
    detector score, times :data:`TRACK_DECAY` per frame since, times the fall of the face's mean
    point confidence since that detection; at most the pipeline's ``min_score`` on a frame where
    the detector ran and missed it.

    A Stream belongs to one video and one thread at a time: a call from a second thread while a
    frame is in progress raises :class:`StreamError` (the frame in progress is unaffected). Between
    frames it may move to another thread (a worker pool, ``run_in_executor``); ``close()`` waits
    for a frame in progress. For several videos at once, use one Stream per video over one shared
    Pipeline. Memory stays flat however long it runs: per-track history is windowed, and an ended
    track leaves only its :class:`TrackSummary` (docs/reliability.md).
    """

    def __init__(self, pipeline: Pipeline, options: Options | None = None, **settings: Any) -> None:
        self.pipeline = pipeline
        #: The validated settings: ``options`` (default: the pipeline's), with ``settings`` applied.
        self.options: Options = (options or pipeline.options).replace(**settings)
        o = self.options
        self.detect_every, self.max_faces, self.smoothing = o.detect_every, o.max_faces, o.smoothing
        self.landmark_smoothing, self.pose_smoothing = o.landmark_smoothing, o.pose_smoothing
        self.position_smoothing = o.position_smoothing
        self.min_iou, self.max_missed, self.lost_confidence = o.min_iou, o.max_missed, o.lost_confidence
        self.microsleep, self.yawn_mar, self.yawn_seconds = o.microsleep, o.yawn_mar, o.yawn_seconds
        self.smile_threshold, self.smile_seconds = o.smile_threshold, o.smile_seconds
        settings = {"landmarks": self.landmark_smoothing, "pose": self.pose_smoothing} if self.smoothing else {}
        self._smoothing_settings = MappingProxyType(settings)  # what plugin states learn (TrackContext)
        self._tracks: dict[int, _Track] = {}
        self._ended: list[TrackSummary] = []
        self._ids = itertools.count(1)
        self._index = 0
        self._last_t: float | None = None
        self._need_detect = True
        self._closed = False
        self._busy = threading.Lock()
        calibrated = getattr(pipeline.landmarker, "calibration", None) is not None
        self._event_confidence = EVENT_CONFIDENCE if calibrated else 0.0

    # ----------------------------------------------------------------------------------------
    def __call__(self, image: ImageInput, timestamp: float, camera_matrix: np.ndarray | None = None) -> StreamFrame:
        """Process the next frame, taken at ``timestamp`` seconds (strictly increasing)."""
        if not self._busy.acquire(blocking=False):
            raise StreamError("this Stream is already processing a frame in another thread; use one Stream per thread")
        try:
            return self._process(image, timestamp, camera_matrix)
        finally:
            self._busy.release()

    def _process(self, image: ImageInput, timestamp: float, camera_matrix: np.ndarray | None) -> StreamFrame:
        if self._closed:
            raise StreamError("the stream is closed")
        try:
            t = float(timestamp)
        except (TypeError, ValueError):
            raise StreamError(f"timestamp must be a number of seconds; got {timestamp!r}") from None
        if not math.isfinite(t):
            raise StreamError(f"timestamp must be finite; got {timestamp!r}")
        if self._last_t is not None and t <= self._last_t:
            raise StreamError(f"timestamps must increase: {t} after {self._last_t}")
        bgr = load_image(image)
        h, w = bgr.shape[:2]
        k = check_camera_matrix(camera_matrix)
        self._last_t = t
        index = self._index
        self._index += 1

        detected = self._need_detect or index % self.detect_every == 0 or not self._tracks
        events: list[Event] = []
        found: dict[int, Detection] = {}  # detections of this frame, by track
        if detected:
            found, events = self._associate(bgr, t)
        # A followed face is cropped from its previous landmarks even on detection frames (switching
        # to the detector's box every N frames would make the landmarks jump); a new or lost one from
        # the detector's box. The detector's boxes keep the box-to-landmarks offset up to date.
        boxes: dict[int, np.ndarray] = {}
        followed: set[int] = set()
        for track in self._tracks.values():
            # an unsure face the detector found is cropped from the detector's box: its own
            # landmarks are what tracking was unsure of
            if not track.lost and track.raw is not None and not (track.unsure and track.id in found):
                boxes[track.id] = box_from_landmarks(track.raw + track.ahead(t), track.box_rel)
                followed.add(track.id)
            elif track.id in found:
                boxes[track.id] = found[track.id].box
        faces = self._landmark(bgr, boxes, found, followed, detected, t)
        # Tracking unsure on this frame (a followed face lost: eyes closed, another face, a cover,
        # a jump): the detector runs now, on this frame, and each face it finds is landmarked from
        # its box, so a face the single-image pipeline finds is never dropped.
        lost = {tid for tid in followed if self._tracks[tid].lost}
        if lost:
            if not detected:
                more, events = self._associate(bgr, t)
                found.update(more)
                detected = True
            done = {f.track_id for f in faces}
            again = {tid: found[tid].box for tid in found if tid not in done and tid in self._tracks}
            for tid in again:  # judged afresh on the detector's box
                self._tracks[tid].lost, self._tracks[tid].conf_ref = False, None
            faces += self._landmark(bgr, again, found, set(), detected, t)
        self._dedupe()
        faces = self._run_plugins(faces, bgr, k, t, events)
        faces.sort(key=lambda f: -float((f.box[2] - f.box[0]) * (f.box[3] - f.box[1])))
        # Re-detect at once after a loss or a miss: a face that left ends within a frame or two.
        self._need_detect = any(tr.lost or tr.missed or tr.unsure for tr in self._tracks.values())
        return StreamFrame(tuple(faces), (w, h), t, index, detected, tuple(events))

    def _landmark(
        self,
        bgr: np.ndarray,
        boxes: dict[int, np.ndarray],
        found: dict[int, Detection],
        followed: set[int],
        detected: bool,
        t: float,
    ) -> list[Face]:
        """Landmarks of the tracks' ``boxes`` in one batch; a track whose landmarks fail is marked lost."""
        faces: list[Face] = []
        if not boxes:
            return faces
        h, w = bgr.shape[:2]
        ids = list(boxes)
        # the raw peaks decide losses (a relative rule, the same for every model); faces report
        # the model's calibrated confidence where it has one (faceanalytics.runners.point_confidence)
        points, conf, peaks = self.pipeline.landmarks(bgr, np.stack([boxes[i] for i in ids]))
        for tid, pts, p, c in zip(ids, points, peaks, conf, strict=True):
            track = self._tracks[tid]
            ibug = pts[IBUG_SLICE]  # the mean in float64 (float32 sums of huge points overflow), as np.mean computes it
            centre = ibug.sum(axis=0, dtype=np.float64) / len(ibug)
            if self._is_lost(track, centre, pts, p, (w, h)):
                track.lost = True
                continue
            size = float(np.ptp(pts[IBUG_SLICE, 0].astype(np.float64)) + 1.0)  # the face's width
            if tid in followed and track.raw is not None and self.lost_confidence > 0:
                expected = track.centre + track.ahead(t)
                track.unsure |= bool(np.hypot(*(centre - expected)) > MAX_SURPRISE * size)
            if track.raw is not None and t > track.raw_t:
                track.velocity = ((centre - track.centre) / (t - track.raw_t)).astype(np.float32)
            track.raw, track.raw_t, track.centre = pts, t, centre
            score = self._score(track, found.get(tid), c, detected)
            if tid in found:
                seen = box_offset(found[tid].box, pts)
                if tid in followed:  # a running average of the offset the detector shows
                    old = track.box_rel
                    (a0, a1, a2), (b0, b1, b2) = old, seen
                    u = OFFSET_UPDATE
                    seen = ((1 - u) * a0 + u * b0, (1 - u) * a1 + u * b1, (1 - u) * a2 + u * b2)
                track.box_rel = seen
            track.last_seen = t
            track.frames += 1
            smooth = pts
            if self.smoothing:
                position = track.position_filter(centre, t, scale=size)
                smooth = (track.lm_filter(pts - centre, t, scale=size) + position).astype(np.float32)
            faces.append(
                Face(box=boxes[tid], score=score, landmarks=smooth, confidence=c, schema=self.pipeline.schema, track_id=tid)
            )
        return faces

    def _score(self, track: _Track, detection: Detection | None, conf: np.ndarray, detected: bool) -> float:
        """The face's score on this frame (module docstring): the detector's where it found the
        face, else the tracking confidence."""
        mean = float(conf.sum(dtype=np.float64)) / conf.size  # np.mean, without its wrapper
        if detection is not None:
            track.det_score, track.det_conf, track.since_det = detection.score, mean, 0
            return detection.score
        track.since_det += 1
        ratio = min(1.0, mean / track.det_conf) if track.det_conf > 0 and math.isfinite(mean) else 0.0
        score = track.det_score * TRACK_DECAY**track.since_det * max(ratio, 0.0)
        if detected:  # the detector ran and did not report this face above its threshold
            score = min(score, float(getattr(self.pipeline, "min_score", 1.0)))
        return min(max(score, 0.0), 1.0)

    def _associate(self, bgr: np.ndarray, t: float) -> tuple[dict[int, Detection], list[Event]]:
        """Run the detector; match detections to tracks, start and end tracks."""
        dets = list(self.pipeline.detect(bgr))  # checked boxes, largest first
        if self.max_faces:
            dets = dets[: self.max_faces]
        known = [tr for tr in self._tracks.values() if tr.raw is not None]
        pred = np.stack([box_from_landmarks(tr.raw, tr.box_rel) for tr in known]) if known else np.zeros((0, 4))  # type: ignore[arg-type]
        det_boxes = np.stack([d.box for d in dets]) if dets else np.zeros((0, 4))
        pairs = match_boxes(pred, det_boxes, self.min_iou)
        # a track that was unsure or lost placed its box on doubtful landmarks: it takes the nearest
        # detection left within a face's side (one face that drifted, not a new one)
        doubtful = [ti for ti, tr in enumerate(known) if (tr.unsure or tr.lost) and ti not in {a for a, _ in pairs}]
        left = [di for di in range(len(dets)) if di not in {b for _, b in pairs}]
        if doubtful and left:
            more = match_boxes(pred[doubtful], det_boxes[left], min_iou=1.0, max_centre=1.0)
            pairs += [(doubtful[a], left[b]) for a, b in more]
        boxes: dict[int, Detection] = {}
        matched_t = {ti for ti, _ in pairs}
        matched_d = {di for _, di in pairs}
        for ti, di in pairs:
            tr = known[ti]
            tr.missed, tr.lost = 0, False
            boxes[tr.id] = dets[di]
        events: list[Event] = []
        for ti, tr in enumerate(known):
            if ti not in matched_t:
                tr.missed += 1
                if tr.missed > self.max_missed or tr.lost:
                    events += self._end_track(tr.id)
        for di, det in enumerate(dets):
            if di in matched_d or (self.max_faces and len(self._tracks) >= self.max_faces):
                continue
            tid = next(self._ids)
            self._tracks[tid] = _Track(tid, t, self)
            boxes[tid] = det
        for tid in [i for i, tr in self._tracks.items() if tr.raw is None and i not in boxes]:
            events += self._end_track(tid)
        return boxes, events

    def _is_lost(self, track: _Track, centre: np.ndarray, pts: np.ndarray, conf: np.ndarray, size: tuple[int, int]) -> bool:
        c = float(conf.sum() / conf.size)  # np.mean, without its wrapper
        outside = not (0 <= centre[0] < size[0] and 0 <= centre[1] < size[1])
        if outside or not np.isfinite(pts).all() or (track.conf_ref is not None and c < self.lost_confidence * track.conf_ref):
            return True
        # lost_confidence=0 keeps every face whatever its confidence: then confidence re-detects nothing either
        track.unsure = self.lost_confidence > 0 and track.conf_ref is not None and c < UNSURE_CONFIDENCE * track.conf_ref
        track.conf_ref = c if track.conf_ref is None else 0.9 * track.conf_ref + 0.1 * c
        return False

    def _dedupe(self) -> None:
        """Two tracks on one face (their landmarks converged): keep the older."""
        live = sorted((tr for tr in self._tracks.values() if tr.raw is not None and not tr.lost), key=lambda tr: tr.id)
        boxes = [box_from_landmarks(tr.raw, tr.box_rel) for tr in live]  # type: ignore[arg-type]
        for j in range(1, len(live)):
            for i in range(j):
                if not live[i].lost and match_boxes(boxes[i][None], boxes[j][None], min_iou=0.5, max_centre=0.25):
                    live[j].lost = True
                    break

    def _run_plugins(self, faces: list[Face], bgr: np.ndarray, k: np.ndarray | None, t: float, events: list[Event]) -> list[Face]:
        live: list[Face] = []
        tracks: list[_Track] = []
        for face in faces:
            track = self._tracks.get(face.track_id) if face.track_id is not None else None
            if track is not None and not track.lost:  # _dedupe may have dropped it
                live.append(face)
                tracks.append(track)
        if live and self.pipeline.plugins:
            # Eye and mouth cues see the unsmoothed landmarks (plugins with raw_landmarks):
            # smoothing would delay and flatten blinks (a few frames long) and yawns.
            raw = [tr.raw for tr in tracks] if self.smoothing else None
            live = self.pipeline.run_plugins(live, Frame(bgr, k, t), [tr.states for tr in tracks], raw)
        out = []
        for face, track in zip(live, tracks, strict=True):
            if float(face.confidence.sum(dtype=np.float64)) / face.confidence.size < self._event_confidence:
                out.append(face)  # no face's points to measure (EVENT_CONFIDENCE): no events from it
                continue
            if face.eyes is not None and not face.eyes.valid:
                events += track.blinks.update(t, math.nan)  # nothing judged on this frame: the state is kept
            elif face.eyes is not None:
                decided = _openness_decision(face.eyes)
                events += track.blinks.update(t, face.eyes.ear, decided)
                if decided is None:  # EAR only: the person's adaptive threshold, closed = a closure going on
                    eyes = eyes_from_ears(face.eyes.left_ear, face.eyes.right_ear, track.blinks.threshold)
                    face = face.with_result("eyes", replace(eyes, closed=track.blinks.closed))
            if face.mouth is not None and face.mouth.valid:
                events += track.yawns.update(t, face.mouth.mar)
                events += track.smiles.update(t, face.mouth.smile)
            out.append(face)
        return out

    def _end_track(self, tid: int) -> list[Event]:
        track = self._tracks.pop(tid)
        self._ended.append(track.summary(active=False))
        return track.finish()

    # ----------------------------------------------------------------------------------------
    def summaries(self) -> tuple[TrackSummary, ...]:
        """Figures of every track seen so far, ended ones included, by track id."""
        live = [tr.summary(active=True) for tr in self._tracks.values()]
        return tuple(sorted([*self._ended, *live], key=lambda s: s.track_id))

    def close(self) -> tuple[Event, ...]:
        """End the stream: finish every track and return the events still open (``complete=False``)."""
        with self._busy:
            if self._closed:
                return ()
            events: list[Event] = []
            for tid in list(self._tracks):
                events += self._end_track(tid)
            self._closed = True
            return tuple(events)

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
