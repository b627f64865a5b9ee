"""Head pose: PnP of the landmarks against the 3D mean face (``faceanalytics.geometry.face_templates``).

Angles (degrees), with the camera frame of OpenCV (x right, y down, z forward):

* ``yaw`` > 0: the subject turns to their left (the nose moves towards the image's right);
* ``pitch`` > 0: the subject looks up;
* ``roll`` > 0: the head tilts clockwise in the image.

They decompose the head-to-camera rotation as ``R = Ry(-yaw) @ Rx(-pitch) @ Rz(roll)`` (standard
right-handed elementary rotations, applied yaw first). All zero means the face looks straight
into the camera, upright. See docs/plugins.md for a figure.
"""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np

from faceanalytics.core.errors import ParameterError
from faceanalytics.core.schema import SCHEMA_68
from faceanalytics.core.types import Face, HeadPose
from faceanalytics.geometry.face_frame import eye_corner_distance
from faceanalytics.geometry.face_templates import MEAN_FACE_3D_68
from faceanalytics.geometry.pnp import refine_pose
from faceanalytics.plugins.base import Frame, TrackContext
from faceanalytics.plugins.smoothing import OneEuroFilter

__all__ = ["DEFAULT_POSE_POINTS", "HeadPosePlugin", "HeadPoseTrack", "angles_to_rotation", "rotation_to_angles"]

_S = SCHEMA_68

#: Points that move little with expression: brows, nose, eyes and outer mouth corners (iBUG 17-47,
#: 48 and 54). The jaw contour slides along the silhouette as the head turns, and the lips and chin
#: move when talking.
DEFAULT_POSE_POINTS: tuple[int, ...] = (
    *_S.right_eyebrow,
    *_S.left_eyebrow,
    *_S.nose,
    *_S.right_eye,
    *_S.left_eye,
    _S.mouth_right,
    _S.mouth_left,
)


def angles_to_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """3x3 head-to-camera rotation for angles in degrees (the module's convention): the intrinsic
    ``YXZ`` composition ``Ry(-yaw) Rx(-pitch) Rz(roll)``, the inverse of :func:`rotation_to_angles`."""
    a, b, c = np.radians([-yaw, -pitch, roll])
    ry = np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(b), -np.sin(b)], [0.0, np.sin(b), np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0.0], [np.sin(c), np.cos(c), 0.0], [0.0, 0.0, 1.0]])
    return ry @ rx @ rz


def rotation_to_angles(r: np.ndarray) -> tuple[float, float, float]:
    """``(yaw, pitch, roll)`` in degrees of a 3x3 head-to-camera rotation.

    Closed form of the intrinsic ``YXZ`` decomposition ``R = Ry(a) Rx(b) Rz(c)`` (yaw = -a,
    pitch = -b, roll = c): ``b = asin(-R[1,2])``, ``a = atan2(R[0,2], R[2,2])``,
    ``c = atan2(R[1,0], R[1,1])``.
    """
    (_, _, r02), (r10, r11, r12), (_, _, r22) = np.asarray(r, np.float64).tolist()  # plain floats: called per frame
    b = math.asin(min(max(-r12, -1.0), 1.0)) if r12 == r12 else math.nan
    a, c = math.atan2(r02, r22), math.atan2(r10, r11)
    return -math.degrees(a), -math.degrees(b), math.degrees(c)


