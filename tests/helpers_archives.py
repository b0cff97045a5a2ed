"""Test data built on the fly from the embedded digits: guide-format archives (good and hostile)
and torchvision's raw IDX files."""
from __future__ import annotations

import gzip
import io
import stat
import struct
import zipfile
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from core.data.embedded import embedded_digits
from core.data.guide_format import fixed_time_entry

TORCHVISION_FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}


@lru_cache(maxsize=1)
def _all_digits() -> tuple[np.ndarray, np.ndarray]:
    images, labels = embedded_digits()
    return images.numpy(), labels.numpy()


def digits(n: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n real digits spread over all classes: uint8 (n, 28, 28), int64 (n,)."""
    images, labels = _all_digits()
    index = (np.arange(n) * 37 + offset) % len(images)  # 37 is coprime to 5,000: all distinct, classes mixed
    return images[index], labels[index]


def encode(pixels: np.ndarray, mode: str = "L", fmt: str = "PNG") -> bytes:
    """A uint8 (h, w) digit as PNG/JPEG bytes in a PIL mode (L, RGB, RGBA)."""
    out = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(out, format=fmt)
    return out.getvalue()


def guide_files(n_train: int = 30, n_test: int = 8, *, root: str = "", folder: str = "Images/{split}/",
                header: str = "filename,label", test_header: str = "filename", mode: str = "L", fmt: str = "PNG",
                list_extension: bool = True, transform=None) -> dict[str, bytes]:
    """{path: bytes} of a guide-format dataset. Test file names are listed in a scrambled order,
    so a submission that sorted them would be caught."""
    ext = ".jpg" if fmt == "JPEG" else ".png"
    train_images, train_labels = digits(n_train)
    test_images, _ = digits(n_test, offset=n_train)
    listed = (lambda i: f"{i}{ext}") if list_extension else str
    files = {}
    rows = [header] if header else []
    for i, (pixels, label) in enumerate(zip(train_images, train_labels)):
        rows.append(f"{listed(i)},{label}")
        files[root + folder.format(split="train") + f"{i}{ext}"] = encode(transform(pixels) if transform else pixels,
                                                                          mode, fmt)
    files[root + "train.csv"] = ("\n".join(rows) + "\n").encode()
    ids = [5000 + i for i in range(n_test)]
    test_ids = ids[1::2] + ids[0::2]  # listed out of order on purpose
    for i, pixels in zip(ids, test_images):
        files[root + folder.format(split="test") + f"{i}{ext}"] = encode(transform(pixels) if transform else pixels,
                                                                         mode, fmt)
    files[root + "test.csv"] = ("\n".join([test_header] + [listed(i) for i in test_ids]) + "\n").encode()
    return files


def zip_bytes(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """The same files always give the same bytes (fixed timestamps), so two calls hash alike."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            info = fixed_time_entry(name)  # names are kept as given, even "../x" or "/x"
            info.compress_type = compression
            archive.writestr(info, data)
    return out.getvalue()


def zip_with_entry(files: dict[str, bytes], info: zipfile.ZipInfo, data: bytes) -> bytes:
    """A good archive plus one hand-made entry (symlink, flagged encrypted, ...)."""
    out = io.BytesIO(zip_bytes(files))
    with zipfile.ZipFile(out, "a") as archive:
        archive.writestr(info, data)
    return out.getvalue()


def symlink_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # unix
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    pixels = chunk(b"IDAT", zlib.compress(b"\0" * 64))  # far fewer than the header promises
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + pixels + chunk(b"IEND", b"")


def corrupt_member(archive: bytes, name: str) -> bytes:
    """Flip bytes inside one member's compressed data, so reading it fails its CRC check."""
    info = zipfile.ZipFile(io.BytesIO(archive)).getinfo(name)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data = bytearray(archive)
    for i in range(start + 2, start + min(info.compress_size, 12)):
        data[i] ^= 0xFF
    return bytes(data)


def mark_encrypted(archive: bytes, name: str) -> bytes:
    """Set the 'encrypted' flag of one entry (zipfile cannot write encrypted entries itself)."""
    data = bytearray(archive)
    info = zipfile.ZipFile(io.BytesIO(archive)).getinfo(name)
    data[info.header_offset + 6] |= 0x1  # local file header: general purpose flags at offset 6
    central = data.find(b"PK\x01\x02" + bytes(data[info.header_offset + 4:info.header_offset + 6]))
    while data[central + 46:central + 46 + len(name)] != name.encode():  # central record: name at offset 46
        central = data.find(b"PK\x01\x02", central + 4)
    data[central + 8] |= 0x1  # central directory: flags at offset 8
    return bytes(data)


def write_idx(folder: Path, images: np.ndarray, labels: np.ndarray, prefix: str, packed: bool = False) -> None:
    """torchvision's raw files: <prefix>-images-idx3-ubyte and <prefix>-labels-idx1-ubyte (big-endian IDX)."""
    folder.mkdir(parents=True, exist_ok=True)
    image_bytes = struct.pack(">IIII", 0x0803, len(images), 28, 28) + images.astype(np.uint8).tobytes()
    label_bytes = struct.pack(">II", 0x0801, len(labels)) + labels.astype(np.uint8).tobytes()
    for name, data in ((f"{prefix}-images-idx3-ubyte", image_bytes), (f"{prefix}-labels-idx1-ubyte", label_bytes)):
        if packed:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)


def place_torchvision(data_dir: Path, name: str, n_train: int = 40, n_test: int = 15, packed: bool = False) -> Path:
    """Put tiny IDX files where torchvision looks: <data_dir>/<Class>/raw/."""
    raw = data_dir / TORCHVISION_FOLDERS[name] / "raw"
    images, labels = digits(n_train + n_test)
    write_idx(raw, images[:n_train], labels[:n_train], "train", packed)
    write_idx(raw, images[n_train:], labels[n_train:], "t10k", packed)
    return raw


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []

