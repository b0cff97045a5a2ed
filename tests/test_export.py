"""Exports: metrics CSV and config JSON round-trip; TorchScript and ONNX predict what the checkpoint predicts."""
import csv
import importlib.util
import io
import json
import sys

import pytest
import torch

from core.config import TrainConfig
from core.data.catalog import load_dataset
from core.data.digits import normalize
from core.data.uploads import import_archive
from core.results import export
from core.runner.execute import execute
from core.store.run_store import RunStore, load_run_model
from tests.helpers_archives import guide_files, zip_bytes


def trained_run(store: RunStore, **fields) -> str:
    config = TrainConfig(**{"epochs": 2, "threads": 1, **fields}).validate()
    run_id = store.create_run(config.to_dict())
    execute(store, run_id, config)
    return run_id


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One trained MLP and one trained CNN, shared by the tests here (the CNN takes a few seconds)."""
    store = RunStore(tmp_path_factory.mktemp("runs"))
    return store, {"mlp": trained_run(store), "cnn": trained_run(store, model="cnn", epochs=1)}


@pytest.fixture(scope="module")
def test_digits():
    """200 of the embedded test digits, normalised: (200, 1, 28, 28)."""
    images, _ = load_dataset("embedded").split("test")
    return normalize(images[:200])


def test_metrics_csv_holds_every_stored_value_exactly(runs):
    store, ids = runs
    rows = list(csv.reader(io.StringIO(export.metrics_csv(store, ids["mlp"]))))
    assert rows[0] == ["name", "step", "epoch", "value"]
    stored = store.metrics(ids["mlp"])
    assert len(rows) - 1 == sum(len(series["value"]) for series in stored.values())
    val = [(int(r[1]), float(r[2]), float(r[3])) for r in rows[1:] if r[0] == "val_accuracy"]
    assert val == list(zip(stored["val_accuracy"]["step"], stored["val_accuracy"]["epoch"],
                           stored["val_accuracy"]["value"]))
    assert {"loss", "loss_smooth", "lr", "train_loss", "val_accuracy"} <= {r[0] for r in rows[1:]}


def test_config_json_rebuilds_the_same_config(runs):
    store, ids = runs
    run = store.get(ids["cnn"])
    config = TrainConfig.from_dict(json.loads(export.config_json(run))).validate()
    assert config.to_dict() == run.config and config.model == "cnn"


def test_checkpoint_bytes_are_the_last_checkpoint(runs, tmp_path):
    store, ids = runs
    data = export.checkpoint_bytes(store, ids["mlp"])
    assert data == (store.run_dir(ids["mlp"]) / "last.pt").read_bytes()
    assert torch.load(io.BytesIO(data), weights_only=True)["epoch"] == 2
    fresh = RunStore(tmp_path)
    pending = fresh.create_run(TrainConfig().validate().to_dict())
    with pytest.raises(ValueError, match="no last.pt yet"):
        export.checkpoint_bytes(fresh, pending)
    with pytest.raises(ValueError, match="does not exist"):
        export.metrics_csv(fresh, "nope")


@pytest.mark.parametrize("family", ["mlp", "cnn"])
def test_torchscript_predicts_like_the_checkpoint(runs, test_digits, family):
    store, ids = runs
    model, _ = load_run_model(store, ids[family])
    with torch.no_grad():
        expected = model(test_digits)
        loaded = torch.jit.load(io.BytesIO(export.torchscript_bytes(model)))  # what a user's own code does
        got = loaded(test_digits)  # traced on one digit, run on 200
    assert torch.equal(got.argmax(1), expected.argmax(1))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", ["mlp", "cnn"])
def test_onnx_predicts_like_the_checkpoint(runs, test_digits, family):
    if importlib.util.find_spec("onnxruntime") is None:
        pytest.skip("onnxruntime is not installed, so the ONNX file cannot be run here: "
                    "pip install onnx onnxruntime")
    import onnxruntime

    store, ids = runs
    model, _ = load_run_model(store, ids[family])
    session = onnxruntime.InferenceSession(export.onnx_bytes(model), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    got = torch.from_numpy(session.run(["logits"], {"image": test_digits.numpy()})[0])  # batch 200: dynamic axis
    with torch.no_grad():
        expected = model(test_digits)
    assert got.shape == (200, 10)
    assert torch.equal(got.argmax(1), expected.argmax(1))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_onnx_without_the_package_says_how_to_get_it(runs, monkeypatch):
    store, ids = runs
    model, _ = load_run_model(store, ids["mlp"])
    monkeypatch.setattr(export, "onnx_available", lambda: False)
    with pytest.raises(ValueError, match=r"pip install onnx onnxruntime"):
        export.onnx_bytes(model)


def test_submission_csv_for_a_run_on_an_uploaded_zip(tmp_path):
    data_dir = tmp_path / "data"
    files = guide_files(60, 12)
    name = import_archive(zip_bytes(files), "digits.zip", data_dir)
    store = RunStore(tmp_path / "runs")
    run_id = trained_run(store, dataset=name, data_dir=str(data_dir), epochs=1)
    rows = list(csv.reader(io.StringIO(export.submission_csv(store, run_id))))
    listed = files["test.csv"].decode().split()[1:]
    assert rows[0] == ["filename", "label"] and [r[0] for r in rows[1:]] == listed
    assert all(r[1] in list("0123456789") for r in rows[1:])
    assert export.offers_submission(name) and not export.offers_submission("embedded")


def test_submission_csv_refuses_a_dataset_without_test_csv(runs):
    store, ids = runs
    with pytest.raises(ValueError, match="no test.csv images to predict; a submission needs a guide-format"):
        export.submission_csv(store, ids["mlp"])


def test_tensorboard_export_without_tensorboard_says_how_to_get_it(runs, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if the package were absent
    store, ids = runs
    expected = r"^TensorBoard export needs the tensorboard package: pip install tensorboard$"
    with pytest.raises(ValueError, match=expected):
        export.export_tensorboard(store, ids["mlp"], tmp_path)


def test_tensorboard_export_writes_every_series(runs, tmp_path):
    if importlib.util.find_spec("tensorboard") is None:
        pytest.skip("tensorboard is not installed (pip install tensorboard); the export refuses with that message")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    store, ids = runs
    folder = export.export_tensorboard(store, ids["mlp"], tmp_path)
    events = EventAccumulator(str(folder)).Reload()
    stored = store.metrics(ids["mlp"])
    assert set(events.Tags()["scalars"]) == set(stored)
    assert [e.step for e in events.Scalars("val_accuracy")] == stored["val_accuracy"]["step"]


def test_every_offered_download_builds_a_file(runs):
    store, ids = runs
    store.rename(ids["cnn"], "cnn lr=0.003/bs 64")
    run = store.get(ids["cnn"])
    offered = {item.key: item for item in export.downloads(store, run)}
    assert {"metrics", "config", "checkpoint", "torchscript"} <= set(offered) and "submission" not in offered
    assert ("onnx" in offered) == export.onnx_available()
    for item in offered.values():
        assert item.filename.startswith("cnn_lr_0.003_bs_64") and "/" not in item.filename
        assert len(item.build()) > 100, item.key
