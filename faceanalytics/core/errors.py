"""The one exception hierarchy of faceanalytics.

Every error the library raises on purpose derives from :class:`FaceAnalyticsError`. Each class
also subclasses the built-in exception that fits (``ValueError`` for bad arguments,
``OSError``/``FileNotFoundError`` for files and the network), so callers can catch either.
"""

from __future__ import annotations

__all__ = [
    "AnnotationError",
    "AnnotationNotFoundError",
    "BatchError",
    "BatchUsageError",
    "BoxError",
    "CameraMatrixError",
    "ChecksumError",
    "DeviceError",
    "DownloadError",
    "FaceAnalyticsError",
    "GeometryError",
    "ImageDecodeError",
    "ImageError",
    "ImageNotFoundError",
    "MissingDependencyError",
    "MissingExtraError",
    "ModelFormatError",
    "ModelNotFoundError",
    "ParameterError",
    "StreamError",
    "VideoError",
]


class FaceAnalyticsError(Exception):
    """Root of every error raised by faceanalytics."""


class ImageError(FaceAnalyticsError, ValueError):
    """An image array has an unsupported shape, dtype, size or value range."""


class ImageNotFoundError(FaceAnalyticsError, FileNotFoundError):
    """An image path does not exist or is not a file."""


class ImageDecodeError(FaceAnalyticsError, OSError):
    """An image file exists but cannot be read or decoded."""


class BoxError(FaceAnalyticsError, ValueError):
    """Caller-supplied face boxes are malformed, empty or outside the image."""


class CameraMatrixError(FaceAnalyticsError, ValueError):
    """``camera_matrix`` is not a finite 3x3 pinhole matrix with positive focal lengths."""


class DeviceError(FaceAnalyticsError, ValueError):
    """A ``device=`` argument names no known device or provider."""


class ModelNotFoundError(FaceAnalyticsError, FileNotFoundError):
    """A model file is missing and cannot be obtained."""


class ModelFormatError(FaceAnalyticsError, ValueError):
    """A model file is corrupt or does not follow the contract it is loaded for."""


class DownloadError(FaceAnalyticsError, OSError):
    """A model download failed (network, HTTP status, refused URL)."""


class ChecksumError(DownloadError):
    """A downloaded or cached file does not have the declared sha256."""


class ParameterError(FaceAnalyticsError, ValueError):
    """An option is out of range or of the wrong kind (``max_faces=0``, ``detect_every=-1``, ...)."""


class MissingDependencyError(FaceAnalyticsError, ImportError):
    """An optional extra is needed and not installed (the message names the ``pip install``)."""


class AnnotationError(FaceAnalyticsError, ValueError):
    """An annotation file (landmarks CSV, iBUG ``.pts``, COCO keypoint JSON) is malformed."""


class AnnotationNotFoundError(FaceAnalyticsError, FileNotFoundError):
    """An annotation file does not exist, is not a file, or cannot be read."""


class StreamError(FaceAnalyticsError, ValueError):
    """Misuse of a Stream: timestamps that do not increase, a closed stream, use from two threads."""


class VideoError(FaceAnalyticsError, OSError):
    """A video source cannot be opened or read."""


class GeometryError(FaceAnalyticsError, ValueError):
    """Points too degenerate (or not finite) for the requested geometry."""


class BatchError(FaceAnalyticsError):
    """A batch run cannot start or go on (not a failure of one input: those are in the report)."""


class BatchUsageError(BatchError, ValueError):
    """Bad batch arguments: an output that exists, no inputs, a bad number."""


class MissingExtraError(BatchError, MissingDependencyError):
    """An optional dependency of the batch feature is not installed (``faceanalytics[batch]``, ``[ray]``)."""
