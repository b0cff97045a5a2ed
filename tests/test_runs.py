"""The run store: round trips, concurrent readers, dead workers, checkpoints."""
import os
import subprocess
import sys
import threading
import time

import pytest
import torch

from core.config import TrainConfig
from core.data.catalog import load_dataset
from core.data.digits import normalize
from core.runner.execute import execute
from core.runner.launch import launch
from core.store.run_store import RunStore, load_predictions, load_run_model


def test_round_trip_while_a_reader_polls(tmp_path):
    store = RunStore(tmp_path)
    config = TrainConfig(epochs=3, log_every=1).validate()
    run_id = store.create_run(config.to_dict(), name="polled")
    seen, errors, done = [], [], threading.Event()

    def poll():
        reader = RunStore(tmp_path)  # a second connection, as a dashboard page has
        while not done.is_set():
            try:
                seen.append(len(reader.metrics(run_id).get("loss", {}).get("step", [])))
                reader.get(run_id)
            except Exception as exc:  # noqa: BLE001 - any error is the failure we look for
                errors.append(exc)

    thread = threading.Thread(target=poll)
    thread.start()
    result = execute(store, run_id, config)
    done.set()
    thread.join()
    assert errors == []
    assert seen == sorted(seen), "a reader must never see metrics disappear"
    loss = store.metrics(run_id)["loss"]
    assert loss["step"] == list(range(1, result.steps + 1))
    run = store.get(run_id)
    assert run.status == "completed" and run.name == "polled"
    assert run.summary["test_accuracy"] == pytest.approx(result.test_accuracy)
    assert run.config == config.to_dict() and run.config["hidden"] == [50]


def test_checkpoint_loads_with_weights_only_and_predicts_like_the_run(tmp_path):
    store = RunStore(tmp_path)
    config = TrainConfig(epochs=2)
    run_id = store.create_run(config.to_dict())
    result = execute(store, run_id, config)
    checkpoint = torch.load(store.run_dir(run_id) / "last.pt", weights_only=True)
    assert checkpoint["epoch"] == 2 and checkpoint["config"]["model"] == "mlp"
    model, _ = load_run_model(store, run_id)
    from core.training.evaluation import evaluate_split
    accuracy = evaluate_split(model, *load_dataset().split("test"))["accuracy"].item()
    assert accuracy == pytest.approx(result.test_accuracy)
    predictions = load_predictions(store, run_id)
    assert predictions["epochs"].tolist() == [1, 2]
    assert predictions["predicted"].shape == (2, 1000) and predictions["predicted"].dtype == torch.uint8
    with torch.no_grad():
        final_answers = model(normalize(load_dataset().split("test")[0])).argmax(1)
    assert torch.equal(predictions["predicted"][-1].long(), final_answers), "the last row is the final model's"


def test_a_dead_worker_leaves_its_run_interrupted_with_the_reason(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.create_run(TrainConfig().to_dict(), status="running")
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    store.update(run_id, pid=process.pid)
    (store.run_dir(run_id) / "worker.log").write_text("Traceback...\nMemoryError\n")
    run = store.get(run_id)
    assert run.status == "interrupted"
    assert "ended without reporting" in run.error and "MemoryError" in run.error


def test_delete_removes_rows_and_files(tmp_path):
    store = RunStore(tmp_path)
    config = TrainConfig(epochs=1)
    run_id = store.create_run(config.to_dict())
    execute(store, run_id, config)
    store.delete(run_id)
    assert store.get(run_id) is None and store.metrics(run_id) == {}
    assert not store.run_dir(run_id).exists()


def test_dashboard_launch_trains_in_its_own_process_and_stops_on_request(tmp_path):
    store = RunStore(tmp_path)
    run_id = launch(store, TrainConfig(model="cnn", epochs=200, threads=1, log_every=1).validate())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and store.get(run_id).progress.get("step", 0) < 3:
        time.sleep(0.1)
    run = store.get(run_id)
    assert run.status == "running" and run.pid != os.getpid()
    store.request_stop(run_id)
    while time.monotonic() < deadline and store.get(run_id).active:
        time.sleep(0.1)
    run = store.get(run_id)
    assert run.status == "stopped", store.log_tail(run_id)
    assert run.summary["steps"] < 200 * 29


def test_a_store_made_before_the_origin_column_is_upgraded(tmp_path):
    import sqlite3

    from core.store.run_store import SCHEMA

    db = sqlite3.connect(tmp_path / "digitlab.sqlite")
    db.executescript(SCHEMA.replace("    origin TEXT NOT NULL DEFAULT '',\n", ""))
    db.close()
    store = RunStore(tmp_path)
    run_id = store.create_run(TrainConfig().validate().to_dict(), origin="replay")
    assert store.get(run_id).origin == "replay"


def test_long_curves_come_back_bucketed_with_the_exact_last_point(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.create_run(TrainConfig().validate().to_dict())
    store.append_metrics(run_id, [("loss", step, step / 100, float(step)) for step in range(1, 10_001)])
    series = store.metrics(run_id, ("loss",), max_points=400)["loss"]
    assert 300 <= len(series["value"]) <= 400
    assert series["step"][-1] == 10_000 and series["value"][-1] == 10_000.0
    width = 10_000 // 399 + 1  # steps per bucket
    assert series["value"][0] == pytest.approx(sum(range(1, width + 1)) / width)
    assert series["step"] == sorted(series["step"])
    assert len(store.metrics(run_id, ("loss",))["loss"]["value"]) == 10_000  # no max_points: every row
