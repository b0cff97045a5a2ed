"""What the Data page shows about a dataset: class balance, pixel statistics, samples, means."""
from __future__ import annotations

import numpy as np
import torch

from core.data.digits import DigitData


def class_counts(data: DigitData) -> dict[str, list[int]]:
    """Split name -> images per class."""
    n_classes = len(data.classes)
    return {split: torch.bincount(data.labels[index], minlength=n_classes).tolist()
            for split, index in data.splits.items()}


def pixel_statistics(data: DigitData) -> list[dict[str, float | str | int]]:
    """Per split: size, mean and std of pixels on [0, 1], share of pure-black pixels."""
    rows = []
    for split, index in data.splits.items():
        pixels = data.images[index].to(torch.float32) / 255.0
        black = (pixels == 0).float().mean().item()
        rows.append({"split": split, "images": len(index), "mean": round(pixels.mean().item(), 4),
                     "std": round(pixels.std().item(), 4), "black pixels": f"{black:.0%}"})
    return rows


def class_samples(images: torch.Tensor, labels: torch.Tensor, per_class: int, n_classes: int = 10) -> torch.Tensor:
    """uint8 (n_classes * per_class, 28, 28): the first images of each class, black where a class runs out."""
    out = torch.zeros((n_classes, per_class, 28, 28), dtype=torch.uint8)
    for label in range(n_classes):
        members = images[labels == label][:per_class]
        out[label, :len(members)] = members
    return out.flatten(0, 1)


def tile(images: torch.Tensor, columns: int, scale: int = 3) -> np.ndarray:
    """uint8 (n, 28, 28) -> one uint8 picture, ``columns`` digits a row, each enlarged ``scale``
    times by repeating pixels (nearest neighbour, so digits stay crisp) with 1-pixel grey gaps."""
    rows, cell = -(-len(images) // columns), 28 * scale + 1
    picture = np.full((rows * cell - 1, columns * cell - 1), 60, dtype=np.uint8)
    for i, image in enumerate(images.numpy()):
        top, left = (i // columns) * cell, (i % columns) * cell
        picture[top:top + 28 * scale, left:left + 28 * scale] = image.repeat(scale, 0).repeat(scale, 1)
    return picture


def pixel_histogram(images: torch.Tensor, max_images: int = 10_000) -> list[int]:
    """How many pixels take each value 0..255, over the first ``max_images`` images (bounded memory)."""
    return torch.bincount(images[:max_images].flatten().to(torch.int64), minlength=256).tolist()


def mean_images(images: torch.Tensor, labels: torch.Tensor, n_classes: int = 10) -> torch.Tensor:
    """uint8 (n_classes, 28, 28): the average digit of each class (black where a class is absent)."""
    means = torch.zeros((n_classes, 28, 28))
    for label in range(n_classes):
        members = images[labels == label]
        if len(members):
            means[label] = members.to(torch.float32).mean(0)
    return means.round().to(torch.uint8)
