import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import shared_path

import faceanalytics.core.image
from faceanalytics import FaceAnalyticsError, ImageDecodeError, ImageError, ImageNotFoundError
from faceanalytics.core.image import MAX_IMAGE_PIXELS, load_image


def test_bgr_uint8_passes_through_unchanged():
    img = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    out = load_image(img)
    assert out.dtype == np.uint8 and out.shape == (20, 30, 3) and out.flags.c_contiguous
    np.testing.assert_array_equal(out, img)


@pytest.mark.parametrize("shape", [(20, 30), (20, 30, 1)])
def test_gray_becomes_three_equal_channels(shape):
    gray = np.arange(600, dtype=np.uint8).reshape(shape)
    out = load_image(gray)
    assert out.shape == (20, 30, 3)
    np.testing.assert_array_equal(out[..., 0], gray.reshape(20, 30))
    np.testing.assert_array_equal(out[..., 2], gray.reshape(20, 30))


def test_bgra_drops_alpha():
    bgra = np.zeros((4, 5, 4), np.uint8)
    bgra[..., 0], bgra[..., 1], bgra[..., 2], bgra[..., 3] = 10, 20, 30, 99
    out = load_image(bgra)
    assert out.shape == (4, 5, 3) and out[0, 0].tolist() == [10, 20, 30]


def test_uint16_scales_full_range():
    img = np.array([[[0, 257 * 128, 65535]]], np.uint16)
    assert load_image(img)[0, 0].tolist() == [0, 128, 255]


def test_float_in_unit_range_scales_to_255():
    img = np.full((2, 2, 3), 0.5, np.float64)
    img[0, 0] = [0.0, 1.0, 0.25]
    out = load_image(img)
    assert out[0, 0].tolist() == [0, 255, 64] and out[1, 1].tolist() == [128, 128, 128]


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (None, "None"),
        (np.zeros((0, 10, 3), np.uint8), "empty"),
        (np.zeros((10, 10, 2), np.uint8), "channels"),
        (np.zeros((2, 10, 10, 3), np.uint8), "shape"),
        (np.full((4, 4, 3), 200.0, np.float32), r"\[0, 1\]"),
        (np.full((4, 4, 3), np.nan, np.float32), "NaN"),
        (np.zeros((4, 4, 3), bool), "dtype"),
        (np.zeros((4, 4, 3), np.int32), "dtype"),
        ([[1, 2], [3, 4]], "numpy array, a path or encoded image bytes"),
    ],
)
def test_bad_arrays_raise_image_error(image, match):
    with pytest.raises(ImageError, match=match) as info:
        load_image(image)
    assert isinstance(info.value, FaceAnalyticsError) and isinstance(info.value, ValueError)


def test_non_contiguous_views_are_copied():
    img = np.random.default_rng(1).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    view = img[::2, ::-1]
    out = load_image(view)
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, view)


def test_too_large_image_is_refused_before_conversion():
    # A broadcast view: huge logical size, no memory.
    huge = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (20_000, MAX_IMAGE_PIXELS // 20_000 + 1, 3))
    with pytest.raises(ImageError, match="exceeds the limit"):
        load_image(huge)


def test_input_array_is_not_modified():
    img = np.full((8, 8), 7, np.uint8)
    load_image(img)
    assert (img == 7).all() and img.shape == (8, 8)


def test_files(tmp_path: Path):
    img = np.random.default_rng(2).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    png = tmp_path / "ünïcode ok.png"
    _, buf = cv2.imencode(".png", img)
    png.write_bytes(buf.tobytes())
    np.testing.assert_array_equal(load_image(png), img)
    np.testing.assert_array_equal(load_image(str(png)), img)

    with pytest.raises(ImageNotFoundError, match="not found"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageNotFoundError, match="not a file"):
        load_image(tmp_path)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageDecodeError, match="empty"):
        load_image(empty)
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"this is not a jpeg" * 10)
    with pytest.raises(ImageDecodeError, match="cannot decode"):
        load_image(junk)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(buf.tobytes()[:40])
    with pytest.raises(ImageDecodeError):
        load_image(truncated)
    # Both file errors are OSErrors as well as FaceAnalyticsErrors.
    assert issubclass(ImageDecodeError, OSError) and issubclass(ImageNotFoundError, FileNotFoundError)


# --- encoded image bytes (issue 18) ---------------------------------------------------------------

FACE = ("data", "landmarks68", "images", "test_Abdullah_Gul_11.jpg")


def _as_buffers(data: bytes) -> list:
    return [data, bytearray(data), memoryview(data), memoryview(np.frombuffer(data, np.uint8))]


def test_encoded_bytes_decode_like_the_file():
    face = cv2.imread(str(shared_path(*FACE)))
    for ext in (".png", ".jpg"):
        ok, buf = cv2.imencode(ext, face)
        assert ok
        expected = face if ext == ".png" else cv2.imdecode(buf, cv2.IMREAD_COLOR)  # PNG is lossless
        for data in _as_buffers(buf.tobytes()):
            out = load_image(data)
            assert out.dtype == np.uint8 and out.shape == face.shape and out.flags.c_contiguous
            np.testing.assert_array_equal(out, expected, err_msg=f"{ext} as {type(data).__name__}")


def test_bytes_of_a_file_decode_as_its_path():
    path = shared_path(*FACE)
    np.testing.assert_array_equal(load_image(path.read_bytes()), load_image(path))


def test_strided_memoryview_is_read_in_order():
    img = np.random.default_rng(3).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    encoded = cv2.imencode(".png", img)[1].ravel()
    spaced = np.zeros(2 * encoded.size, np.uint8)
    spaced[::2] = encoded
    view = memoryview(spaced)[::2]
    assert not view.c_contiguous
    np.testing.assert_array_equal(load_image(view), img)


def _with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """``jpeg`` with an EXIF APP1 segment holding only the Orientation tag."""
    ifd = struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)
    app1 = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:]


def test_exif_orientation_is_applied_to_bytes_as_to_files(tmp_path: Path):
    img = np.zeros((20, 40, 3), np.uint8)
    img[:, :20] = 255
    rotated = _with_exif_orientation(cv2.imencode(".jpg", img)[1].tobytes(), 6)  # 6: rotate 90 degrees clockwise
    path = tmp_path / "rotated.jpg"
    path.write_bytes(rotated)
    from_bytes, from_file = load_image(rotated), load_image(path)
    assert from_bytes.shape == (40, 20, 3)
    np.testing.assert_array_equal(from_bytes, from_file)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty"),
        (bytearray(), "empty"),
        (memoryview(b""), "empty"),
        (b"this is not a jpeg" * 10, "cannot decode 180 bytes"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, "cannot decode"),  # a PNG signature, then nothing usable
        (b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4, "cannot decode"),  # a JPEG start, then garbage
    ],
)
def test_undecodable_bytes_raise_image_decode_error(data, match):
    with pytest.raises(ImageDecodeError, match=match) as info:
        load_image(data)
    assert isinstance(info.value, FaceAnalyticsError)


def test_bytes_respect_the_pixel_limit(monkeypatch):
    data = cv2.imencode(".png", np.zeros((20, 30, 3), np.uint8))[1].tobytes()
    monkeypatch.setattr(faceanalytics.core.image, "MAX_IMAGE_PIXELS", 599)
    with pytest.raises(ImageError, match="30x20 pixels exceeds the limit"):
        load_image(data)
    monkeypatch.setattr(faceanalytics.core.image, "MAX_IMAGE_PIXELS", 600)
    assert load_image(data).shape == (20, 30, 3)
