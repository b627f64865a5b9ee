"""Augmentation of 80x80 training crops.

Geometry is composed into the image->crop affine matrix, so each crop is one ``cv2.warpAffine``
of the gray frame (zero padded outside it, as at run time) and the labels go through the same
matrix. Photometric changes (gamma, contrast, blur, noise, occlusion, JPEG) act on the crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from faceanalytics.core.schema import SCHEMA_68
from faceanalytics.geometry.crop import image_to_crop, square_crop_matrices

__all__ = ["AugmentConfig", "augment_matrix", "flip_points", "make_crop", "photometric", "textured_occluder"]


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation strengths and probabilities (``*_p``). ``AugmentConfig.none()`` disables all."""

    rotation_deg: float = 25.0  # hard limit; angles are drawn N(0, rotation_std_deg) and clipped
    rotation_std_deg: float = 12.0
    scale: float = 0.08  # std of log scale
    shift: float = 0.03  # std, fraction of the crop
    flip_p: float = 0.5
    gamma_p: float = 0.5
    contrast_p: float = 0.5
    blur_p: float = 0.2
    noise_p: float = 0.2
    occlusion_p: float = 0.15
    jpeg_p: float = 0.25
    downscale_p: float = 0.15
    texture_occlusion_p: float = 0.0  # a patch of the crop's own texture pasted as a blob or a bar (off by default)

    @classmethod
    def none(cls) -> AugmentConfig:
        """No augmentation (for evaluation crops)."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def augment_matrix(
    base: np.ndarray, angle_deg: float, scale: float, shift: tuple[float, float], flip: bool, size: int = 80
) -> np.ndarray:
    """Compose a rotation/scale about the crop centre, a shift (crop pixels) and an optional
    horizontal flip after the (2, 3) image->crop matrix ``base``."""
    c = (size - 1) / 2.0
    a = cv2.getRotationMatrix2D((c, c), angle_deg, scale)  # 2x3 in crop pixel-centre coordinates
    a[:, 2] += np.asarray(shift, np.float64)
    a3 = np.vstack([a, [0.0, 0.0, 1.0]])
    if flip:
        a3 = np.array([[-1.0, 0.0, size - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ a3
    return (a3 @ np.vstack([base, [0.0, 0.0, 1.0]]))[:2]


def flip_points(points: np.ndarray, permutation: tuple[int, ...] = SCHEMA_68.flip_permutation) -> np.ndarray:
    """Relabel points of a horizontally mirrored face: ``mirrored[i] = points[permutation[i]]``.

    Coordinates must already be mirrored; this only swaps left and right labels.
    """
    return points[list(permutation)]


def label_shift_correction(
    matrix: np.ndarray, points: np.ndarray, label_shift_x: float, eye_corners: tuple[int, int]
) -> np.ndarray:
    """(2,) crop-pixel shift that keeps an annotation offset on the right in a flipped crop.

    The annotations sit ``d = label_shift_x * iod`` image pixels right of the true features. The
    flipped crop ``matrix`` (rotation, then mirror) carries that offset to ``c = A (d, 0)``, which
    points left; annotating the mirrored image the same way would give ``-c``. So ``-2c`` is added.
    """
    iod = float(np.linalg.norm(points[eye_corners[0]] - points[eye_corners[1]]))
    return (-2.0 * (matrix[:, :2] @ np.array([label_shift_x * iod, 0.0]))).astype(np.float32)


def photometric(crop: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Gamma, contrast/brightness, downscaling, blur, noise, an occluding patch and JPEG artefacts
    on an (H, W) uint8 crop; returns uint8."""
    img: np.ndarray = crop.astype(np.float32)
    size = crop.shape[0]
    if rng.random() < cfg.gamma_p:
        img = 255.0 * (img / 255.0) ** np.exp(rng.normal(0.0, 0.3))
    if rng.random() < cfg.contrast_p:
        img = (img - 127.5) * rng.uniform(0.6, 1.4) + 127.5 + rng.normal(0.0, 20.0)
    if rng.random() < cfg.downscale_p:
        small = int(rng.integers(size // 3, size * 3 // 4))
        img = cv2.resize(img, (small, small), interpolation=cv2.INTER_AREA)
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)
    if rng.random() < cfg.blur_p:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.8))
    if rng.random() < cfg.noise_p:
        img = img + rng.normal(0.0, rng.uniform(2.0, 10.0), img.shape)
    if rng.random() < cfg.occlusion_p:
        w, h = (int(v) for v in rng.integers(size // 8, size * 3 // 8, 2))
        x, y = (int(v) for v in rng.integers(0, size - min(w, h), 2))
        patch = img[y : y + h, x : x + w]
        patch[...] = rng.uniform(0, 255) if rng.random() < 0.5 else rng.uniform(0, 255, patch.shape)
    if cfg.texture_occlusion_p > 0 and rng.random() < cfg.texture_occlusion_p:  # no draw when off: old runs rebuild
        img = textured_occluder(img, rng)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < cfg.jpeg_p:
        ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 80))])
        decoded = cv2.imdecode(enc, cv2.IMREAD_GRAYSCALE) if ok else None
        if decoded is not None:
            out = decoded
    return out


