"""The Inspect page: core.inspect_view on its own, then the page through AppTest."""
import base64
import io
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.config import TrainConfig
from core.data.catalog import load_dataset
from core.results import inspection
from core.runner.execute import execute
from core.store import run_files
from core.store.run_store import RunStore, load_predictions

PAGE = str(Path(__file__).resolve().parents[1] / "dashboard/app_pages/inspect.py")


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header that claims width x height, with almost no data behind it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + data + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A store holding one MLP run trained for 3 epochs (about a second): (root, run_id)."""
    root = tmp_path_factory.mktemp("inspect_runs")
    store = RunStore(root)
    config = TrainConfig(epochs=3, threads=1)
    run_id = store.create_run(config.to_dict())
    execute(store, run_id, config)
    return root, run_id


def open_page(root: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("DIGITLAB_RUNS_DIR", str(root))
    return AppTest.from_file(PAGE, default_timeout=60).run()


def gallery_captions(at: AppTest) -> list[str]:
    return at.image[0].captions  # the gallery is the page's first st.image: one element, one caption a digit


def metric(at: AppTest, label_start: str) -> str:
    values = [m.value for m in at.metric if m.label.startswith(label_start)]
    assert values, f"no metric labelled {label_start!r}; labels: {[m.label for m in at.metric]}"
    return values[0]


# -- core.inspect_view ----------------------------------------------------------------------


def synthetic(n: int = 10_000, n_epochs: int = 5, seed: int = 0):
    """Per-epoch predictions that get better each epoch, like a run's predictions file."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=generator)
    guesses = torch.randint(0, 10, (n_epochs, n), generator=generator)
    right = torch.rand(n_epochs, n, generator=generator) < torch.linspace(0.5, 0.95, n_epochs).unsqueeze(1)
    predicted = torch.where(right, labels, guesses).to(torch.uint8)
    confidence = torch.rand(n_epochs, n, generator=generator).to(torch.float16)
    return labels, torch.arange(1, n_epochs + 1), predicted, confidence


def test_summary_numbers_agree_with_the_predictions():
    labels, epochs, predicted, confidence = synthetic(n=2_000)
    s = inspection.summarize(labels, epochs, predicted, confidence, epoch=2)
    wrong = predicted[1].long() != labels
    assert s.epoch == 2 and s.epochs == [1, 2, 3, 4, 5]
    assert s.accuracy == pytest.approx(1 - wrong.float().mean().item())
    assert sorted(s.mistakes.tolist()) == torch.nonzero(wrong).flatten().tolist()
    assert s.matrix.sum() == 2_000 and s.matrix.sum(axis=1).tolist() == s.metrics["support"].tolist()
    assert inspection.summarize(labels, epochs, predicted, confidence).epoch == 5  # default: the latest
    with pytest.raises(ValueError, match="recorded epochs"):
        inspection.summarize(labels, epochs, predicted, confidence, epoch=9)


def test_gallery_filters_by_cell_and_orders():
    labels, epochs, predicted, confidence = synthetic(n=2_000)
    s = inspection.summarize(labels, epochs, predicted, confidence)
    cell = inspection.gallery_indices(s, true_class=3, predicted_class=5)
    assert len(cell) == s.matrix[3, 5] > 0
    assert (s.labels[cell] == 3).all() and (s.predicted[cell] == 5).all()
    assert (np.diff(s.confidence[cell]) <= 0).all(), "most confident mistakes first"
    threes = inspection.gallery_indices(s, true_class=3, order="index")
    assert len(threes) == s.matrix[3].sum() - s.matrix[3, 3] and (np.diff(threes) > 0).all()
    diagonal = inspection.gallery_indices(s, true_class=4, predicted_class=4)
    assert len(diagonal) == s.matrix[4, 4], "a diagonal cell shows that class's correct digits"
    assert inspection.page_bounds(len(s.mistakes), 2, 40) == (40, 80)
    assert inspection.page_bounds(85, 99, 40) == (80, 85)


