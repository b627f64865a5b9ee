"""Coordinate losses (L1, L2, Wing) with per-point region weights, as NVIDIA TAO FPENet offers."""

from __future__ import annotations

import math

import torch

from faceanalytics.core.schema import SCHEMA_68, LandmarkSchema

__all__ = [
    "LOSSES",
    "flat_heatmap_loss",
    "heatmap_cross_entropy",
    "inner_gap_loss",
    "l1_loss",
    "l2_loss",
    "landmark_loss",
    "region_weights",
    "wing_loss",
]


def l1_loss(diff: torch.Tensor) -> torch.Tensor:
    """Elementwise ``|d|``."""
    return diff.abs()


def l2_loss(diff: torch.Tensor) -> torch.Tensor:
    """Elementwise ``d^2 / 2``."""
    return 0.5 * diff * diff


def wing_loss(diff: torch.Tensor, w: float = 10.0, epsilon: float = 2.0) -> torch.Tensor:
    """Elementwise Wing loss (Feng et al., CVPR 2018): ``w ln(1 + |d|/epsilon)`` below ``w``, ``|d| - C`` above.

    ``C = w - w ln(1 + w/epsilon)`` joins the two pieces continuously. ``w`` and ``epsilon`` are in
    the units of ``diff`` (crop pixels here).
    """
    a = diff.abs()
    c = w - w * math.log(1.0 + w / epsilon)
    return torch.where(a < w, w * torch.log1p(a / epsilon), a - c)


LOSSES = {"l1": l1_loss, "l2": l2_loss, "wing": wing_loss}


def region_weights(
    eyes: float = 1.0,
    mouth: float = 1.0,
    rest: float = 1.0,
    schema: LandmarkSchema = SCHEMA_68,
    inner_lips: float | None = None,
) -> torch.Tensor:
    """(K,) point weights: ``eyes`` for both eye contours, ``mouth`` for the lips (``inner_lips``
    for the inner ones when given), ``rest`` elsewhere."""
    w = torch.full((schema.num_points,), float(rest))
    w[list(schema.right_eye + schema.left_eye)] = float(eyes)
    w[list(schema.mouth)] = float(mouth)
    if inner_lips is not None:
        w[list(schema.inner_lips)] = float(inner_lips)
    return w


def inner_gap_loss(
    pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, schema: LandmarkSchema = SCHEMA_68
) -> torch.Tensor:
    """L1 between predicted and target inner-lip gaps (``schema.inner_lip_pairs``: upper minus
    lower point, x and y, crop pixels), each gap weighted by its two points' lower weight: how far
    the mouth opens, which the per-point loss leaves to the shape prior (models/README.md, "Open
    mouths"). ``weights``: (K,) or (N, K) as for :func:`landmark_loss`."""
    up = [u for u, _ in schema.inner_lip_pairs]
    lo = [lower for _, lower in schema.inner_lip_pairs]
    gap_pred, gap_true = pred[:, up] - pred[:, lo], target[:, up] - target[:, lo]
    w = weights.expand(pred.shape[0], -1) if weights.dim() == 1 else weights
    wg = torch.minimum(w[:, up], w[:, lo])
    return ((gap_pred - gap_true).abs().sum(-1) * wg).sum() / wg.sum().clamp_min(1e-8)


def landmark_loss(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, kind: str = "wing") -> torch.Tensor:
    """Weighted mean loss over a batch.

    Args:
        pred, target: (N, K, 2) coordinates (crop pixels).
        weights: (K,) region weights or (N, K) per-sample point weights (0 ignores a point).
        kind: ``"l1"``, ``"l2"`` or ``"wing"``.

    Returns:
        Scalar: ``sum(w * (loss_x + loss_y)) / sum(w)``.
    """
    if kind not in LOSSES:
        raise ValueError(f"unknown loss {kind!r}; use one of {', '.join(LOSSES)}")
    per_point = LOSSES[kind](pred - target).sum(dim=-1)
    w = weights.expand_as(per_point)
    return (per_point * w).sum() / w.sum().clamp_min(1e-8)


def heatmap_cross_entropy(logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, sigma: float = 1.5) -> torch.Tensor:
    """Cross-entropy between each keypoint's softmax map and a Gaussian of ``sigma`` px at its target.

    Sharpens the maps on faces, so the softmax peak (the ``softargmax:1`` confidence) is high where
    the model is sure. ``weights`` as in :func:`landmark_loss`; rows of zeros are ignored.

    Args:
        logits: (N, K, H, W) heatmap logits.
        target: (N, K, 2) x, y in heatmap pixels.
    """
    n, k, h, w = logits.shape
    ys, xs = torch.meshgrid(torch.arange(h, device=logits.device), torch.arange(w, device=logits.device), indexing="ij")
    grid = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1).to(logits.dtype)  # (H*W, 2)
    d2 = ((grid[None, None] - target[:, :, None, :]) ** 2).sum(-1)  # (N, K, H*W)
    q = torch.softmax(-d2 / (2 * sigma * sigma), dim=-1)
    logp = torch.log_softmax(logits.reshape(n, k, h * w), dim=-1)
    ce = -(q * logp).sum(-1)  # (N, K)
    wt = weights.expand_as(ce)
    return (ce * wt).sum() / wt.sum().clamp_min(1e-8)


def flat_heatmap_loss(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each keypoint's softmax map against the uniform map (0 when flat).

    Used on crops without a face, so that their softmax peaks (confidence) stay low.
    """
    n, k = logits.shape[:2]
    flat = logits.reshape(n, k, -1)
    return (torch.logsumexp(flat, dim=-1) - flat.mean(-1) - math.log(flat.shape[-1])).mean()
