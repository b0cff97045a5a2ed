"""core.user_digit: a user's picture of a digit becomes an MNIST-like 28x28 a trained model reads right."""
import base64
import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from core.config import TrainConfig
from core.data.catalog import load_dataset
from core.results.user_digit import decode_data_url, open_image, prepare_digit, to_mnist
from core.runner.execute import execute
from core.store.run_store import RunStore, load_run_model
from core.training.evaluation import predict_logits


def png_bytes(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header that claims width x height, with almost no data behind it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    data = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + data + chunk(b"IEND", b"")


def on_paper(digit: torch.Tensor, size: int = 280, paper=(400, 360), at=(30, 70), ink_on_light=True) -> Image.Image:
    """An MNIST digit drawn large, off-centre on a bigger sheet: black on white by default."""
    big = Image.fromarray(digit.numpy()).resize((size, size), Image.Resampling.BILINEAR)
    sheet = Image.new("L", paper, 0)
    sheet.paste(big, at)
    return Image.fromarray(255 - np.asarray(sheet)) if ink_on_light else sheet


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """An MLP trained for 5 epochs on the embedded digits (about a second), and the test split."""
    store = RunStore(tmp_path_factory.mktemp("runs"))
    config = TrainConfig(epochs=5, threads=1)
    run_id = store.create_run(config.to_dict())
    execute(store, run_id, config)
    model, _ = load_run_model(store, run_id)
    return model, load_dataset().split("test")


def test_large_dark_on_light_digits_are_read_right_after_preprocessing(trained):
    model, (images, labels) = trained
    right_as_is = predict_logits(model, images).argmax(1) == labels
    # One digit per class that the model reads right at 28x28, so this measures the preprocessing.
    chosen = [int(torch.nonzero((labels == c) & right_as_is)[0]) for c in range(10)]
    prepared = torch.stack([prepare_digit(png_bytes(on_paper(images[i]))) for i in chosen])
    predicted = predict_logits(model, prepared).argmax(1)
    hits = int((predicted == labels[chosen]).sum())
    assert hits >= 8, f"only {hits}/10 large dark-on-light digits classified right: {predicted.tolist()}"


def test_output_looks_like_mnist(trained):
    _, (images, labels) = trained
    digit = to_mnist(on_paper(images[0], size=500, paper=(900, 700), at=(380, 20)))
    assert digit.shape == (28, 28) and digit.dtype == torch.uint8
    ink = digit.numpy().astype(float)
    rows, cols = np.nonzero(ink > 0)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 <= 21  # the 20x20 box (+1 for anti-aliasing)
    assert ink[0].sum() == ink[-1].sum() == ink[:, 0].sum() == ink[:, -1].sum() == 0  # black margin
    centre = [(ink.sum(axis=1 - axis) * np.arange(28)).sum() / ink.sum() for axis in (0, 1)]
    assert centre == pytest.approx([14, 14], abs=0.75)
    assert ink.max() == 255


def test_light_on_dark_and_dark_on_light_give_the_same_digit(trained):
    _, (images, _) = trained
    dark_on_light = to_mnist(on_paper(images[5], ink_on_light=True)).float()
    light_on_dark = to_mnist(on_paper(images[5], ink_on_light=False)).float()
    assert (dark_on_light - light_on_dark).abs().mean() < 2


def test_a_top_heavy_digit_is_centred_by_mass_not_by_its_box():
    sheet = Image.new("L", (300, 300), 255)
    sheet.paste(0, (50, 40, 250, 70))  # a top bar ...
    sheet.paste(0, (130, 70, 170, 240))  # ... on a stem: a "T" whose mass sits high in its box
    ink = to_mnist(sheet).numpy().astype(float)
    centre = [(ink.sum(axis=1 - axis) * np.arange(28)).sum() / ink.sum() for axis in (0, 1)]
    assert centre == pytest.approx([14, 14], abs=0.5)
    rows = np.nonzero(ink.sum(axis=1))[0]
    assert rows.min() > (28 - 20) // 2 + 1, "moved down from the box-centred position to centre the mass"


def test_a_tall_stroke_keeps_its_aspect_ratio():
    sheet = Image.new("L", (300, 300), 255)
    sheet.paste(0, (130, 50, 170, 250))  # a "1": 40 wide, 200 tall, black on white
    rows, cols = np.nonzero(to_mnist(sheet).numpy() > 127)
    assert np.ptp(rows) + 1 == 20 and np.ptp(cols) + 1 <= 5


def test_transparent_png_with_dark_ink_reads_as_ink_on_paper():
    sheet = Image.new("RGBA", (100, 100), (0, 0, 0, 0))  # transparent; "black" only by its colour values
    sheet.paste((0, 0, 0, 255), (40, 20, 60, 80))
    digit = prepare_digit(png_bytes(sheet))
    assert digit.numpy().max() == 255 and digit[0, 0] == 0


@pytest.mark.parametrize("data, message", [
    (b"this is a text file, not a picture", "not an image"),
    (png_claiming(6000, 6000), "36 megapixels"),
    (png_claiming(100_000, 100_000), "decompression bomb"),
    (png_bytes(Image.new("L", (64, 64), 0))[:60], "not an image|could not be decoded"),
    (png_bytes(Image.new("L", (300, 200), 255)), "blank"),
    (png_bytes(Image.new("L", (280, 280), 0)), "blank"),  # an empty drawing: a black canvas
])
def test_bad_input_raises_a_clear_value_error(data, message):
    with pytest.raises(ValueError, match=message):
        prepare_digit(data)


def test_pixel_cap_is_checked_before_decoding():
    # 10,000 x 6,000 is under PIL's own bomb limit but over ours: refused from the header alone
    # (the file has almost no pixel data, so decoding would fail with another message).
    with pytest.raises(ValueError, match="60 megapixels"):
        open_image(png_claiming(10_000, 6_000))


def test_canvas_data_url_round_trips_and_garbage_is_refused():
    payload = png_bytes(Image.new("L", (8, 8), 0))
    url = "data:image/png;base64," + base64.b64encode(payload).decode()
    assert decode_data_url(url) == payload
    with pytest.raises(ValueError, match="did not arrive as an image"):
        decode_data_url("hello")
    with pytest.raises(ValueError, match="damaged"):
        decode_data_url("data:image/png;base64,@@@")
