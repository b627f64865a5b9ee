"""The recombinator network (Honari et al., CVPR 2016), the backbone of NVIDIA TAO FPENet.

Four encoder branches at 80, 40, 20 and 10 px; at every level the decoder recombines the coarser
map with the encoder branch of that size; a 1x1 head gives one heatmap per keypoint at 80x80; a
spatial softmax and soft-argmax turn the heatmaps into coordinates (crop pixels, pixel centres on
integers) and the peak of each softmax map is the keypoint's confidence.

Two ways to recombine (``decoder``):

- ``"concat"`` (Honari et al., TAO FPENet): upsample the coarser map (nearest, 2x), concatenate it
  with the finer branch, fuse with a 3x3 convolution + BN + ReLU. The 3x3 convolution reads both
  maps at the finer size: the three decoder convolutions are 60 % of the multiply-adds.
- ``"add"``: ReLU(BN(3x3 conv of the finer branch) + upsampled BN(1x1 conv of the coarser map)).
  The coarse map is projected to the finer width at its own size, and only the finer branch is
  convolved at the finer size: the decoder costs a third of the multiply-adds (onnxruntime fuses the
  addition and the ReLU into the convolution).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

__all__ = ["CROP_SIZE", "DECODERS", "RecombinatorNet", "SoftArgmax"]

CROP_SIZE = 80
DECODERS = ("concat", "add")


def _cb(cin: int, cout: int, kernel: int = 3) -> nn.Sequential:
    """Convolution (same padding, no bias) and batch norm."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout))


def _cbr(cin: int, cout: int) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU."""
    return nn.Sequential(*_cb(cin, cout), nn.ReLU(inplace=True))


def _upsample(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


class _ConcatFuse(nn.Sequential):
    """Upsample the coarse map, concatenate the fine one, 3x3 conv + BN + ReLU (the recombinator's
    step). A ``Sequential`` so that its weights keep the names of the first models (``dec1.0.weight``)."""

    def __init__(self, fine: int, coarse: int) -> None:
        super().__init__(*_cbr(coarse + fine, fine))

    def fuse(self, fine: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        return self(torch.cat([_upsample(coarse), fine], dim=1))


class _AddFuse(nn.Module):
    """ReLU(BN(3x3 conv of the fine map) + upsampled BN(1x1 conv of the coarse map))."""

    def __init__(self, fine: int, coarse: int) -> None:
        super().__init__()
        self.fine = _cb(fine, fine)
        self.coarse = _cb(coarse, fine, kernel=1)

    def fuse(self, fine: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        return F.relu(self.fine(fine) + _upsample(self.coarse(coarse)))


class SoftArgmax(nn.Module):
    """Spatial softmax per channel; returns (N, K, 2) expected x, y and (N, K) softmax peaks."""

    def __init__(self, size: int = CROP_SIZE) -> None:
        super().__init__()
        idx = torch.arange(size, dtype=torch.float32)
        # x = sum_p prob_p * column_p, y = sum_p prob_p * row_p (pixel centres on integers).
        self.register_buffer("grid", torch.stack([idx.repeat(size), idx.repeat_interleave(size)], dim=1), persistent=False)

    def forward(self, heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n, k, h, w = heatmaps.shape
        prob = F.softmax(heatmaps.reshape(n, k, h * w), dim=-1)
        coords = torch.matmul(prob, cast(torch.Tensor, self.grid))  # a registered buffer
        conf = prob.amax(dim=-1)
        return coords, conf


class RecombinatorNet(nn.Module):
    """FPENet-style recombinator network for 80x80 gray crops.

    Args:
        num_points: keypoints (heatmaps).
        widths: channels of the 80, 40, 20 and 10 px branches.
        decoder: ``"concat"`` or ``"add"`` (the module docstring).

    ``forward`` takes (N, 1, 80, 80) raw 0-255 crops (normalised inside) and returns
    ``(coords (N, K, 2), confidence (N, K))``; :meth:`heatmaps` gives the logits.
    """

    def __init__(self, num_points: int = 68, widths: Sequence[int] = (16, 32, 64, 64), decoder: str = "concat") -> None:
        super().__init__()
        if len(widths) != 4:
            raise ValueError(f"widths must give 4 branch widths (80, 40, 20, 10 px); got {widths}")
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}; got {decoder!r}")
        c1, c2, c3, c4 = (int(w) for w in widths)
        self.num_points = num_points
        self.widths = (c1, c2, c3, c4)
        self.decoder = decoder
        self.enc1 = nn.Sequential(_cbr(1, c1), _cbr(c1, c1))
        self.enc2 = nn.Sequential(_cbr(c1, c2), _cbr(c2, c2))
        self.enc3 = nn.Sequential(_cbr(c2, c3), _cbr(c3, c3))
        self.enc4 = nn.Sequential(_cbr(c3, c4), _cbr(c4, c4), _cbr(c4, c4))
        fuse = _ConcatFuse if decoder == "concat" else _AddFuse
        self.dec3, self.dec2, self.dec1 = fuse(c3, c4), fuse(c2, c3), fuse(c1, c2)
        self.head = nn.Conv2d(c1, num_points, 1)
        self.softargmax = SoftArgmax(CROP_SIZE)

    def heatmaps(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, 80, 80) raw 0-255 crops -> (N, K, 80, 80) heatmap logits."""
        x = (x - 127.5) * (1.0 / 64.0)
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        e3 = self.enc3(F.max_pool2d(e2, 2))
        e4 = self.enc4(F.max_pool2d(e3, 2))
        d3 = self.dec3.fuse(e3, e4)
        d2 = self.dec2.fuse(e2, d3)
        d1 = self.dec1.fuse(e1, d2)
        return self.head(d1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.softargmax(self.heatmaps(x))
