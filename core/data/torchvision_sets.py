"""torchvision's MNIST family (MNIST, Fashion-MNIST, KMNIST) from files in the data folder.

Loading never touches the network; ``download_torchvision`` does, and only when called.
"""
from __future__ import annotations

import gzip
import hashlib
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import torch

from core.data.digits import DIGIT_CLASSES, DigitData, Progress, stratified_split
from core.data.safe_zip import DatasetError, format_bytes
from core.files import write_bytes_atomic

# name -> (torchvision class, title for people, download size)
TORCHVISION_SETS = {
    "mnist": ("MNIST", "MNIST", "11 MB"),
    "fashion-mnist": ("FashionMNIST", "Fashion-MNIST", "30 MB"),
    "kmnist": ("KMNIST", "Kuzushiji-MNIST", "20 MB"),
}
RAW_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


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
                write_bytes_atomic(target, gzip.decompress(packed.read_bytes()))
            except (OSError, EOFError) as error:
                raise DatasetError(f"{packed} is not a valid .gz file ({error}). Replace it.") from None


def read_torchvision(name: str, data_dir: Path) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor,
                                                           tuple[str, ...]]:
    """(train images, train labels, test images, test labels, class names) through torchvision, no download."""
    from torchvision import datasets  # noqa: PLC0415 - a slow import, only for these datasets

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
    from torchvision import datasets  # noqa: PLC0415

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
        write_bytes_atomic(target, gzip.decompress(packed))
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


def list_torchvision(data_dir: Path, include_absent: bool = False) -> list[tuple[str, str]]:
    """(name, label) of each set whose files are present (and, on request, of the absent ones)."""
    found = []
    for name, (_, title, size) in TORCHVISION_SETS.items():
        if torchvision_present(name, data_dir):
            found.append((name, f"{title} (70,000 images)"))
        elif include_absent:
            found.append((name, f"{title} (not downloaded, {size})"))
    return found
