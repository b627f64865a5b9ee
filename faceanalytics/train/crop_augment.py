"""Random augmentation of small gray crops in torch, shared by the eye-openness and mouth-cue
training (:mod:`.eye_openness`, :mod:`.mouth`).

Each step draws its random numbers from ``gen`` in a fixed order (documented per function), so a
recipe built from these steps draws exactly what it drew when it was written inline: the shipped
networks rebuild unchanged.
"""

from __future__ import annotations

import torch

__all__ = ["blur_or_sharpen", "random_affine", "random_conditions", "random_contrast", "random_flip"]


def random_flip(x: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x with half of its (N, C, H, W) crops mirrored left-right, the (N,) flip mask)``; draws
    ``rand(N)``."""
    flip = torch.rand(len(x), generator=gen) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x), flip


def random_affine(x: torch.Tensor, gen: torch.Generator, scale: float, angle: float, shift: float) -> torch.Tensor:
    """Each crop zoomed by ``1 + scale * (u - 0.5)``, rotated by ``angle * (u - 0.5)`` radians and
    moved by ``shift * (u - 0.5)`` of its half-size on each axis (``u`` uniform in [0, 1)), the border
    repeated; draws ``rand(N)`` (scale), ``rand(N)`` (angle), ``rand(N, 2)`` (shift)."""
    fn = torch.nn.functional
    n = len(x)
    s = 1 + scale * (torch.rand(n, generator=gen) - 0.5)
    a = angle * (torch.rand(n, generator=gen) - 0.5)
    aspect = x.shape[3] / x.shape[2]
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = s * torch.cos(a)
    theta[:, 0, 1] = -s * torch.sin(a) / aspect
    theta[:, 1, 0] = s * torch.sin(a) * aspect
    theta[:, 1, 1] = s * torch.cos(a)
    theta[:, :, 2] = shift * (torch.rand(n, 2, generator=gen) - 0.5)
    grid = fn.affine_grid(theta, list(x.shape), align_corners=False)
    return fn.grid_sample(x, grid, padding_mode="border", align_corners=False)


def blur_or_sharpen(x: torch.Tensor, gen: torch.Generator, span: float, low: float) -> torch.Tensor:
    """``x + k (x - blurred x)`` with ``k = span * u - low`` per crop (< 0 blurs, > 0 sharpens; the
    blur a 3x3 box, border repeated), not clamped; draws ``rand(N, 1, 1, 1)``."""
    fn = torch.nn.functional
    soft = fn.avg_pool2d(fn.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    amount = span * torch.rand(len(x), 1, 1, 1, generator=gen) - low
    return x + amount * (x - soft)


def random_contrast(x: torch.Tensor, gen: torch.Generator, gain: float, gain_span: float, offset: float) -> torch.Tensor:
    """``x * (gain + gain_span * u1) + offset * (u2 - 0.5)`` per crop, not clamped; draws
    ``rand(N, 1, 1, 1)`` (u1) then ``rand(N, 1, 1, 1)`` (u2)."""
    n = len(x)
    return x * (gain + gain_span * torch.rand(n, 1, 1, 1, generator=gen)) + offset * (torch.rand(n, 1, 1, 1, generator=gen) - 0.5)


def random_conditions(x: torch.Tensor, gen: torch.Generator, nod: float, streak: float, dark: float) -> torch.Tensor:
    """Conditions that make open eyes look closed, each on its share (``nod``, ``streak``,
    ``dark``) of the (N, 1, H, W) 0-255 crops, drawn independently: a **nod** (the crop squashed
    vertically about its centre to 0.55-1 of its height, the border repeated), a **streak**
    (horizontal motion blur, a box 1-8 pixels long) and **dark** (gain 0.08-0.4, then sensor noise
    of 2-6 gray levels, rounded to whole levels and clamped), in that order. Draws ``rand(N)`` and ``rand(N)`` (nod: which,
    how much), ``rand(N)`` and ``rand(N)`` (streak), ``rand(N)``, ``rand(N)``, ``rand(N)`` and
    ``randn(N, 1, H, W)`` (dark: which, gain, noise level, noise)."""
    fn = torch.nn.functional
    n, _, h, w = x.shape
    nodded = torch.rand(n, generator=gen) < nod
    height = 1 - 0.45 * torch.rand(n, generator=gen)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = 1.0
    theta[:, 1, 1] = torch.where(nodded, 1 / height, torch.ones(n))
    x = fn.grid_sample(x, fn.affine_grid(theta, [n, 1, h, w], align_corners=False), padding_mode="border", align_corners=False)
    streaked = torch.rand(n, generator=gen) < streak
    length = torch.where(streaked, 1 + 7 * torch.rand(n, generator=gen), torch.ones(n))
    taps = torch.arange(9, dtype=torch.float32) - 4
    kernel = (taps.abs()[None] <= (length[:, None] - 1) / 2).float()
    kernel = (kernel / kernel.sum(1, keepdim=True)).reshape(n, 1, 1, 9)
    x = fn.conv2d(fn.pad(x.reshape(1, n, h, w), (4, 4, 0, 0), mode="replicate"), kernel, groups=n).reshape(n, 1, h, w)
    dimmed = torch.rand(n, generator=gen) < dark
    gain = 0.08 + 0.32 * torch.rand(n, generator=gen)
    sigma = 2 + 4 * torch.rand(n, generator=gen)
    noise = torch.randn(x.shape, generator=gen)
    dim = (x * gain[:, None, None, None] + sigma[:, None, None, None] * noise).round().clamp(0, 255)
    return torch.where(dimmed[:, None, None, None], dim, x)