def test_summary_refuses_missing_and_mismatched_runs(tmp_path):
    store = RunStore(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        inspection.inspect_summary(store, "no-such-run")
    run_id = store.create_run(TrainConfig().to_dict())
    with pytest.raises(ValueError, match="no test predictions yet"):
        inspection.inspect_summary(store, run_id)
    labels, epochs, predicted, confidence = synthetic(n=999)  # the embedded test split has 1,000
    run_files.save_predictions(store.run_dir(run_id), epochs.tolist(), list(predicted), list(confidence))
    with pytest.raises(ValueError, match="dataset changed"):
        inspection.inspect_summary(store, run_id)


# -- the page -------------------------------------------------------------------------------


def test_empty_store_says_to_train_first(runs_dir, monkeypatch):
    at = open_page(runs_dir, monkeypatch)
    assert not at.exception
    assert any("No runs yet" in info.value for info in at.info)


def test_finished_run_shows_accuracy_table_gallery_and_close_up(finished, monkeypatch):
    at = open_page(finished[0], monkeypatch)
    assert not at.exception and not at.error
    run = RunStore(finished[0]).get(finished[1])
    assert metric(at, "Test accuracy") == f"{run.summary['test_accuracy']:.1%}"
    n_mistakes = int(metric(at, "Mistakes").replace(",", ""))
    assert 40 < n_mistakes < 300  # an MLP after 3 epochs: roughly 90 % of 1,000
    captions = gallery_captions(at)
    assert len(captions) == 40 and all("→" in c for c in captions)
    first_true, first_pred = (int(x) for x in captions[0].split(" · ")[0].split(" → "))
    assert first_true != first_pred
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 10  # per-class metrics
    assert any("Weakest class" in w.value for w in at.warning)
    assert any("saliency" in c for image in at.image for c in image.captions)
    at.pagination(key="inspect_page").set_value(2).run()
    assert gallery_captions(at) != captions and not at.exception


def test_choosing_a_cell_filters_the_gallery_to_exactly_those_digits(finished, monkeypatch):
    at = open_page(finished[0], monkeypatch)
    true_class, predicted_class = (int(x) for x in gallery_captions(at)[0].split(" · ")[0].split(" → "))
    at.selectbox(key="inspect_true").set_value(true_class)
    at.selectbox(key="inspect_pred").set_value(predicted_class).run()
    captions = gallery_captions(at)
    assert captions and all(c.startswith(f"{true_class} → {predicted_class} ·") for c in captions)
    at.selectbox(key="inspect_pred").set_value(true_class).run()  # the diagonal: correct digits
    assert all(c.startswith(f"{true_class} → {true_class} ·") for c in gallery_captions(at))
    assert any("correct digits" in c.value for c in at.caption)


def test_epoch_slider_shows_the_mistakes_as_they_were(finished, monkeypatch):
    at = open_page(finished[0], monkeypatch)
    last = (metric(at, "Mistakes"), gallery_captions(at))
    at.select_slider(key="inspect_epoch").set_value(1).run()
    assert not at.exception
    assert metric(at, "Accuracy after epoch 1")
    assert (metric(at, "Mistakes"), gallery_captions(at)) != last


def test_own_digit_upload_and_drawing(finished, monkeypatch):
    at = open_page(finished[0], monkeypatch)
    images, labels = load_dataset().split("test")
    seven = Image.fromarray(255 - images[int(torch.nonzero(labels == 7)[0])].numpy()).resize((280, 280))
    at.file_uploader(key="inspect_upload").set_value(("seven.png", png(seven), "image/png")).run()
    assert not at.exception and not at.error
    assert any("what the model sees" in c for image in at.image for c in image.captions)

    at.file_uploader(key="inspect_upload").set_value(("notes.png", b"not a picture at all", "image/png")).run()
    assert not at.exception and any("not an image" in e.value for e in at.error)

    huge = png_claiming(8_000, 8_000)  # 64 megapixels claimed in a 100-byte file
    at.file_uploader(key="inspect_upload").set_value(("huge.png", huge, "image/png")).run()
    assert not at.exception and any("megapixels" in e.value for e in at.error)

    blank = "data:image/png;base64," + base64.b64encode(png(Image.new("RGB", (280, 280)))).decode()
    at.session_state["inspect_canvas"] = {"png": blank}  # what Clear on the drawing pad sends
    at.run()
    assert not at.exception and any("blank" in e.value for e in at.error)


def test_run_with_no_checkpoint_yet_says_to_wait(runs_dir, monkeypatch):
    store = RunStore(runs_dir)
    store.create_run(TrainConfig().to_dict())  # "starting", owned by this live process: active
    at = open_page(runs_dir, monkeypatch)
    assert not at.exception
    assert any("no test predictions yet" in info.value for info in at.info)


def test_checkpoint_of_another_model_shape_is_reported_and_the_predictions_still_show(finished, runs_dir,
                                                                                       monkeypatch):
    source = RunStore(finished[0])
    store = RunStore(runs_dir)
    config = TrainConfig(epochs=3, threads=1, hidden=(30,))
    run_id = store.create_run(config.to_dict())
    checkpoint = source.load_tensors(finished[1], "last.pt")  # weights of a 784-50-10 MLP ...
    checkpoint["config"] = config.to_dict()  # ... labelled as 784-30-10
    store.save_tensors(run_id, "last.pt", checkpoint)
    shutil.copy(Path(finished[0]) / finished[1] / run_files.PREDICTIONS, store.run_dir(run_id))
    store.finish(run_id, "completed")
    at = open_page(runs_dir, monkeypatch)
    assert not at.exception
    assert any("another model shape" in e.value for e in at.error)
    assert len(gallery_captions(at)) == 40


def test_deleted_run_gives_a_message_not_a_traceback(finished, runs_dir, monkeypatch):
    store = RunStore(runs_dir)
    older = store.create_run(TrainConfig().to_dict(), status="completed")
    newer = store.create_run(TrainConfig().to_dict(), status="completed")
    for run_id in (older, newer):
        shutil.copy(Path(finished[0]) / finished[1] / run_files.PREDICTIONS, store.run_dir(run_id))
        shutil.copy(Path(finished[0]) / finished[1] / "last.pt", store.run_dir(run_id))
    at = open_page(runs_dir, monkeypatch)
    assert at.selectbox(key="inspect_run").value == newer
    shutil.rmtree(store.run_dir(newer))  # its files deleted by hand: the row is still listed
    at.run()
    assert not at.exception and any("no test predictions" in e.value for e in at.error)
    store.delete(newer)  # deleted properly: the page falls back to the run that is left
    at.run()
    assert not at.exception and not at.error
    assert at.selectbox(key="inspect_run").value == older


def test_no_streamlit_in_core():
    core = Path(__file__).resolve().parents[1] / "core"
    for name in ("training/evaluation.py", "results/metrics.py", "results/user_digit.py", "results/inspection.py"):
        assert "streamlit" not in (core / name).read_text(), f"core/{name} must not import streamlit"


def test_a_run_still_training_is_inspectable(finished, runs_dir, monkeypatch):
    store = RunStore(runs_dir)
    run_id = store.create_run(TrainConfig().to_dict(), status="running")  # owned by this live process
    shutil.copy(Path(finished[0]) / finished[1] / "last.pt", store.run_dir(run_id))
    predictions = load_predictions(RunStore(finished[0]), finished[1])

    def save(epochs: int) -> None:
        run_files.save_predictions(store.run_dir(run_id), predictions["epochs"][:epochs].tolist(),
                                   list(predictions["predicted"][:epochs]), list(predictions["confidence"][:epochs]))

    save(2)
    at = open_page(runs_dir, monkeypatch)
    assert not at.exception and not at.error
    assert metric(at, "Test accuracy") == "still training"
    assert metric(at, "Accuracy after epoch 2")
    assert any("Still training" in c.value for c in at.caption)
    assert len(gallery_captions(at)) == 40
    save(3)  # epoch 3 finishes
    at.button(key="inspect_refresh").click().run()
    assert metric(at, "Accuracy after epoch 3"), "a user watching the latest epoch follows the new one"


def test_a_run_whose_uploaded_dataset_was_deleted_says_to_upload_it_again(runs_dir, tmp_path, monkeypatch):
    from core.data import uploads
    from tests.helpers_archives import guide_files, zip_bytes

    data_dir = tmp_path / "data"
    monkeypatch.setenv("DIGITLAB_DATA_DIR", str(data_dir))
    name = uploads.import_archive(zip_bytes(guide_files(60, 10)), "digits.zip", data_dir)
    store = RunStore(runs_dir)
    config = TrainConfig(dataset=name, data_dir=str(data_dir), epochs=1, threads=1).validate()
    run_id = store.create_run(config.to_dict())
    execute(store, run_id, config)
    uploads.delete_upload(name, data_dir)
    at = open_page(runs_dir, monkeypatch)
    assert not at.exception
    assert any("No cached upload" in e.value and "Upload the archive again" in e.value for e in at.error)
