"""The numbers recorded about a network's insides, as pure tensor functions: no hooks, no files.

Each runs on the tensors' own device and returns tensors there, so a recorder can do its work on
a GPU and copy the results to the host once per epoch; only :func:`project_2d` hands its small
d×d (or n×n) matrix to the CPU to decompose.
"""
from __future__ import annotations

import torch

HIST_BINS = 64
QUANT_LEVELS = 127  # first-layer images as uint8: 128 + round(127 * value / max |value|)


def histogram(values: torch.Tensor, bins: int = HIST_BINS) -> tuple[torch.Tensor, torch.Tensor]:
    """(counts int64 (bins,), edges float32 (bins + 1,)) of a flat tensor, equal-width bins over [min, max].

    As ``numpy.histogram``: each bin holds [left, right), the last one also its right edge. Unlike
    ``torch.histc`` it takes its range as tensors, so on a GPU nothing waits for the host. A constant
    tensor puts every value in the first bin, with all edges equal to that value.
    """
    values = values.detach().reshape(-1).float()
    low, high = torch.aminmax(values)
    span = high - low
    scale = bins / span.clamp_min(torch.finfo(torch.float32).tiny)
    index = ((values - low) * scale).long().clamp_(0, bins - 1)
    if not index.is_cpu:  # on a GPU bincount sizes its output on the host (a sync); index_add_ does not
        counts = torch.zeros(bins, dtype=torch.int64, device=index.device)
        counts.index_add_(0, index, torch.ones((), dtype=torch.int64, device=index.device).expand_as(index))
    else:  # several times faster than index_add_ on a CPU
        counts = torch.bincount(index, minlength=bins)
    edges = low + span * torch.linspace(0, 1, bins + 1, device=values.device)
    return counts, edges


def dead_fraction(activations: torch.Tensor) -> torch.Tensor:
    """Fraction of units (dim 1: features or channels) that are zero for every input and position; 0-dim."""
    other = [d for d in range(activations.dim()) if d != 1]
    alive = activations.amax(dim=other) > 0  # (units,)
    return 1.0 - alive.float().mean()


def project_2d(features: torch.Tensor, previous: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Principal-component map of ``features`` (n, d): (coordinates float32 (n, 2), variance fraction (2,)).

    The axes are the two largest principal components: the eigenvectors of the smaller of the
    d×d covariance and the n×n Gram matrix, decomposed in float64 on the CPU (any device can, MPS
    has no float64): milliseconds for d = 50, well under a second for d = 4096 and n = 1000, where
    a full SVD of the features takes seconds. An axis's sign is
    arbitrary, so each one is flipped to agree with ``previous`` (last epoch's coordinates of the
    same inputs) and the picture does not mirror from epoch to epoch; with no ``previous``, the
    point farthest along an axis is put on its positive side. Fewer than two dimensions leave
    the missing axis at 0.
    """
    n, d = features.shape
    centered = features.float() - features.float().mean(dim=0)
    k = min(2, n, d)
    if d <= n:
        values, vectors = torch.linalg.eigh((centered.T @ centered).cpu().double())  # ascending eigenvalues
        axes = vectors[:, -k:].flip(1).to(centered)  # (d, k), largest first
        coordinates = centered @ axes
    else:
        values, vectors = torch.linalg.eigh((centered @ centered.T).cpu().double())
        coordinates = (vectors[:, -k:].flip(1) * values[-k:].flip(0).clamp_min(0).sqrt()).to(centered)
    total = values.clamp_min(0).sum()
    variance = (values[-k:].flip(0).clamp_min(0) / total.clamp_min(torch.finfo(torch.float64).tiny)).to(centered)
    if k < 2:
        coordinates = torch.cat([coordinates, coordinates.new_zeros(n, 2 - k)], dim=1)
        variance = torch.cat([variance, variance.new_zeros(2 - k)])
    if previous is not None:
        agreement = (coordinates * previous.to(coordinates)).sum(dim=0)
    else:
        agreement = coordinates.gather(0, coordinates.abs().argmax(dim=0, keepdim=True)).squeeze(0)
    return coordinates * torch.where(agreement < 0, -1.0, 1.0), variance


def quantize(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 images, float32 scale per image) of float images (U, h, w): see :func:`dequantize`."""
    scale = images.detach().abs().amax(dim=(1, 2)).float()
    safe = scale.clamp_min(torch.finfo(torch.float32).tiny)[:, None, None]
    levels = torch.round(images.detach().float() / safe * QUANT_LEVELS) + 128
    return levels.clamp_(0, 255).to(torch.uint8), scale


def dequantize(levels: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Float images (..., U, h, w) back from :func:`quantize`'s uint8 levels and per-image scale (..., U)."""
    return (levels.float() - 128) / QUANT_LEVELS * scale[..., None, None].float()
