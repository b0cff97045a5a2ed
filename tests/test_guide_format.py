"""The guide's format as found in the wild: layouts, headers, colour modes, sizes, polarity."""
import io
import time

import numpy as np
import pytest
import torch
from PIL import Image

from core.data.guide_format import decode_digit, example_archive, read_guide
from core.data.safe_zip import open_zip
from tests.helpers_archives import digits, encode, guide_files, zip_bytes

TRAIN_IMAGES, TRAIN_LABELS = digits(30)
TEST_NAMES = tuple(f"{i}.png" for i in (5001, 5003, 5005, 5007, 5000, 5002, 5004, 5006))


def read(files: dict[str, bytes]):
    return read_guide(open_zip(zip_bytes(files), "digits.zip"))


@pytest.mark.parametrize("changes", [
    {},  # the guide's own layout: Images/train/, Images/test/
    {"folder": "{split}/"},  # train/ and test/ next to the CSVs
    {"folder": ""},  # images next to the CSVs
    {"root": "Train/"},  # everything under one top folder, as the case study's zip has it
    {"header": "Image,Label", "test_header": "Image"},  # other names and capitals
    {"header": "", "test_header": "filename"},  # no header row in train.csv
    {"mode": "RGB"},
    {"mode": "RGBA"},
])
def test_lossless_variants_decode_to_the_exact_digits(changes):
    digits_read = read(guide_files(30, 8, **changes))
    assert torch.equal(digits_read.images, torch.from_numpy(TRAIN_IMAGES))
    assert torch.equal(digits_read.labels, torch.from_numpy(TRAIN_LABELS))
    assert digits_read.predict_images.shape == (8, 28, 28)
    assert digits_read.predict_names == TEST_NAMES  # test.csv's order, not sorted
    assert digits_read.notes == ()


def test_ids_without_extension_find_their_png():
    digits_read = read(guide_files(30, 8, header="id,label", test_header="id", list_extension=False))
    assert torch.equal(digits_read.images, torch.from_numpy(TRAIN_IMAGES))
    assert digits_read.predict_names == tuple(name.removesuffix(".png") for name in TEST_NAMES)


def test_jpeg_digits_are_close_to_the_originals():
    digits_read = read(guide_files(30, 8, fmt="JPEG"))
    error = (digits_read.images.float() - torch.from_numpy(TRAIN_IMAGES).float()).abs().mean()
    assert error < 8  # JPEG is lossy; a wrong decode (e.g. inverted, shifted) is off by ~60


def test_digit_drawn_only_in_alpha_is_kept():
    pixels = TRAIN_IMAGES[0]
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[..., 3] = pixels  # black ink everywhere, the shape in the transparency
    out = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(out, format="PNG")
    decoded, size = decode_digit(out.getvalue())
    assert size == (28, 28) and np.array_equal(decoded, pixels)


def test_other_sizes_are_resized_with_a_note():
    big = read(guide_files(30, 8, transform=lambda p: p.repeat(2, 0).repeat(2, 1)))  # 56x56
    assert big.images.shape == (30, 28, 28)
    assert (big.images.float() - torch.from_numpy(TRAIN_IMAGES).float()).abs().mean() < 6
    assert big.notes[0].startswith(
        "30 of 30 train images were not 28×28 and were resized (e.g. Images/train/0.png (56×56)")
    assert big.notes[1].startswith("8 of 8 test images were not 28×28")
    wide = decode_digit(encode(np.pad(TRAIN_IMAGES[0], ((0, 0), (14, 14)))))[0]  # 56x28: padded, not stretched
    assert wide[7:21].max() > 100
    assert wide[:7].max() == 0 and wide[21:].max() == 0  # the digit keeps its aspect, centred


def test_dark_digits_on_paper_are_inverted_with_a_note():
    digits_read = read(guide_files(30, 8, transform=lambda p: 255 - p))
    assert torch.equal(digits_read.images, torch.from_numpy(TRAIN_IMAGES))
    assert "inverted to MNIST's light digits on black" in digits_read.notes[0]


def test_missing_test_csv_is_a_note_not_an_error():
    files = {k: v for k, v in guide_files(30, 8).items() if k != "test.csv"}
    digits_read = read(files)
    assert len(digits_read.predict_names) == 0 and digits_read.predict_images.shape == (0, 28, 28)
    assert digits_read.notes == ("No test.csv: there is nothing to predict for a submission.",)


def test_macos_metadata_is_ignored():
    files = guide_files(30, 8)
    files["__MACOSX/._train.csv"] = b"\x00\x05\x16\x07 resource fork"
    files["__MACOSX/Images/train/._0.png"] = b"junk"
    assert len(read(files).labels) == 30


def test_example_archive_round_trips():
    images, labels = torch.from_numpy(TRAIN_IMAGES), torch.from_numpy(TRAIN_LABELS)
    digits_read = read_guide(open_zip(example_archive(images, labels, n_test=10), "example.zip"))
    assert torch.equal(digits_read.images, images[:20]) and torch.equal(digits_read.labels, labels[:20])
    assert torch.equal(digits_read.predict_images, images[20:])
    assert digits_read.predict_names == tuple(f"{i}.png" for i in range(20, 30))


def test_the_example_archive_downloaded_an_hour_apart_is_the_same_file(monkeypatch):
    """Same digits, same bytes: importing two downloads of it finds one cached dataset, not two."""
    images, labels = torch.from_numpy(TRAIN_IMAGES), torch.from_numpy(TRAIN_LABELS)
    first = example_archive(images, labels, n_test=10)
    later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: later)
    assert example_archive(images, labels, n_test=10) == first
