"""Read a zip archive or a folder safely, in memory, never extracting anything.

An uploaded archive is untrusted. Every entry is checked before any is read: a path that
leaves the archive (``../x``, ``/etc/x``), a symbolic link, too many entries, too many bytes
once unpacked, or a compression ratio only a zip bomb has. Members are then read one at a
time into memory; nothing is written to disk.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MB = 1024 * 1024
MAX_ARCHIVE_BYTES = 50 * MB  # as .streamlit/config.toml server.maxUploadSize; also guards the CLI path


class DatasetError(ValueError):
    """A dataset the user supplied is unusable; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps on what an archive may ask of the server. Defaults fit the guide's 70,000 PNGs easily."""

    max_archive_bytes: int = MAX_ARCHIVE_BYTES
    max_entries: int = 200_000  # the guide's zip has ~70,000
    max_total_bytes: int = 512 * MB  # unpacked; the guide's unpacks to ~40 MB
    max_member_bytes: int = 64 * MB  # one file (the largest real one is a CSV of ~1 MB)
    max_ratio: int = 100  # unpacked / packed of one entry; PNGs barely compress, bombs do >1000
    ratio_floor_bytes: int = 1 * MB  # entries smaller than this are never a bomb, whatever their ratio


DEFAULT_LIMITS = ArchiveLimits()


def format_bytes(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB else f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} bytes"


@dataclass
class Archive:
    """Files of a checked archive or folder: posix relative path -> size, and a reader."""

    label: str  # what the user called it (file or folder name)
    digest: str  # sha256 of the content: the cache key
    sizes: dict[str, int]
    _read: Callable[[str], bytes]

    def read(self, name: str) -> bytes:
        return self._read(name)


def check_archive_size(n_bytes: int, label: str, limits: ArchiveLimits) -> None:
    if n_bytes > limits.max_archive_bytes:
        raise DatasetError(f"{label} is {format_bytes(n_bytes)}; the limit is "
                           f"{format_bytes(limits.max_archive_bytes)}. Use fewer or smaller images.")


def safe_member_name(raw: str, label: str) -> str:
    """Normalise an entry name to a relative posix path, or refuse it."""
    name = raw.replace("\\", "/")
    path = PurePosixPath(name)
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        raise DatasetError(f"Refused {label}: entry {raw!r} is an absolute path. "
                           "Re-create the archive with paths relative to its top folder.")
    if ".." in path.parts:
        raise DatasetError(f"Refused {label}: entry {raw!r} points outside the archive (it contains '..'). "
                           "Re-create the archive with plain relative paths.")
    return str(path)


def check_zip_entry(info: zipfile.ZipInfo, label: str, limits: ArchiveLimits) -> None:
    """Refuse links, encrypted entries, oversize entries and compression bombs."""
    if stat.S_ISLNK(info.external_attr >> 16):
        raise DatasetError(f"Refused {label}: entry {info.filename!r} is a symbolic link; "
                           "links are not allowed. Put the real files in the archive.")
    if info.flag_bits & 0x1:
        raise DatasetError(f"Refused {label}: entry {info.filename!r} is password-protected. "
                           "Re-create the archive without a password.")
    if info.file_size > limits.max_member_bytes:
        raise DatasetError(f"Refused {label}: entry {info.filename!r} unpacks to {format_bytes(info.file_size)}; "
                           f"the limit for one file is {format_bytes(limits.max_member_bytes)}.")
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size >= limits.ratio_floor_bytes and ratio > limits.max_ratio:
        raise DatasetError(f"Refused {label}: entry {info.filename!r} is compressed {ratio:,.0f}:1, over the "
                           f"limit of {limits.max_ratio}:1 (this is how zip bombs look). Digit images do not "
                           "compress like that; check the archive.")


def open_zip(data: bytes, label: str, limits: ArchiveLimits = DEFAULT_LIMITS) -> Archive:
    """Check every entry of a zip held in memory; return an Archive that reads members on demand."""
    check_archive_size(len(data), label, limits)
    if not data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise DatasetError(f"{label} is not a zip archive. Upload a .zip holding train.csv, test.csv and "
                           "the images (Images/train/, Images/test/).")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as error:
        raise DatasetError(f"{label} is a damaged zip archive ({error}). Re-create or re-download it.") from None
    if len(infos) > limits.max_entries:
        raise DatasetError(f"Refused {label}: it has {len(infos):,} entries; the limit is {limits.max_entries:,}.")
    sizes: dict[str, int] = {}
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = safe_member_name(info.filename, label)
        check_zip_entry(info, label, limits)
        if info.is_dir():
            continue
        if name in sizes:
            raise DatasetError(f"Refused {label}: entry {name!r} appears twice. Re-create the archive.")
        sizes[name], members[name] = info.file_size, info
    check_total(sum(sizes.values()), label, limits)
    digest = hashlib.sha256(data).hexdigest()
    return Archive(label, digest, sizes, lambda name: read_zip_member(archive, members[name], label))


def read_zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> bytes:
    """One member's bytes; zipfile stops at the declared size and checks the CRC."""
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError) as error:
        raise DatasetError(f"{label} is a damaged zip archive: entry {info.filename!r} cannot be read ({error}). "
                           "Re-create or re-download it.") from None


def check_total(total: int, label: str, limits: ArchiveLimits) -> None:
    if total > limits.max_total_bytes:
        raise DatasetError(f"Refused {label}: it unpacks to {format_bytes(total)}; the limit is "
                           f"{format_bytes(limits.max_total_bytes)}.")


def open_folder(folder: Path, limits: ArchiveLimits = DEFAULT_LIMITS) -> Archive:
    """The files under an unpacked folder, with the same checks as a zip; symlinks are refused."""
    folder = Path(folder)
    label = folder.name or str(folder)
    sizes: dict[str, int] = {}
    for root, dirs, files in os.walk(folder, followlinks=False):
        for entry in sorted(dirs + files):
            path = Path(root, entry)
            if path.is_symlink():
                raise DatasetError(f"Refused {label}: {path.relative_to(folder)} is a symbolic link; "
                                   "links are not allowed. Put the real files in the folder.")
            if entry in files:
                name, size = path.relative_to(folder).as_posix(), path.stat().st_size
                if size > limits.max_member_bytes:
                    raise DatasetError(f"Refused {label}: {name} is {format_bytes(size)}; the limit for one "
                                       f"file is {format_bytes(limits.max_member_bytes)}.")
                sizes[name] = size
        if len(sizes) > limits.max_entries:
            raise DatasetError(f"Refused {label}: it has more than {limits.max_entries:,} files.")
    check_total(sum(sizes.values()), label, limits)
    digest = hashlib.sha256()
    for name in sorted(sizes):  # content hash: the same files give the same cache entry
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256((folder / name).read_bytes()).digest())
    return Archive(label, digest.hexdigest(), sizes, lambda name: (folder / name).read_bytes())


def open_path(path: Path, limits: ArchiveLimits = DEFAULT_LIMITS) -> Archive:
    """A zip file or an unpacked folder on disk (the CLI's --dataset PATH)."""
    path = Path(path)
    if path.is_dir():
        return open_folder(path, limits)
    if not path.is_file():
        raise DatasetError(f"{path} does not exist. Give a guide-format .zip or folder, or one of the "
                           "dataset names (embedded, mnist, fashion-mnist, kmnist).")
    check_archive_size(path.stat().st_size, path.name, limits)  # before reading a byte
    return open_zip(path.read_bytes(), path.name, limits)
