"""The in-memory form every digit source becomes, and batching it by index.

A :class:`DigitData` holds uint8 images (N, 28, 28), int64 labels (N,) and index tensors for
the train / val / test splits. Keeping uint8 tensors in memory and slicing them by index is
~13x faster than a per-sample PIL + ToTensor Dataset on a small CPU (see benchmarks/RESULTS.md).
"""
from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

# MNIST's pixel mean and standard deviation on [0, 1]; used for every source so a
# checkpoint trained on one source can be evaluated on another.
MEAN, STD = 0.1307, 0.3081
IMAGE_SIZE = 28
TEST_FRACTION = 0.2  # of the labelled digits; fixed so test accuracy is comparable across runs
SPLIT_SEED = 0  # splits never depend on the training seed
EMBEDDED = "embedded"
DATA_DIR_ENV = "DIGITLAB_DATA_DIR"
DIGIT_CLASSES = tuple(str(d) for d in range(10))
Progress = Callable[[float, str], None]  # (fraction done in [0, 1], what is happening): long imports report it


@dataclass(frozen=True)
class DigitData:
    """Images, labels and split indices of one dataset, all on the CPU."""

    name: str
    images: torch.Tensor  # uint8 (N, 28, 28), 0 = background
    labels: torch.Tensor  # int64 (N,)
    splits: dict[str, torch.Tensor]  # "train" / "val" / "test" -> int64 indices into images
    classes: tuple[str, ...] = DIGIT_CLASSES
    # Unlabelled images to predict (the guide's test.csv), with their file names.
    predict_images: torch.Tensor | None = None
    predict_names: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())  # warnings worth showing a user (e.g. resized images)

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(images uint8 (n, 28, 28), labels int64 (n,)) of one split."""
        if name not in self.splits:
            raise ValueError(f"split must be one of {sorted(self.splits)}, got {name!r}")
        index = self.splits[name]
        return self.images[index], self.labels[index]

    def sizes(self) -> dict[str, int]:
        return {name: int(index.numel()) for name, index in self.splits.items()}


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 28, 28) -> float32 (B, 1, 28, 28), standardised like MNIST: (x/255 - MEAN) / STD.

    One kernel, offset + scale·x, that reads uint8 and writes float32 (the float 0-dim offset
    sets the result type): it runs once per training step, where the MLP's whole step is
    under a millisecond: 25 us for a batch of 128 here, against 38 us for a conversion
    followed by two in-place ops.
    """
    return torch.add(normalize_offset(images.device), images, alpha=1.0 / (255.0 * STD)).unsqueeze(1)


@functools.cache
def normalize_offset(device: torch.device) -> torch.Tensor:
    """-MEAN/STD as a 0-dim float32 tensor, made once per device (no per-step host-to-device copy)."""
    return torch.tensor(-MEAN / STD, dtype=torch.float32, device=device)


def stratified_split(labels: torch.Tensor, val_fraction: float, test_fraction: float = TEST_FRACTION,
                     seed: int = SPLIT_SEED) -> dict[str, torch.Tensor]:
    """Split indices per class so each split keeps the class balance; deterministic in ``seed``.

    The test split depends only on ``test_fraction`` and ``seed``, never on ``val_fraction``,
    so runs with different validation fractions are scored on the same test digits.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    generator = torch.Generator().manual_seed(seed)
    parts: dict[str, list[torch.Tensor]] = {"train": [], "val": [], "test": []}
    for label in torch.unique(labels).tolist():
        members = torch.nonzero(labels == label).flatten()
        members = members[torch.randperm(members.numel(), generator=generator)]
        n_test = int(round(members.numel() * test_fraction))
        rest = members[n_test:]
        n_val = int(round(rest.numel() * val_fraction))
        parts["test"].append(members[:n_test])
        parts["val"].append(rest[:n_val])
        parts["train"].append(rest[n_val:])
    return {name: torch.sort(torch.cat(chunks))[0] for name, chunks in parts.items()}


def default_data_dir() -> Path:
    """``$DIGITLAB_DATA_DIR``, else ./data: downloaded datasets and decoded caches live here."""
    return Path(os.environ.get(DATA_DIR_ENV) or "data")


def from_arrays(name: str, images: torch.Tensor, labels: torch.Tensor, val_fraction: float,
                test_fraction: float = TEST_FRACTION, **extra) -> DigitData:
    """Wrap labelled uint8 images into a DigitData with a stratified split."""
    splits = stratified_split(labels, val_fraction, test_fraction)
    return DigitData(name=name, images=images, labels=labels, splits=splits, **extra)


def batches(n: int, batch_size: int, sampling: str, generator: torch.Generator) -> list[torch.Tensor]:
    """Index batches for one epoch.

    ``shuffle``: a fresh permutation walked in chunks, so every sample is seen once.
    ``replacement``: the guide's way, each batch drawn at random with replacement, so an
    epoch sees only about 1 - 1/e = 63 % of the distinct samples.
    """
    if sampling == "shuffle":
        return list(torch.randperm(n, generator=generator).split(batch_size))
    if sampling == "replacement":
        return list(torch.randint(0, n, (n,), generator=generator).split(batch_size))
    raise ValueError(f"sampling must be 'shuffle' or 'replacement', got {sampling!r}")
