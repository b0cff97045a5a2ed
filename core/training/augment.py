"""Data augmentation on the training device: random small affine moves of whole batches."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def augment_batch(x: torch.Tensor, randoms: torch.Tensor) -> torch.Tensor:
    """Random shift (±2 px), rotation (±10°) and scale (±10 %) per digit.

    x is (B, 1, 28, 28); randoms is (3, B) uniform in [0, 1) on x's device, drawn by the caller
    so that every process of a distributed run consumes its generator identically.
    """
    angle, scale, shift = randoms * 2 - 1
    angle, scale, shift_y = angle * math.pi / 18, 1 + 0.1 * scale, torch.roll(shift, 1) * 2 / 14
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift * 2 / 14], 1), torch.stack([sin, cos, shift_y], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    background = x.amin()  # normalised black, so shifted-in pixels look like MNIST's background
    return F.grid_sample(x - background, grid, align_corners=False) + background