def textured_occluder(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``img`` (H, W float32) with a region covered by the crop's own texture from elsewhere
    (hair, clothes, background: things that do cover faces), brightened or darkened, in the shape
    of a blob (a hand, another face) or a long bar at any angle (a microphone, an arm); the
    labels do not move, so the network learns to place covered points from the rest of the face."""
    size = img.shape[0]
    mask = np.zeros(img.shape, np.uint8)
    centre = (int(rng.integers(size // 5, size * 4 // 5)), int(rng.integers(size // 4, size)))
    angle = float(rng.uniform(0, 180))
    if rng.random() < 0.5:  # a blob
        axes = (int(rng.integers(size // 10, size // 4)), int(rng.integers(size // 10, size // 4)))
    else:  # a bar
        axes = (int(rng.integers(size // 4, size // 2)), int(rng.integers(size // 20, size // 10) + 1))
    cv2.ellipse(mask, centre, axes, angle, 0, 360, 1, -1)
    shift = rng.integers(size // 3, size, 2) * rng.choice([-1, 1], 2)
    source = np.roll(img, (int(shift[0]), int(shift[1])), axis=(0, 1)) * rng.uniform(0.6, 1.4) + rng.normal(0, 15)
    return np.where(mask > 0, source, img).astype(np.float32)


def make_crop(
    gray: np.ndarray,
    points: np.ndarray,
    box: np.ndarray,
    rng: np.random.Generator,
    cfg: AugmentConfig,
    size: int = 80,
    permutation: tuple[int, ...] = SCHEMA_68.flip_permutation,
    crop_scale: float = 1.0,
    label_shift_x: float = 0.0,
    eye_corners: tuple[int, int] = (SCHEMA_68.right_eye_outer, SCHEMA_68.left_eye_outer),
) -> tuple[np.ndarray, np.ndarray]:
    """One augmented training crop.

    Args:
        gray: HxW uint8 frame.
        points: (K, 2) image landmarks.
        box: ``x1, y1, x2, y2`` face box (detector-like), cropped as at run time.
        crop_scale: the model's crop scale (see :func:`faceanalytics.geometry.crop.square_crop_matrices`).
        label_shift_x: how far right of the mirror-symmetric position the annotations sit, as a
            fraction of the outer-eye-corner distance (``eye_corners``). A flip would turn it into
            a shift to the left, so the labels of a flipped crop are moved to keep it on the right
            (see :func:`label_shift_correction`). 0 for mirror-symmetric annotations.

    Returns:
        ``(crop (size, size) uint8, points (K, 2) float32 in crop pixels)``.
    """
    base = square_crop_matrices(np.asarray(box)[None], size, crop_scale)[0]
    angle = 0.0
    if cfg.rotation_std_deg:
        angle = float(np.clip(rng.normal(0.0, cfg.rotation_std_deg), -cfg.rotation_deg, cfg.rotation_deg))
    scale = float(np.exp(rng.normal(0.0, cfg.scale))) if cfg.scale else 1.0
    shift = (float(rng.normal(0.0, cfg.shift * size)), float(rng.normal(0.0, cfg.shift * size))) if cfg.shift else (0.0, 0.0)
    flip = bool(rng.random() < cfg.flip_p)
    m = augment_matrix(base, angle, scale, shift, flip, size)
    crop = cv2.warpAffine(gray, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    pts = image_to_crop(points[None], m[None])[0].astype(np.float32)
    if flip:
        if label_shift_x:
            pts += label_shift_correction(m, points, label_shift_x, eye_corners)
        pts = flip_points(pts, permutation)
    return photometric(crop, rng, cfg), pts
