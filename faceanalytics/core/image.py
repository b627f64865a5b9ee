"""Turning what callers pass as an image into one checked HxWx3 uint8 BGR array.

Accepted, and how each is converted (documented in docs/api.md):

* ``str`` / ``os.PathLike``: read with OpenCV (EXIF orientation applied), any format it decodes.
* ``bytes`` / ``bytearray`` / ``memoryview``: an encoded image (JPEG, PNG, ... what a web upload or
  a message queue carries), decoded exactly as a file's contents are.
* ``uint8`` arrays: (H, W) or (H, W, 1) gray -> BGR; (H, W, 3) taken as BGR; (H, W, 4) taken as
  BGRA, alpha dropped.
* ``uint16`` arrays: scaled to 8 bits by ``/ 257`` (full 16-bit range), then as above.
* ``float32`` / ``float64`` arrays: must be finite and within [0, 1] (the scikit-image
  convention); scaled by 255 and rounded. Floats outside [0, 1] are refused rather than guessed.
* Non-contiguous arrays (slices, flips) are copied to contiguous memory.

Anything else raises :class:`~faceanalytics.core.errors.ImageError` (or :class:`ImageNotFoundError` /
:class:`ImageDecodeError` for paths, :class:`ImageDecodeError` for empty or undecodable bytes).
The input array is never modified.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from faceanalytics.core.errors import ImageDecodeError, ImageError, ImageNotFoundError

__all__ = ["MAX_IMAGE_PIXELS", "ImageInput", "load_image", "to_bgr_uint8"]

ImageInput = np.ndarray | str | os.PathLike | bytes | bytearray | memoryview

#: Largest accepted image, in pixels (width x height): 100 megapixels, about 300 MB as BGR.
MAX_IMAGE_PIXELS = 100_000_000


def load_image(source: ImageInput) -> np.ndarray:
    """Return ``source`` as a C-contiguous HxWx3 uint8 BGR array (see the module docstring)."""
    if source is None:
        raise ImageError("image is None; pass an HxWx3 uint8 BGR array, a path to an image file or encoded image bytes")
    if isinstance(source, (str, os.PathLike)):
        return _read_file(Path(source))
    if isinstance(source, np.ndarray):
        if _is_checked(source):  # already in form (the stages of a video frame): no checks to repeat
            return source
        return to_bgr_uint8(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _read_bytes(source)
    raise ImageError(f"image must be a numpy array, a path or encoded image bytes, got {type(source).__name__}")


def _is_checked(array: np.ndarray) -> bool:
    """Whether ``array`` is what :func:`to_bgr_uint8` would return unchanged (a C-contiguous
    HxWx3 uint8 ndarray within :data:`MAX_IMAGE_PIXELS`): a few attribute reads."""
    shape = array.shape
    return (
        type(array) is np.ndarray
        and array.dtype == np.uint8
        and len(shape) == 3
        and shape[2] == 3
        and 0 < shape[0] * shape[1] <= MAX_IMAGE_PIXELS
        and array.flags.c_contiguous
    )


def _read_file(path: Path) -> np.ndarray:
    try:
        exists, is_file = path.exists(), path.is_file()
    except OSError as exc:  # e.g. a name too long for the file system
        raise ImageNotFoundError(f"not a usable image path: {str(path)[:200]}: {exc.strerror or exc}") from None
    if not exists:
        raise ImageNotFoundError(f"image file not found: {path}")
    if not is_file:  # folders, devices, pipes (reading a pipe could block forever)
        raise ImageNotFoundError(f"not a file: {path}")
    try:
        data = np.fromfile(path, dtype=np.uint8)  # works with non-ASCII paths, unlike cv2.imread
    except OSError as exc:
        raise ImageDecodeError(f"cannot read image file {path}: {exc}") from exc
    if data.size == 0:
        raise ImageDecodeError(f"image file is empty: {path}")
    return _decode(data, f"image file {path}")


def _read_bytes(source: bytes | bytearray | memoryview) -> np.ndarray:
    view = memoryview(source)
    if not view.c_contiguous:  # a strided view of some buffer: its bytes in order
        view = memoryview(view.tobytes())
    data = np.frombuffer(view.cast("B"), dtype=np.uint8)  # no copy
    if data.size == 0:
        raise ImageDecodeError("image bytes are empty; pass the encoded contents of an image file (JPEG, PNG, ...)")
    return _decode(data, f"{data.size} bytes")


def _decode(data: np.ndarray, what: str) -> np.ndarray:
    """Decode an encoded image (a file's contents) the one way files and bytes share: OpenCV's
    ``IMREAD_COLOR``, which applies the EXIF orientation; then the checks of :func:`to_bgr_uint8`
    (``MAX_IMAGE_PIXELS`` included)."""
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error as exc:  # some corrupt headers raise rather than return None
        raise ImageDecodeError(f"cannot decode {what}: {str(exc).strip().splitlines()[-1]}") from None
    if image is None:
        raise ImageDecodeError(f"cannot decode {what}: not an image format OpenCV reads, or corrupt")
    return to_bgr_uint8(image)


def to_bgr_uint8(array: np.ndarray) -> np.ndarray:
    """Check and convert an image array to C-contiguous HxWx3 uint8 BGR (see module docstring)."""
    if not isinstance(array, np.ndarray):
        raise ImageError(f"image must be a numpy array, got {type(array).__name__}")
    if array.ndim not in (2, 3):
        raise ImageError(f"image must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {array.shape}")
    if array.ndim == 3 and array.shape[2] not in (1, 3, 4):
        raise ImageError(f"image must have 1, 3 or 4 channels; got shape {array.shape}")
    h, w = array.shape[:2]
    if h == 0 or w == 0:
        raise ImageError(f"image is empty: shape {array.shape}")
    if h * w > MAX_IMAGE_PIXELS:
        raise ImageError(
            f"image of {w}x{h} pixels exceeds the limit of {MAX_IMAGE_PIXELS:,}; downscale it first "
            "(faces are landmarked from 80x80 crops, so nothing is lost)"
        )
    image = _to_uint8(array)
    if image.ndim == 2 or image.shape[2] == 1:
        image = cv2.cvtColor(np.ascontiguousarray(image.reshape(h, w)), cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(image)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    dt = array.dtype
    if dt == np.uint8:
        return array
    if dt == np.uint16:
        return ((array.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if dt in (np.float32, np.float64):
        if not np.isfinite(array).all():
            raise ImageError("float image contains NaN or infinity")
        lo, hi = float(array.min()), float(array.max())
        if lo < 0.0 or hi > 1.0:
            raise ImageError(
                f"float images must hold values in [0, 1]; this one spans [{lo:g}, {hi:g}]. "
                "For 0-255 data pass array.astype(np.uint8)"
            )
        return np.rint(array * 255.0).astype(np.uint8)
    raise ImageError(f"unsupported image dtype {dt}; use uint8 (or uint16, or float in [0, 1])")
