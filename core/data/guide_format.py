"""The guide's "Identify the Digits" format: train.csv + test.csv + PNGs, from a checked Archive.

Layout (as the case study ships it, header and folder names vary in the wild)::

    train.csv            filename,label      0.png,4
    test.csv             filename            49000.png
    Images/train/0.png   (or train/0.png, or next to the CSV)
    Images/test/49000.png

Every image is decoded once with PIL into uint8 (28, 28), light digit on dark like MNIST.
Problems are collected over all rows and reported together, so one message says how many
rows are bad and shows the first few.
"""
from __future__ import annotations

import csv
import io
import struct
import time
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from core.data.digits import IMAGE_SIZE, Progress
from core.data.safe_zip import DEFAULT_LIMITS, Archive, ArchiveLimits, DatasetError, open_zip

NAME_COLUMNS = ("filename", "file_name", "file", "fname", "image", "image_name", "image_id", "img",
                "id", "name", "path")
LABEL_COLUMNS = ("label", "labels", "class", "digit", "target", "y")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
# Where images may sit, relative to the CSV's folder; "{split}" is train or test.
IMAGE_FOLDERS = ("Images/{split}/", "images/{split}/", "{split}/", "Images/", "images/", "")
MAX_SIDE = 1024  # pixels; a scanned digit is rarely bigger, and this bounds decoding memory (4 MB)
MAX_ASPECT = 2.0  # long side / short side; digits are roughly square
MIN_LABELLED = 10  # fewer cannot fill train, validation and test splits
SHOW_FIRST = 5  # how many offending rows a message lists


@dataclass(frozen=True)
class GuideDigits:
    """What an archive decodes to; cached as plain tensors and lists."""

    source: str  # the archive's name, for people
    images: torch.Tensor  # uint8 (N, 28, 28), labelled (train.csv)
    labels: torch.Tensor  # int64 (N,)
    predict_images: torch.Tensor  # uint8 (M, 28, 28), unlabelled (test.csv); M may be 0
    predict_names: tuple[str, ...]  # test.csv's file names, in its order
    notes: tuple[str, ...]


