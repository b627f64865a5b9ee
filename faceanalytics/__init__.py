"""faceanalytics: face detection and FPENet facial landmarks on onnxruntime.

from faceanalytics import Pipeline
result = Pipeline()(image)      # HxWx3 uint8 BGR array or a path
for face in result.faces: ...   # largest first; () when there is no face
"""

from __future__ import annotations

import logging

from faceanalytics.core.errors import (
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
    StreamError,
    VideoError,
)
from faceanalytics.core.options import Options
from faceanalytics.core.schema import SCHEMA_68, SCHEMA_80, SCHEMA_104, LandmarkSchema, schema_for
from faceanalytics.core.types import Alignment, Detection, Expression, Eyes, Face, HeadPose, Mouth, Result
from faceanalytics.io.draw import annotate
from faceanalytics.pipeline import LandmarkBatch, Pipeline
from faceanalytics.runners.detector import BlazeFaceDetector, Detector
from faceanalytics.runners.fpenet import FPENetRunner
from faceanalytics.video.results import StreamFrame, TrackSummary
from faceanalytics.video.stream import Stream

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
    "Expression",
    "Eyes",
    "FPENetRunner",
    "Face",
    "FaceAnalyticsError",
    "HeadPose",
    "ImageDecodeError",
    "ImageError",
    "ImageNotFoundError",
    "LandmarkBatch",
    "LandmarkSchema",
    "MissingDependencyError",
    "ModelFormatError",
    "ModelNotFoundError",
    "Mouth",
    "Options",
    "ParameterError",
    "Pipeline",
    "Result",
    "Stream",
    "StreamError",
    "StreamFrame",
    "TrackSummary",
    "VideoError",
    "__version__",
    "annotate",
    "schema_for",
]