def _median(values: np.ndarray) -> float:
    """``np.median`` of a non-empty 1-D array, without its overhead (about 15 µs of a 30 µs call)."""
    s = np.sort(values)
    n = len(s)
    return float(s[n // 2]) if n % 2 else float((s[n // 2 - 1] + s[n // 2]) / 2)


def _invalid(reason: str) -> HeadPose:
    nan = float("nan")
    return HeadPose(nan, nan, nan, np.full(3, nan), np.full(3, nan), nan, valid=False, reason=reason)


class HeadPoseTrack:
    """The head pose's state for one video track (:meth:`HeadPosePlugin.new_state`).

    Attributes:
        prior: the track's last valid pose, unsmoothed: where PnP starts on the next frame.
        filter: One-Euro filter of the rotation and translation vectors (the Stream's
            ``pose_smoothing``); ``None`` when the Stream does not smooth.
    """

    __slots__ = ("filter", "prior")

    def __init__(self, filter: OneEuroFilter | None = None) -> None:
        self.prior: HeadPose | None = None
        self.filter = filter

    def smooth(self, pose: HeadPose, t: float) -> HeadPose:
        """``pose`` with its rotation and translation One-Euro filtered at time ``t``, and the
        angles of the filtered rotation."""
        if self.filter is None:
            return pose
        vec = self.filter(np.concatenate([pose.rotation_vector, pose.translation]), t)
        yaw, pitch, roll = rotation_to_angles(cv2.Rodrigues(vec[:3])[0])
        return replace(pose, yaw=yaw, pitch=pitch, roll=roll, rotation_vector=vec[:3], translation=vec[3:])


class HeadPosePlugin:
    """Head pose by ``cv2.solvePnP`` (SQPnP), refined by Gauss-Newton on the reprojection error.

    Args:
        points: landmark indices used (iBUG 68 numbering).
        min_relative_confidence: points whose confidence is below this fraction of the median
            confidence of ``points`` are dropped (0 keeps all).
        max_error: a pose whose RMS reprojection error exceeds this fraction of the outer eye-corner
            distance is flagged invalid.

    Intrinsics come from ``Pipeline(...)(image, camera_matrix=K)``, else from the image size
    (:func:`faceanalytics.plugins.base.estimate_camera_matrix`). Lens distortion is not modelled.

    In a Stream each track has a :class:`HeadPoseTrack` (the per-track state hook of
    :mod:`faceanalytics.plugins.base`): PnP starts from the track's previous pose, and the pose is
    One-Euro smoothed with the Stream's ``pose_smoothing`` when the Stream smooths.
    """

    name = "head_pose"

    def __init__(
        self, points: tuple[int, ...] = DEFAULT_POSE_POINTS, min_relative_confidence: float = 0.3, max_error: float = 0.15
    ) -> None:
        if len(points) < 6 or min(points) < 0 or max(points) >= _S.num_points:
            raise ParameterError("points must be at least 6 indices of the 68 iBUG points")
        self.points = np.array(points)
        self._object_points = np.ascontiguousarray(MEAN_FACE_3D_68[self.points], np.float64)
        self.min_relative_confidence = float(min_relative_confidence)
        self.max_error = float(max_error)

    def new_state(self, track: TrackContext) -> HeadPoseTrack:
        """A fresh per-track state: no previous pose, and a pose filter when the Stream smooths."""
        settings = track.smoothing.get("pose")
        return HeadPoseTrack(OneEuroFilter(*settings) if settings is not None else None)

    def __call__(self, face: Face, frame: Frame, state: HeadPoseTrack | None = None) -> HeadPose:
        """The head pose of ``face``; with a track's ``state`` (video), PnP starts from the
        track's previous pose and a valid pose is smoothed at ``frame.timestamp``."""
        if state is None:
            return self.estimate(face, frame)
        pose = self.estimate(face, frame, state.prior)
        state.prior = pose if pose.valid else None
        if pose.valid and state.filter is not None and frame.timestamp is not None:
            pose = state.smooth(pose, frame.timestamp)
        return pose

    def estimate(self, face: Face, frame: Frame, prior: HeadPose | None = None) -> HeadPose:
        """The head pose of ``face``; with a valid ``prior`` (the same face's pose in the previous
        video frame, as the Stream passes), the refinement starts from it and SQPnP runs only
        when that start does not fit (reprojection error above half of ``max_error``)."""
        if face.schema.num_points < _S.num_points:
            return _invalid(f"schema {face.schema.name} lacks the 68 iBUG points")
        image_pts = face.landmarks[self.points].astype(np.float64)
        conf = face.confidence[self.points]
        keep = np.isfinite(image_pts).all(axis=1) & np.isfinite(conf)
        if self.min_relative_confidence > 0 and keep.any():
            keep &= conf >= self.min_relative_confidence * _median(conf[keep])
        if keep.all():
            obj, img = self._object_points, image_pts
        elif keep.sum() < 6:
            return _invalid("fewer than 6 usable landmarks")
        else:
            obj, img = self._object_points[keep], image_pts[keep]
        iod = eye_corner_distance(face.landmarks, face.schema)
        if not math.isfinite(iod) or iod < 1.0:
            return _invalid("eye corners coincide: degenerate face")
        k = frame.intrinsics.astype(np.float64)
        solution = None
        if prior is not None and prior.valid:
            solution = self._solve(obj, img, k, prior.rotation_vector.reshape(3, 1), prior.translation.reshape(3, 1))
            if isinstance(solution, str) or solution[2] > 0.5 * self.max_error * iod:
                solution = None  # the previous pose is too far off: solve from scratch
        if solution is None:
            solution = self._solve(obj, img, k)
        if isinstance(solution, str):
            return _invalid(solution)
        rvec, tvec, err = solution
        if err > self.max_error * iod:
            return _invalid(f"landmarks do not fit the 3D face (reprojection error {err:.1f} px)")
        yaw, pitch, roll = rotation_to_angles(cv2.Rodrigues(rvec)[0])
        return HeadPose(yaw, pitch, roll, rvec.reshape(3), tvec.reshape(3), err)

    @staticmethod
    def _solve(
        obj: np.ndarray, img: np.ndarray, k: np.ndarray, rvec: np.ndarray | None = None, tvec: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, float] | str:
        """``(rvec, tvec, RMS reprojection error in px)``: SQPnP then Gauss-Newton refinement
        (:func:`faceanalytics.geometry.pnp.refine_pose`), or the refinement alone from ``rvec, tvec``; a
        reason (str) when there is no usable solution."""
        if rvec is None or tvec is None:
            try:
                ok, rvec, tvec = cv2.solvePnP(obj, img, k, None, flags=cv2.SOLVEPNP_SQPNP)
            except cv2.error as exc:
                return f"PnP failed: {str(exc).strip().splitlines()[-1]}"
            if not ok:
                return "PnP found no solution"
        if not (np.isfinite(rvec).all() and np.isfinite(tvec).all()):
            return "PnP found no solution"
        rvec, tvec, err = refine_pose(obj, img, k, rvec, tvec)
        if not math.isfinite(err) or tvec[2, 0] <= 0:
            return "PnP put the face behind the camera"
        return rvec, tvec, err
