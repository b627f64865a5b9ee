"""faceanalytics: face detection and FPENet facial landmarks on onnxruntime.

from faceanalytics import Pipeline
result = Pipeline()(image)      # HxWx3 uint8 BGR array or a path
for face in result.faces: ...   # largest first; () when there is no face
"""

from __future__ import annotations

import logging

from .detector import BlazeFaceDetector, Detector
from .draw import annotate
from .errors import (
    AnnotationError,
    AnnotationNotFoundError,
    BoxError,
    CameraMatrixError,
    ChecksumError,
    DeviceError,
    DownloadError,
    FaceAnalyticsError,
    ImageDecodeError,
    ImageError,
    ImageNotFoundError,
    MissingDependencyError,
    ModelFormatError,
    ModelNotFoundError,
    ParameterError,
)
from .fpenet import FPENetRunner
from .pipeline import Pipeline
from .schema import SCHEMA_68, SCHEMA_80, SCHEMA_104, LandmarkSchema, schema_for
from .stream import Stream, StreamError, StreamFrame, TrackSummary
from .types import Alignment, Detection, Eyes, Face, HeadPose, Mouth, Result

__version__ = "0.1.0"

logging.getLogger("faceanalytics").addHandler(logging.NullHandler())

__all__ = [
    "SCHEMA_68",
    "SCHEMA_80",
    "SCHEMA_104",
    "Alignment",
    "AnnotationError",
    "AnnotationNotFoundError",
    "BlazeFaceDetector",
    "BoxError",
    "CameraMatrixError",
    "ChecksumError",
    "Detection",
    "Detector",
    "DeviceError",
    "DownloadError",
    "Eyes",
    "FPENetRunner",
    "Face",
    "FaceAnalyticsError",
    "HeadPose",
    "ImageDecodeError",
    "ImageError",
    "ImageNotFoundError",
    "LandmarkSchema",
    "MissingDependencyError",
    "ModelFormatError",
    "ModelNotFoundError",
    "Mouth",
    "ParameterError",
    "Pipeline",
    "Result",
    "Stream",
    "StreamError",
    "StreamFrame",
    "TrackSummary",
    "__version__",
    "annotate",
    "schema_for",
]
