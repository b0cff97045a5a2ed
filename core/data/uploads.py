"""Guide-format archives a user imported: decoded once, cached by content hash, listed, deleted.

An import is named ``upload:<first 12 hex of its sha256>`` and cached as
``<data_dir>/cache/<sha256>.pt`` (plain tensors and lists, loaded with ``weights_only=True``).
A zip or unpacked folder given by path (the CLI's ``--dataset PATH``) is cached the same way.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import torch

from core.data.digits import DigitData, Progress, from_arrays
from core.data.guide_format import GuideDigits, read_guide
from core.data.safe_zip import DEFAULT_LIMITS, ArchiveLimits, DatasetError, check_archive_size, open_path, open_zip
from core.files import write_atomic

UPLOAD_PREFIX = "upload:"
CACHE_VERSION = 1  # bump when decoding changes, so old caches are rebuilt rather than trusted


def cache_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "cache"


def cache_path(digest: str, data_dir: Path) -> Path:
    return cache_dir(data_dir) / f"{digest}.pt"


def upload_name(digest: str) -> str:
    return f"{UPLOAD_PREFIX}{digest[:12]}"


def import_archive(data: bytes, filename: str, data_dir: Path, progress: Progress | None = None,
                   limits: ArchiveLimits = DEFAULT_LIMITS) -> str:
    """Check, decode and cache an uploaded zip; returns its dataset name (``upload:<hash>``).

    A second import of the same bytes finds the cache and decodes nothing. On any problem a
    DatasetError says what, and nothing has been written.
    """
    check_archive_size(len(data), filename, limits)  # before hashing or parsing anything
    digest = hashlib.sha256(data).hexdigest()
    if not cached(digest, data_dir):
        save_cache(read_guide(open_zip(data, filename, limits), progress), digest, data_dir)
    return upload_name(digest)


def import_path(path: Path, data_dir: Path, progress: Progress | None = None,
                limits: ArchiveLimits = DEFAULT_LIMITS) -> str:
    """The same for a zip file or an unpacked folder on disk (the CLI's ``--dataset PATH``)."""
    archive = open_path(path, limits)
    if not cached(archive.digest, data_dir):
        save_cache(read_guide(archive, progress), archive.digest, data_dir)
    return upload_name(archive.digest)


def cached(digest: str, data_dir: Path) -> bool:
    """A usable cache entry exists (a damaged or outdated one is rebuilt)."""
    path = cache_path(digest, data_dir)
    try:
        return path.is_file() and read_cache_file(path, mmap=True).get("version") == CACHE_VERSION
    except DatasetError:
        return False


def save_cache(digits: GuideDigits, digest: str, data_dir: Path) -> Path:
    """torch.save to a temporary file, then rename: readers never see a half-written cache."""
    payload = {"version": CACHE_VERSION, "source": digits.source, "images": digits.images,
               "labels": digits.labels, "predict_images": digits.predict_images,
               "predict_names": list(digits.predict_names), "notes": list(digits.notes)}
    cache_dir(data_dir).mkdir(parents=True, exist_ok=True)
    write_atomic(cache_path(digest, data_dir), lambda temporary: torch.save(payload, temporary))
    return cache_path(digest, data_dir)


def read_cache_file(path: Path, mmap: bool = False) -> dict:
    """A cache payload; ``mmap`` reads only what is touched (listing names costs nothing)."""
    try:
        payload = torch.load(path, weights_only=True, mmap=mmap)
    except Exception as error:  # damaged file: torch raises several types
        raise DatasetError(f"The cache file {path} is damaged ({type(error).__name__}). "
                           "Delete it and import the archive again.") from None
    if not isinstance(payload, dict) or "images" not in payload:
        raise DatasetError(f"{path} is not a Digit Lab cache file. Delete it and import the archive again.")
    return payload


def cache_entries(name: str, data_dir: Path) -> list[Path]:
    """The ``<sha256>.pt`` files listed as ``upload:<12 hex>`` (normally one); none for any other name."""
    prefix = name.removeprefix(UPLOAD_PREFIX) if name.startswith(UPLOAD_PREFIX) else ""
    if not re.fullmatch(r"[0-9a-f]{12}", prefix):  # also keeps crafted names inside the cache folder
        return []
    return sorted(path for path in cache_dir(data_dir).glob(f"{prefix}*.pt")
                  if re.fullmatch(r"[0-9a-f]{64}", path.stem))


def find_cache(name: str, data_dir: Path) -> Path:
    """The cache file of ``upload:<12 hex>``."""
    matches = cache_entries(name, data_dir)
    if not matches:
        raise DatasetError(f"No cached upload called {name!r} in {cache_dir(data_dir)}. "
                           "Upload the archive again on the Data page (or pass its path).")
    return matches[0]


def delete_upload(name: str, data_dir: Path) -> None:
    """Remove the cache file of ``upload:<12 hex>``; runs trained on it stay in the run store.

    Only ``<sha256>.pt`` files directly in ``<data_dir>/cache`` are removed; any other name is
    refused with a DatasetError, and nothing is touched.
    """
    if not name.startswith(UPLOAD_PREFIX):
        raise DatasetError(f"{name!r} is not an uploaded dataset, so it cannot be deleted here: only uploads "
                           f"({UPLOAD_PREFIX}…) can. Pick an upload on the Data page.")
    paths = [path for path in cache_entries(name, data_dir) if not path.is_dir()]
    if not paths:
        raise DatasetError(f"No uploaded dataset called {name!r} in {cache_dir(data_dir)}, so there is nothing "
                           "to delete (it may have been deleted already). Pick one the Data page lists.")
    for path in paths:  # list_datasets lists each under this name
        path.unlink(missing_ok=True)  # another session may have deleted it a moment ago


def load_cached(name: str, data_dir: Path) -> dict:
    payload = read_cache_file(find_cache(name, data_dir))
    if payload.get("version") != CACHE_VERSION:
        raise DatasetError(f"The cache of {name} was written by an older Digit Lab. Import the archive again.")
    return payload


def digit_data(name: str, payload: dict, val_fraction: float) -> DigitData:
    return from_arrays(name, payload["images"], payload["labels"], val_fraction,
                       predict_images=payload["predict_images"], predict_names=tuple(payload["predict_names"]),
                       notes=tuple(payload["notes"]))


def load_upload(name: str, val_fraction: float, data_dir: Path) -> DigitData:
    return digit_data(name, load_cached(name, data_dir), val_fraction)


def load_archive_path(path: Path, val_fraction: float, data_dir: Path) -> DigitData:
    """A guide-format zip or folder on disk, imported (once) and loaded."""
    name = import_path(path, data_dir)
    return digit_data(name, load_cached(name, data_dir), val_fraction)


def list_uploads(data_dir: Path) -> list[tuple[str, str]]:
    """(name, label) of every usable upload, newest first; a damaged entry is reported when loaded."""
    found = []
    uploads = sorted(cache_dir(data_dir).glob("*.pt"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in uploads:
        if not re.fullmatch(r"[0-9a-f]{64}", path.stem):
            continue
        try:
            payload = read_cache_file(path, mmap=True)
        except DatasetError:
            continue
        count = len(payload["labels"]) + len(payload["predict_images"])
        found.append((upload_name(path.stem), f"{payload['source']} (upload, {count:,} images)"))
    return found