class BadImage(Exception):
    """One image that cannot be used; collected, then reported with the others."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind  # "unreadable" or "shape"


def first_few(items: list[str]) -> str:
    shown = ", ".join(items[:SHOW_FIRST])
    return shown + (f" and {len(items) - SHOW_FIRST:,} more" if len(items) > SHOW_FIRST else "")


def find_csv(archive: Archive, filename: str) -> str | None:
    """The shallowest member called ``filename`` (any case), ignoring macOS metadata."""
    found = [name for name in archive.sizes
             if PurePosixPath(name).name.lower() == filename and "__MACOSX" not in name
             and not PurePosixPath(name).name.startswith("._")]
    return min(found, key=lambda name: (name.count("/"), name)) if found else None


def pick_column(header: list[str], choices: tuple[str, ...]) -> int | None:
    lowered = [cell.strip().lower() for cell in header]
    return next((lowered.index(choice) for choice in choices if choice in lowered), None)


def read_csv_rows(archive: Archive, path: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every non-empty row, header included."""
    csv_name = PurePosixPath(path).name
    try:
        text = archive.read(path).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError(f"{csv_name} is not UTF-8 text. Save it as a plain UTF-8 CSV.") from None
    try:
        reader = csv.reader(io.StringIO(text))
        return [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as error:
        raise DatasetError(f"{csv_name} is not a readable CSV ({error}).") from None


def parse_table(rows: list[tuple[int, list[str]]], csv_name: str,
                need_label: bool) -> tuple[list[int], list[str], list[str] | None]:
    """Column choice, header or not: -> (line numbers, file names, label cells or None)."""
    if not rows:
        raise DatasetError(f"{csv_name} is empty. It needs a header row (filename,label) and one row per image.")
    header = rows[0][1]
    name_col, label_col = pick_column(header, NAME_COLUMNS), pick_column(header, LABEL_COLUMNS)
    if name_col is None and header[0].strip().lower().endswith(IMAGE_EXTENSIONS):  # no header row
        name_col, label_col, body = 0, (1 if len(header) > 1 else None), rows
    else:
        body = rows[1:]
    if name_col is None or (need_label and label_col is None):
        wanted = "a file-name column (filename, id or image)" + (" and a label column (label)" if need_label else "")
        found = ", ".join(repr(cell) for cell in header)
        raise DatasetError(f"{csv_name} needs {wanted}; its columns are {found}. "
                           f"Make the first row {'filename,label' if need_label else 'filename'}.")
    if not body:
        raise DatasetError(f"{csv_name} has a header but no rows. List one image per row.")
    needed = max(name_col, label_col if need_label else 0) + 1
    short = [f"row {line}" for line, cells in body if len(cells) < needed]
    if short:
        raise DatasetError(f"{csv_name} has rows with fewer than {needed} cells ({len(short)}): {first_few(short)}. "
                           "Every row needs a file name and, in train.csv, a label.")
    lines = [line for line, _ in body]
    names = [cells[name_col].strip() for _, cells in body]
    labels = [cells[label_col].strip() for _, cells in body] if need_label else None
    return lines, names, labels


def parse_labels(cells: list[str], lines: list[int], csv_name: str) -> torch.Tensor:
    """Whole numbers 0-9 (``3`` or ``3.0``) -> int64; anything else is reported by row."""
    values, bad = [], []
    for line, cell in zip(lines, cells):
        try:
            number = float(cell)
        except ValueError:
            number = float("nan")
        if number.is_integer() and 0 <= number <= 9:
            values.append(int(number))
        else:
            bad.append(f"row {line} {cell!r}")
    if bad:
        raise DatasetError(f"{csv_name} has labels that are not whole numbers 0–9 in {len(bad)} of {len(cells)} "
                           f"rows: {first_few(bad)}. Every label must be a digit 0–9.")
    return torch.tensor(values, dtype=torch.int64)


def check_duplicates(names: list[str], lines: list[int], csv_name: str) -> None:
    seen: dict[str, list[int]] = {}
    for name, line in zip(names, lines):
        seen.setdefault(name.lower(), []).append(line)
    repeated = [f"{name!r} (rows {', '.join(map(str, rows))})" for name, rows in seen.items() if len(rows) > 1]
    if repeated:
        raise DatasetError(f"{csv_name} lists the same file more than once ({len(repeated)} repeated): "
                           f"{first_few(repeated)}. Each image must be listed once; remove the repeated rows.")


def resolve_images(archive: Archive, csv_path: str, names: list[str], split: str) -> list[str]:
    """Member path of each listed image, looked up in the usual folders, case-insensitively."""
    base = csv_path.rsplit("/", 1)[0] + "/" if "/" in csv_path else ""
    lowered = {name.lower(): name for name in archive.sizes}
    folders = [base + folder.format(split=split) for folder in IMAGE_FOLDERS]
    found, missing = [], []
    for name in names:
        suffixes = ("",) if name.lower().endswith(IMAGE_EXTENSIONS) else ("", ".png", ".jpg", ".jpeg")
        candidates = (f"{folder}{name}{suffix}".lower() for folder in folders for suffix in suffixes)
        path = next((lowered[c] for c in candidates if c in lowered), None)
        (found if path else missing).append(path or name)
    if missing:
        raise DatasetError(f"{len(missing)} of {len(names)} images listed in {split}.csv are missing from "
                           f"{archive.label}: {first_few(missing)}. Looked in {base}Images/{split}/, "
                           f"{base}{split}/, {base}Images/ and next to {split}.csv.")
    return found


def png_header_size(raw: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR without decoding, for messages about huge headers."""
    if raw[:8] == b"\x89PNG\r\n\x1a\n" and raw[12:16] == b"IHDR":
        return struct.unpack(">II", raw[16:24])
    return None


def to_gray(image: Image.Image) -> np.ndarray:
    """Any PNG/JPEG mode -> uint8 (h, w). A digit drawn only in the alpha channel becomes that alpha."""
    if "A" not in image.getbands():
        return np.asarray(image.convert("L"))
    rgba = image.convert("LA")
    gray, alpha = np.asarray(rgba.getchannel("L")), np.asarray(rgba.getchannel("A"))
    if gray.min() == gray.max():  # flat colour: the shape is in the transparency
        return alpha.copy()
    return (gray.astype(np.uint16) * alpha // 255).astype(np.uint8)  # composite over black


def to_square(pixels: np.ndarray) -> np.ndarray:
    """Pad the short side with the border's typical value, so resizing keeps the digit's shape."""
    height, width = pixels.shape
    if height == width:
        return pixels
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    side = max(height, width)
    square = np.full((side, side), int(np.median(border)), dtype=np.uint8)
    top, left = (side - height) // 2, (side - width) // 2
    square[top:top + height, left:left + width] = pixels
    return square


def decode_digit(raw: bytes) -> tuple[np.ndarray, tuple[int, int]]:
    """PNG/JPEG bytes -> (uint8 (28, 28), original (width, height)). Raises BadImage.

    The header's size is checked before any pixel is decoded, so a file claiming
    100000x100000 pixels costs nothing (PIL's own MAX_IMAGE_PIXELS check is a second guard).
    """
    try:
        image = Image.open(io.BytesIO(raw), formats=("PNG", "JPEG"))
    except Image.DecompressionBombError:
        width, height = png_header_size(raw) or (0, 0)
        raise BadImage("shape", f"claims {width}×{height} pixels") from None
    except UnidentifiedImageError:
        raise BadImage("unreadable", "not a PNG or JPEG image") from None
    except Exception as error:  # any decoder failure on untrusted bytes means "not an image we can use"
        raise BadImage("unreadable", type(error).__name__ if not str(error) else str(error)) from None
    width, height = image.size
    if max(width, height) > MAX_SIDE or max(width, height) > MAX_ASPECT * min(width, height):
        raise BadImage("shape", f"{width}×{height} pixels")
    try:
        pixels = to_gray(image)  # decodes here
    except Exception as error:  # truncated or corrupt pixel data
        raise BadImage("unreadable", str(error) or type(error).__name__) from None
    if (width, height) != (IMAGE_SIZE, IMAGE_SIZE):
        square = Image.fromarray(to_square(pixels))
        pixels = np.asarray(square.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR))
    return pixels, (width, height)


def decode_all(archive: Archive, paths: list[str], split: str, progress: Progress | None,
               done_before: int, total: int) -> tuple[np.ndarray, list[str]]:
    """Decode every listed image into one uint8 (n, 28, 28) array; report all bad files at once."""
    out = np.empty((len(paths), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    unreadable, misshapen, resized = [], [], []
    for i, path in enumerate(paths):
        try:
            out[i], size = decode_digit(archive.read(path))
            if size != (IMAGE_SIZE, IMAGE_SIZE):
                resized.append(f"{path} ({size[0]}×{size[1]})")
        except BadImage as bad:
            (unreadable if bad.kind == "unreadable" else misshapen).append(f"{path} ({bad})")
        if progress and (i + 1) % 1000 == 0:
            progress((done_before + i + 1) / total, f"Decoding {split} images: {i + 1:,} of {len(paths):,}")
    if unreadable:
        raise DatasetError(f"Not readable as PNG or JPEG images ({len(unreadable)} of {len(paths)} files in "
                           f"{split}.csv): {first_few(unreadable)}. Replace them with PNG or JPEG digits.")
    if misshapen:
        raise DatasetError(f"Not digit-shaped ({len(misshapen)} of {len(paths)} images in {split}.csv): "
                           f"{first_few(misshapen)}. "
                           f"A digit must be at most {MAX_SIDE} pixels a side and roughly square "
                           f"(at most {MAX_ASPECT:g}:1); MNIST's are 28×28.")
    notes = [f"{len(resized)} of {len(paths)} {split} images were not 28×28 and were resized "
             f"(e.g. {first_few(resized)})."] if resized else []
    return out, notes


def dark_on_light(images: np.ndarray) -> bool:
    """True when the typical border pixel is light: dark digits on paper, the opposite of MNIST."""
    if len(images) == 0:
        return False
    border = np.concatenate([images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], axis=1)
    return float(np.median(border)) > 127


def read_split(archive: Archive, csv_path: str,
               need_label: bool) -> tuple[list[str], list[str], torch.Tensor | None]:
    """(file names, member paths, labels or None) of one CSV, every row checked."""
    csv_name = PurePosixPath(csv_path).name
    lines, names, label_cells = parse_table(read_csv_rows(archive, csv_path), csv_name, need_label)
    check_duplicates(names, lines, csv_name)
    labels = parse_labels(label_cells, lines, csv_name) if need_label else None
    split = "train" if need_label else "test"
    return names, resolve_images(archive, csv_path, names, split), labels


def read_guide(archive: Archive, progress: Progress | None = None) -> GuideDigits:
    """Validate the whole archive, then decode train.csv's and test.csv's images."""
    train_csv = find_csv(archive, "train.csv")
    if train_csv is None:
        top = sorted({name.split("/")[0] for name in archive.sizes})
        raise DatasetError(f"No train.csv in {archive.label} (it holds: {first_few(top) or 'nothing'}). "
                           "The guide's format needs train.csv (filename,label), test.csv (filename) "
                           "and the images under Images/train/ and Images/test/.")
    _, train_paths, labels = read_split(archive, train_csv, need_label=True)
    if len(train_paths) < MIN_LABELLED:
        raise DatasetError(f"train.csv lists {len(train_paths)} images; at least {MIN_LABELLED} are needed "
                           "to make train, validation and test splits.")
    test_csv = find_csv(archive, "test.csv")
    notes = [] if test_csv else ["No test.csv: there is nothing to predict for a submission."]
    test_names, test_paths, _ = read_split(archive, test_csv, need_label=False) if test_csv else ([], [], None)
    total = len(train_paths) + len(test_paths)
    images, train_notes = decode_all(archive, train_paths, "train", progress, 0, total)
    predict, test_notes = decode_all(archive, test_paths, "test", progress, len(train_paths), total)
    notes += train_notes + test_notes
    if dark_on_light(images):
        images, predict = 255 - images, 255 - predict
        notes.append("The images are dark digits on a light background; they were inverted to MNIST's "
                     "light digits on black.")
    if progress:
        progress(1.0, f"Decoded {total:,} images")
    return GuideDigits(archive.label, torch.from_numpy(images), labels, torch.from_numpy(predict),
                       tuple(test_names), tuple(notes))


def fixed_time_entry(name: str) -> zipfile.ZipInfo:
    """A zip entry stamped with a fixed time, so the same files always zip to the same bytes."""
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def example_archive(images: torch.Tensor, labels: torch.Tensor, n_test: int) -> bytes:
    """A zip in the guide's layout: the first len-n_test digits labelled, the last n_test to predict.

    Byte-for-byte reproducible (no clock in it), so importing a downloaded copy twice finds the
    same cached dataset rather than making a second one.
    """
    n_train = len(images) - n_test
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        train_rows = ["filename,label"] + [f"{i}.png,{int(labels[i])}" for i in range(n_train)]
        archive.writestr(fixed_time_entry("train.csv"), "\n".join(train_rows) + "\n")
        archive.writestr(fixed_time_entry("test.csv"),
                         "\n".join(["filename"] + [f"{i}.png" for i in range(n_train, len(images))]) + "\n")
        for i, image in enumerate(images):
            png = io.BytesIO()
            Image.fromarray(image.numpy()).save(png, format="PNG")
            folder = "Images/train" if i < n_train else "Images/test"
            archive.writestr(fixed_time_entry(f"{folder}/{i}.png"), png.getvalue())
    return buffer.getvalue()


def benchmark_import(images: torch.Tensor, labels: torch.Tensor, n_test: int = 0,
                     limits: ArchiveLimits = DEFAULT_LIMITS) -> dict[str, float]:
    """Import speed: build an archive of these digits (untimed), then time checking + decoding it."""
    data = example_archive(images, labels, n_test)
    start = time.perf_counter()
    digits = read_guide(open_zip(data, "benchmark.zip", limits))
    seconds = time.perf_counter() - start
    n = len(digits.images) + len(digits.predict_images)
    return {"images": n, "seconds": seconds, "images_per_s": n / seconds, "archive_bytes": len(data)}
